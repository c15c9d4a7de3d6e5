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
# No Docker engine runs in CI: scripts/check-image.sh lints this file with hadolint and
# repeats the install steps below (wheel, fresh venv, `feedbridge check`) without Docker.

# --- builder: the wheel, then a venv with it and its dependencies ---------------------------
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY feedbridge/ feedbridge/

# The wheel is built from this checkout (build deps from pyproject's [build-system]); its
# runtime dependencies resolve within pyproject.toml's ranges. hadolint's DL3013 (pin pip
# versions) accepts a wheel path, so no ignore pragma is needed.
RUN pip wheel --no-cache-dir --no-deps -w /dist . \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir /dist/feedbridge-*.whl

# --- builder-browser: the same venv with the `browser` extra (Playwright, pinned in ---------
# pyproject.toml). Playwright drives Debian's Chromium: `playwright install` is never run.
FROM builder AS builder-browser

RUN rm -rf /opt/venv \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir "$(ls /dist/feedbridge-*.whl)[browser]"

# --- runtime: the default image (the last stage below is this one) -------------------------
FROM python:3.11-slim-bookworm AS runtime

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

RUN groupadd --system --gid 10001 feedbridge \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin feedbridge \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY --from=builder /opt/venv /opt/venv
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

# --- cdp: runtime + Playwright, for a browser in another container ([browser] cdp_url) -----
FROM runtime AS cdp

COPY --from=builder-browser /opt/venv /opt/venv

# --- browser: cdp + Debian's Chromium, started by feedbridge (several hundred MB more) ----
FROM cdp AS browser

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
