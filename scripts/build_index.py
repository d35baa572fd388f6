#!/usr/bin/env python3
"""The offline build as a script: the same as ``recommender build`` (same flags).

    python scripts/build_index.py --catalog seeds/films.jsonl --out models/seeds
"""

import sys

from recommender.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["build", *sys.argv[1:]]))
