"""``python -m recommender.cli``: the command line."""

from recommender.cli.main import main

raise SystemExit(main())
