#!/bin/sh
# A base image made here from Debian's packages, for a machine with no image registry:
# debootstrap a minimal bookworm with Python 3.11, commit it with buildah as
# localhost/debian-python:bookworm. Then: make image IMAGE_BASE=localhost/debian-python:bookworm
# (elsewhere the image builds from python:3.11-slim and this is not needed).
set -eu
MIRROR=${MIRROR:-http://deb.debian.org/debian}
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOT" "$MIRROR"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
container=$(buildah from scratch)
mount=$(buildah mount "$container")
cp -a "$ROOT"/. "$mount"/
buildah umount "$container"
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --cmd /bin/sh "$container"
buildah commit --rm "$container" localhost/debian-python:bookworm
