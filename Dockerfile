# Calendo's container image: `docker build -t calendo .` at the repository root.
#
#   docker run calendo migrate               # the schema, once per deploy (a job of its own)
#   docker run calendo                       # serve --no-migrate on 0.0.0.0:8000, as uid 10001
#
# Configuration comes from CALENDO_* variables (README, "Settings"); CALENDO_ENV=production
# makes CALENDO_SECRET_KEY mandatory. The server never migrates on start: see
# docs/operations.md, "Rolling upgrades".

# The build stage: a virtualenv holding Calendo and its pinned dependencies, all from wheels.
FROM python:3.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    # Build-time requirements (setuptools) are pinned too: pip hands this to the build env.
    PIP_CONSTRAINT=/src/constraints.txt

WORKDIR /src
RUN python -m venv /opt/calendo
# The dependencies first, in a layer of their own: it is rebuilt only when the pins change.
COPY pyproject.toml constraints.txt README.md ./
RUN mkdir calendo && touch calendo/__init__.py \
    && /opt/calendo/bin/pip install --no-compile . \
    && /opt/calendo/bin/pip uninstall --yes calendo
COPY calendo ./calendo
RUN /opt/calendo/bin/pip install --no-deps . \
    && /opt/calendo/bin/python -m compileall -q /opt/calendo/lib

# The runtime stage: the interpreter, the virtualenv, an unprivileged user; no compiler, no pip
# cache, no source tree.
FROM python:3.11-slim-bookworm AS runtime

ENV PATH=/opt/calendo/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CALENDO_ENV=production \
    CALENDO_HOST=0.0.0.0 \
    CALENDO_PORT=8000 \
    CALENDO_LOG_JSON=true

RUN groupadd --system --gid 10001 calendo \
    && useradd --system --uid 10001 --gid calendo --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin calendo
COPY --from=build /opt/calendo /opt/calendo
WORKDIR /app
USER 10001:10001

EXPOSE 8000
# /health checks PostgreSQL and Redis as well: "unhealthy" means "take out of rotation".
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["calendo", "healthcheck"]
# uvicorn on SIGTERM: stop listening, close live feeds with 1001, finish in-flight requests
# (CALENDO_GRACEFUL_TIMEOUT_SECONDS, 20 s): give the container longer than that to stop.
STOPSIGNAL SIGTERM
ENTRYPOINT ["calendo"]
CMD ["serve", "--no-migrate"]
