#!/bin/sh
# The browser container of docker-compose.browser.yml: headless Chromium with its DevTools
# (CDP) port on 127.0.0.1:9223, published on all interfaces as :9222 by socat (Chromium
# listens on loopback only). feedbridge connects with [browser] cdp_url =
# "http://browser:9222". CDP_PORT and CDP_INNER_PORT override the two ports.
# Everything Chromium writes (profile, ~/.config, ~/.cache, ~/.pki, its temporary files) stays
# in one temporary directory, removed on exit: HOME is /data in this image, an (anonymous)
# volume in this container.
set -eu
port=${CDP_PORT:-9222}
inner=${CDP_INNER_PORT:-9223}
profile=$(mktemp -d)
export HOME="$profile" XDG_CONFIG_HOME="$profile/.config" XDG_CACHE_HOME="$profile/.cache" \
    TMPDIR="$profile"
setsid chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --disable-extensions --disable-crash-reporter --no-first-run \
    --disable-quic --mute-audio \
    --remote-debugging-address=127.0.0.1 --remote-debugging-port="$inner" \
    --user-data-dir="$profile/chromium" about:blank &
browser=$!
socat TCP-LISTEN:"$port",fork,reuseaddr TCP:127.0.0.1:"$inner" &
relay=$!
# `docker stop`: end both, and wait until Chromium's whole process group (setsid above) is
# gone: its helpers (zygote, renderers) outlive the main process briefly and keep writing the
# profile. Then remove the profile. Exit 0: stopping on request is success.
stop() {
    kill "$browser" "$relay" 2>/dev/null || true
    n=0
    while kill -0 "-$browser" 2>/dev/null && [ "$n" -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "-$browser" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$profile" || true
    exit 0
}
trap stop TERM INT
status=0
wait "$browser" || status=$?
exit "$status"  # Chromium ended by itself: the container ends with its status
