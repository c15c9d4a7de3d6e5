#!/bin/sh
# The browser container of docker-compose.browser.yml: headless Chromium with its DevTools
# (CDP) port on 127.0.0.1:9223, published to the compose network on :9222 by socat.
# feedbridge connects with [browser] cdp_url = "http://browser:9222".
set -eu
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --disable-extensions --no-first-run --disable-quic --mute-audio \
    --remote-debugging-address=127.0.0.1 --remote-debugging-port=9223 \
    --user-data-dir="$profile" about:blank &
browser=$!
trap 'kill "$browser" 2>/dev/null; exit 0' TERM INT
socat TCP-LISTEN:9222,fork,reuseaddr TCP:127.0.0.1:9223 &
wait "$browser"
