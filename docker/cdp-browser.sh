#!/bin/sh
# The browser container of docker-compose.browser.yml: headless Chromium with its DevTools
# (CDP) port on 127.0.0.1:9223, published on all interfaces as :9222 by socat (Chromium
# listens on loopback only). feedbridge connects with [browser] cdp_url =
# "http://browser:9222". CDP_PORT and CDP_INNER_PORT override the two ports.
set -eu
port=${CDP_PORT:-9222}
inner=${CDP_INNER_PORT:-9223}
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --disable-extensions --no-first-run --disable-quic --mute-audio \
    --remote-debugging-address=127.0.0.1 --remote-debugging-port="$inner" \
    --user-data-dir="$profile" about:blank &
browser=$!
socat TCP-LISTEN:"$port",fork,reuseaddr TCP:127.0.0.1:"$inner" &
relay=$!
trap 'kill "$browser" "$relay" 2>/dev/null; rm -rf "$profile"; exit 0' TERM INT
wait "$browser"
