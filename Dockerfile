# feedbridge image: `docker compose up -d` (see docker-compose.yml), or
#   docker build -t feedbridge .
#   docker run -d -p 8080:8080 -v feedbridge-data:/data \
#     -v "$PWD/config.toml:/config/config.toml:ro" --env-file .env feedbridge
# With no config mounted it runs docker/config.toml (HF daily papers, data in /data).
# Pages built by JavaScript (html sources with fetch = "browser"):
#   docker build --target browser -t feedbridge:browser .   # + Debian's Chromium and Playwright
#   docker build --target cdp -t feedbridge:cdp .           # + Playwright only, for a separate
#                                                           #   browser container (see
#                                                           #   docker-compose.browser.yml)
# CI builds all three targets and runs each (scripts/test-images.sh: buildah and podman where
# no Docker engine runs) and lints this file (scripts/check-image.sh).

# --- builder: the wheel, then a venv with it and its dependencies ---------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY feedbridge/ feedbridge/

# The wheel is built from this checkout (build deps from pyproject's [build-system]); its
# runtime dependencies resolve within pyproject.toml's ranges. hadolint's DL3013 (pin pip
# versions) accepts a wheel path, so no ignore pragma is needed.
# The `postgres` extra (psycopg) lets the same image run on a shared PostgreSQL
# (docker-compose.postgres.yml); the embedded store needs nothing more.
RUN pip wheel --no-cache-dir --no-deps -w /dist . \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --find-links /dist "feedbridge[postgres]==0.1.0"

# --- builder-browser: a venv of its own with the `browser` extra too (Playwright, pinned in --
# pyproject.toml). Playwright drives Debian's Chromium: `playwright install` is never run.
FROM builder AS builder-browser

RUN rm -rf /opt/venv \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "$(ls /dist/feedbridge-*.whl)[postgres,browser]"

# --- base: what every image shares, all but the venv ---------------------------------------
# Each target below copies exactly one venv onto it: a venv COPYed over another would merge
# with it and keep the first one's files in a dead layer.
FROM python:3.11-slim-bookworm AS base

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="feedbridge" \
      org.opencontainers.image.description="Self-hosted feed bridge and notifier: Hugging Face Daily Papers and any page to Atom feeds and Apprise notifications" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/feedbridge/feedbridge"

# /config/config.toml is the image's default config (docker/config.toml); mount yours over
# it. FEEDBRIDGE_CONFIG therefore always names a file that exists.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FEEDBRIDGE_CONFIG=/config/config.toml

# A regular (not --system) account: uid 10001 lies outside the system range, where
# useradd would warn. --no-log-init: no lastlog entry sized by the uid (hadolint DL3046).
RUN groupadd --gid 10001 feedbridge \
    && useradd --no-log-init --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin feedbridge \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY docker/config.toml /config/config.toml

WORKDIR /data
USER 10001:10001
VOLUME /data
EXPOSE 8080

# `feedbridge healthcheck` reads the config (FEEDBRIDGE_CONFIG) and requests /healthz on
# server.port: 200 while the worker loop is alive and the store writable, else exit 1.
# With server.enabled = false it says so and passes (there is no HTTP to probe). The timeout
# leaves room for starting Python with feedbridge's imports (~0.6 s CPU) on a busy host.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["feedbridge", "healthcheck"]

ENTRYPOINT ["feedbridge"]
CMD ["run"]

# --- runtime: the default image (the last stage below is this one) -------------------------
FROM base AS runtime

COPY --from=builder /opt/venv /opt/venv

# --- cdp: Playwright, for a browser in another container ([browser] cdp_url) --------------
# Playwright's bundled Node needs libatomic.so.1, which the slim base lacks.
FROM base AS cdp

ARG DEBIAN_FRONTEND=noninteractive
USER 0
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libatomic1 \
    && rm -rf /var/lib/apt/lists/*
USER 10001:10001
COPY --from=builder-browser /opt/venv /opt/venv

# --- browser: cdp + Debian's Chromium, started by feedbridge (several hundred MB more) ----
FROM cdp AS browser

ARG DEBIAN_FRONTEND=noninteractive
USER 0
# Debian's chromium follows the distribution's security updates: pinning its version would
# pin a vulnerable browser within weeks. socat exposes the DevTools port when this image
# runs as the browser container of docker-compose.browser.yml (Chromium listens on
# 127.0.0.1 only).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-liberation socat \
    && rm -rf /var/lib/apt/lists/*
COPY docker/cdp-browser.sh /usr/local/bin/cdp-browser
USER 10001:10001

# --- the default target: `docker build .` builds the runtime image --------------------------
FROM runtime
