#!/bin/sh
# The image's entry point: `serve` (the default) first builds the seed catalog's index on
# the volume where no index is there yet (a catalog of your own is built by a one-off
# `build` job into the same place, and is never overwritten here); any other command is
# recommender's own (`build ...`, `train ...`, `events import ...`).
set -e
if [ "${1:-serve}" = "serve" ] && [ ! -e "$RECOMMENDER_INDEX/current" ]; then
  recommender build --catalog /opt/recommender/seeds/films.jsonl --out "$RECOMMENDER_INDEX" --quiet
fi
exec recommender "$@"
