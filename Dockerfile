# envmon image: the collecting daemon (`envmon run`) and every other envmon command.
# Build with `docker compose build` (tags envmon:<version>) or `docker build -t envmon:0.1.0 .`
#
# Base: an exact Python patch release on Debian 12 (bookworm), the Python minor version
# requirements.lock was made with. Upgrading it is a deliberate change (docs/deployment.md).

# --------------------------------------------------------------------------- build
FROM python:3.11.15-slim-bookworm AS build

WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

# --------------------------------------------------------------------------- runtime
FROM python:3.11.15-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    TZ=Asia/Shanghai \
    MPLCONFIGDIR=/tmp/matplotlib \
    ENVMON_CONFIG=/app/config/hunnan.toml \
    ENVMON_HEALTHCHECK_URL=http://127.0.0.1:8765/healthz

# Chinese fonts for the report charts (Noto CJK), time-zone data for local log times.
# Debian package versions are not pinned: bookworm's security updates replace them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk tzdata \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged user: the ledger volume belongs to it.
RUN groupadd --system --gid 10001 envmon \
    && useradd --system --uid 10001 --gid envmon --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin envmon

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them: the runtime
# dependencies of pyproject.toml at the exact versions of requirements.lock.
COPY pyproject.toml requirements.lock docker/requirements.py /tmp/deps/
RUN python /tmp/deps/requirements.py /tmp/deps/pyproject.toml > /tmp/deps/runtime.txt \
    && pip install -c /tmp/deps/requirements.lock -r /tmp/deps/runtime.txt \
    && rm -rf /tmp/deps

COPY --from=build /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/envmon-*.whl && rm -rf /tmp/wheels

COPY docker/entrypoint.sh /usr/local/bin/envmon-entrypoint
COPY config /app/config
# The ledger lives in /app/data ([ledger] path = "../data/envmon.sqlite" from /app/config):
# a named volume in docker-compose.yml, initialised with this folder's owner.
RUN mkdir -p /app/data && chown envmon:envmon /app/data

USER 10001:10001
EXPOSE 8765

# /healthz answers 200 while the daemon runs (JSON status "ok" or "degraded"); any other
# answer or none fails the check. Python's urllib: no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['ENVMON_HEALTHCHECK_URL'], timeout=4).read()"]

ENTRYPOINT ["/usr/local/bin/envmon-entrypoint"]
CMD ["run"]
