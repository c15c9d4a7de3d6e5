#!/usr/bin/env bash
# Builds each image target of the Dockerfile and runs it, as a user would, with no network:
#   default  healthy (the image's HEALTHCHECK) within 60 s; /, /healthz and the feed of its
#            built-in config answer 200; PID 1 is not root; /data is writable; `stop` ends it
#            with exit code 0 within 15 s and no traceback in its log.
#   browser  the same; Playwright's Node driver runs; a page whose items a script builds,
#            served inside the container network, becomes a feed (feedbridge starts the
#            image's Chromium).
#   cdp      the same through a second container, the `browser` image's cdp-browser (as in
#            docker-compose.browser.yml), which must also stop with exit code 0, /data untouched.
# Containers run with no network (`--network none`); the page server, feedbridge and the
# browser container share one network namespace (`--network container:NAME`), so every request
# stays on its loopback.
#
# With a running Docker engine it uses docker. Otherwise, as root on Debian, without a
# registry: buildah builds (chroot isolation, vfs storage, Docker format: OCI would drop the
# HEALTHCHECK), podman runs (runc), and the Dockerfile's base image is a stand-in bootstrapped
# from Debian bookworm with mmdebstrap and tagged with the Dockerfile's FROM name (stand_in
# below says what it holds). Storage and temporary files live in a work folder removed on
# exit; only the downloaded .deb files are kept, in the cache folder, for the next run.
#
# Usage: scripts/test-images.sh [TARGET...]     targets: default browser cdp (default: all)
# Env:   FEEDBRIDGE_IMAGE_TARGETS  targets when none are given ("default browser cdp")
#        FEEDBRIDGE_IMAGE_ENGINE   docker | podman (default: docker when `docker info` works)
#        FEEDBRIDGE_IMAGE_CACHE    cache folder (default ~/.cache/feedbridge-images)
#        FEEDBRIDGE_IMAGE_WORK     where the work folder is made (default: $TMPDIR or /var/tmp)
set -Eeuo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-images: FAILED: $*" >&2; exit 1; }
trap 'echo "test-images: FAILED: line $LINENO: $BASH_COMMAND" >&2' ERR
step() { echo "test-images: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

read -r -a TARGETS <<<"${*:-${FEEDBRIDGE_IMAGE_TARGETS:-default browser cdp}}"
for t in "${TARGETS[@]}"; do
    [[ $t =~ ^(default|browser|cdp)$ ]] || fail "unknown target '$t' (default, browser, cdp)"
done
CACHE=${FEEDBRIDGE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/feedbridge-images}
# The base image: the one FROM that names no earlier stage.
BASE=$(awk 'toupper($1) == "FROM" && $2 ~ /:/ { print $2 }' Dockerfile | sort -u)
[[ $BASE =~ ^[a-z0-9._-]+:[A-Za-z0-9._-]+$ ]] ||
    fail "Dockerfile: expected one base image like python:3.11-slim-bookworm, got '$BASE'"
BASE_REF=docker.io/library/$BASE

ENGINE=${FEEDBRIDGE_IMAGE_ENGINE:-}
if [[ -z $ENGINE ]]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker; else ENGINE=podman; fi
fi
if [[ $ENGINE == podman ]]; then
    missing=()
    for tool in buildah podman mmdebstrap runc; do command -v $tool >/dev/null || missing+=("$tool"); done
    [[ ${#missing[@]} -eq 0 ]] ||
        fail "no Docker engine, and ${missing[*]} missing: apt-get install buildah podman mmdebstrap runc"
    [[ $(id -u) -eq 0 ]] || fail "buildah and podman run here as root (vfs storage, chroot isolation)"
fi

WORK=$(mktemp -d "${FEEDBRIDGE_IMAGE_WORK:-${TMPDIR:-/var/tmp}}/feedbridge-images.XXXXXX")
CONTAINERS=()
cleanup() {
    local c
    for c in "${CONTAINERS[@]}"; do ctr rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
    # podman's per-container shm and netns mounts live under the work folder
    findmnt -rn -o TARGET | grep -F "$WORK/" | sort -r | xargs -r umount -l 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/tmp" "$CACHE/apt"
export TMPDIR=$WORK/tmp

# --- the engine: docker, or buildah + podman on storage in the work folder -----------------
STORE=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
if [[ $ENGINE == podman ]]; then
    # No registry is ever asked: the base is built here and builds use --pull=never.
    printf 'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n' \
        >"$WORK/registries.conf"
    export CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf
    # No ulimits in the containers' spec, so they inherit the host's: runc 1.1 sets them on
    # the container's first process from outside (prlimit), which some kernels' sandboxes
    # refuse ("error setting rlimit type 7: operation not permitted").
    printf '[containers]\ndefault_ulimits = []\n' >"$WORK/containers.conf"
    export CONTAINERS_CONF=$WORK/containers.conf
fi
ctr() {
    if [[ $ENGINE == docker ]]; then docker "$@"; return; fi
    podman "${STORE[@]}" --runtime runc --cgroup-manager cgroupfs --events-backend file \
        --tmpdir "$WORK/libpod" --network-config-dir "$WORK/cni" "$@"
}

# Each line with the seconds since the build began: where a slow build spends its time.
stamped() {
    local t0=$SECONDS line
    while IFS= read -r line; do printf '%4d %s\n' $((SECONDS - t0)) "$line"; done
}

# build TARGET STAGE TAG: one `docker build --target STAGE`, logged to build-TARGET.log.
build() {
    if [[ $ENGINE == docker ]]; then
        docker build ${2:+--target "$2"} -t "$3" . 2>&1 | stamped >"$WORK/build-$1.log"
        return
    fi
    # Where the machine intercepts TLS, pip in the build needs the host's CA bundle: it is
    # mounted for the build only, with a pip.conf pointing at it; neither stays in the image.
    local ca=() bundle=/etc/ssl/certs/ca-certificates.crt
    if [[ -f $bundle ]]; then
        printf '[global]\ncert = %s\n' "$bundle" >"$WORK/pip.conf"
        ca=(-v "$bundle:$bundle:ro" -v "$WORK/pip.conf:/etc/pip.conf:ro")
    fi
    # No --layers: on vfs every cached layer is a full copy of the tree, which made a build
    # several times slower. The stand-in keeps the .deb files apt downloads (the official
    # image deletes them): they go to the cache folder, mounted for the build only.
    buildah "${STORE[@]}" build --isolation chroot --format docker --pull=never "${ca[@]}" \
        -v "$CACHE/apt:/var/cache/apt/archives" ${2:+--target "$2"} -t "$3" . 2>&1 |
        stamped >"$WORK/build-$1.log"
}

# --- the base image ---------------------------------------------------------------------------
# The stand-in for python:3.11-slim-bookworm: Debian bookworm's minbase with what the official
# image adds (ca-certificates, netbase, tzdata) and Debian's Python 3.11 (python3, the venv
# module with its bundled pip wheel), slimmed as debian:bookworm-slim is (no docs, man pages,
# locales). The official image has its own Python in /usr/local; the stand-in gives the same
# commands there: python, python3, python3.11 link to Debian's /usr/bin/python3.11, and pip,
# pip3, pip3.11 are pip installed from Debian's wheel into /usr/local (Debian's Python maps
# --prefix /usr there), without Debian's
# EXTERNALLY-MANAGED marker (the official image has none). Like the official image it lacks
# libatomic1, which Playwright's Node needs. The .deb files are kept in $CACHE/apt.
stand_in() {
    local mirror=http://deb.debian.org/debian
    mmdebstrap --mode=root --variant=minbase --format=tar \
        --include=ca-certificates,netbase,tzdata,python3,python3-venv \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
        --setup-hook="sync-in '$CACHE/apt' /var/cache/apt/archives" \
        --customize-hook="sync-out /var/cache/apt/archives '$CACHE/apt'" \
        --customize-hook='rm -f "$1"/usr/lib/python3.11/EXTERNALLY-MANAGED' \
        --customize-hook='chroot "$1" sh -c "whl=\$(ls /usr/share/python-wheels/pip-*.whl) && python3 \$whl/pip install --quiet --no-index --no-cache-dir --prefix /usr \$whl"' \
        --customize-hook='for n in python python3 python3.11; do ln -sf /usr/bin/python3.11 "$1/usr/local/bin/$n"; done' \
        --customize-hook='chroot "$1" sh -c "python3 --version && pip --version && test ! -e /usr/lib/x86_64-linux-gnu/libatomic.so.1"' \
        bookworm "$WORK/base.tar" "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" >"$WORK/base.log" 2>&1 ||
        { tail -30 "$WORK/base.log" >&2; fail "mmdebstrap could not bootstrap the stand-in for $BASE"; }
    local version
    version=$(tar -xOf "$WORK/base.tar" ./var/lib/dpkg/status | awk '
        /^Package: python3.11-minimal$/ { p = 1 } p && /^Version:/ { sub(/-.*/, "", $2); print $2; p = 0 }')
    ctr import -q --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change "ENV PYTHON_VERSION=$version" \
        --change 'CMD ["python3"]' "$WORK/base.tar" "$BASE_REF" >/dev/null ||
        fail "cannot import the stand-in base image as $BASE_REF"
    rm -f "$WORK/base.tar"
}

base_image() {
    if ctr image inspect "$BASE_REF" >/dev/null 2>&1; then
        step "base image $BASE: present"
    elif [[ $ENGINE == docker ]] && docker pull -q "$BASE_REF" >/dev/null 2>&1; then
        step "base image $BASE: pulled"
    else
        local t0; t0=$(now)
        stand_in
        step "base image $BASE: stand-in bootstrapped from Debian bookworm ($(since "$t0") s)"
    fi
}

# --- running containers -----------------------------------------------------------------------
# start NAME RUN-ARGS...: a detached container, removed on exit. Podman has no systemd here to
# time the image's HEALTHCHECK: healthy() runs it on demand (`podman healthcheck run`).
start() {
    local name=$1; shift
    local health=()
    [[ $ENGINE == podman ]] && health=(--health-interval=disable)
    CONTAINERS=("$name" "${CONTAINERS[@]}")
    # podman reports on stderr that it has no systemd for health timers: shown on failure only
    ctr run -d --pull=never --name "$name" "${health[@]}" "$@" >/dev/null 2>"$WORK/start-$name.log" ||
        { cat "$WORK/start-$name.log" >&2; fail "$name: cannot start (above)"; }
}

# logs_of NAME: the first error lines of its log, then its last 40 lines.
logs_of() {
    local log
    log=$(ctr logs "$1" 2>&1 || true)
    {
        grep -m 5 -E 'ERROR|[Ee]rror while|[Ee]rror:' <<<"$log" || true
        echo "..."
        tail -40 <<<"$log"
    } | sed "s/^/  $1| /" >&2
}
broken() { logs_of "$1"; fail "$1: $2"; }

# healthy NAME: the image's HEALTHCHECK passes within 60 s.
healthy() {
    local deadline=$((SECONDS + 60)) out='' status
    while ((SECONDS < deadline)); do
        [[ $(ctr inspect -f '{{.State.Running}}' "$1") == true ]] || broken "$1" "exited before it was healthy"
        if [[ $ENGINE == podman ]]; then
            out=$(ctr healthcheck run "$1" 2>&1) && return 0
        else
            status=$(ctr inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")
            [[ $status == healthy ]] && return 0
            [[ -n $status ]] || broken "$1" "the image has no HEALTHCHECK"
        fi
        sleep 1
    done
    broken "$1" "not healthy within 60 s${out:+: $out}"
}

# GET NAME URL...: each URL, from inside the container, answers 200.
GET() {
    local name=$1; shift
    ctr exec "$name" python -c '
import sys, urllib.request
for url in sys.argv[1:]:
    with urllib.request.urlopen(url, timeout=20) as reply:
        size = len(reply.read())
        print(f"  {url}: {reply.status}, {size} bytes")
        if reply.status != 200:
            sys.exit(f"{url} answered {reply.status}")
' "$@" || broken "$name" "a request failed (above)"
}

# app_checks NAME FEED: healthy, /, /healthz and /feeds/FEED.atom answer 200, PID 1 is not
# root, /data is writable by the image's user.
app_checks() {
    local name=$1 base=http://127.0.0.1:8080 uid
    healthy "$name"
    GET "$name" "$base/" "$base/healthz" "$base/feeds/$2.atom"
    uid=$(ctr exec "$name" cat /proc/1/status | awk '$1 == "Uid:" { print $2 }')
    [[ -n $uid && $uid != 0 ]] || broken "$name" "PID 1 runs as uid '$uid', not as a user"
    ctr exec "$name" sh -c 'echo probe > /data/.write-probe && rm /data/.write-probe' ||
        broken "$name" "/data is not writable by uid $uid"
    echo "  uid $uid; /data writable"
}

# stops NAME: `stop` (SIGTERM, then SIGKILL after 15 s) ends it with exit code 0 within 15 s,
# and its log holds no traceback.
stops() {
    local t0 took code
    t0=$(now)
    ctr stop -t 15 "$1" >/dev/null 2>"$WORK/stop-$1.log" ||
        { cat "$WORK/stop-$1.log" >&2; broken "$1" "stop failed"; }
    took=$(since "$t0")
    code=$(ctr inspect -f '{{.State.ExitCode}}' "$1")
    echo "  $1 stopped in $took s, exit code $code"
    [[ $code == 0 ]] || broken "$1" "exit code $code on stop (SIGTERM)"
    awk -v t="$took" 'BEGIN { exit !(t < 15) }' || broken "$1" "stop took $took s (limit 15 s)"
    if ctr logs "$1" 2>&1 | grep -q Traceback; then broken "$1" "traceback in the log"; fi
}

# --- a page that only a browser can read --------------------------------------------------------
# Its three items exist only after its script ran: "Item 1", "Item 4", "Item 9" are nowhere in
# the HTML. Served by Python's http.server in a container of the image under test.
PAGE_TITLES="Item 1|Item 4|Item 9"
site() {
    mkdir -p "$WORK/site"
    cat >"$WORK/site/board.html" <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8"><title>Board</title></head>
<body><ul id="board"></ul>
<script>
  for (let n = 1; n <= 3; n++) {
    const li = document.createElement("li"), a = document.createElement("a");
    li.className = "job";
    a.href = "/items/" + n * n;
    a.textContent = "Item " + n * n;
    li.appendChild(a);
    document.getElementById("board").appendChild(li);
  }
</script></body></html>
HTML
    chmod -R a+rX "$WORK/site"
}

# browser_config FILE [CDP_URL]: the page above as a source with fetch = "browser".
browser_config() {
    local cdp=
    [[ -z ${2:-} ]] || cdp="cdp_url = \"$2\""
    cat >"$1" <<EOF_CONFIG
[storage]
path = "/data"
[server]
host = "0.0.0.0"
port = 8080
[browser]
max_pages = 1
$cdp
[[sources]]
name = "js-board"
kind = "html"
url = "http://127.0.0.1:8000/board.html"
item = "li.job"
title = "a"
link = "a@href"
fetch = "browser"
interval = "10m"
jitter = 0
EOF_CONFIG
    chmod a+r "$1"
}

# serve NAME IMAGE RUN-ARGS...: the site on 127.0.0.1:8000 of the container's network.
serve() {
    local name=$1 image=$2; shift 2
    start "$name" "$@" -v "$WORK/site:/site:ro" --entrypoint python "$image" \
        -m http.server --bind 127.0.0.1 --directory /site 8000
}

# playwright_runs NAME: Playwright's bundled Node starts in the image (it needs libatomic1).
playwright_runs() {
    local out
    out=$(ctr exec "$1" python -m playwright --version 2>&1) ||
        broken "$1" "Playwright's driver does not run in the image: $out"
    echo "  $out (its Node driver runs)"
}

# page_feed NAME: within 90 s the feed of js-board holds the items the page's script built.
page_feed() {
    local deadline=$((SECONDS + 90)) titles=
    while ((SECONDS < deadline)); do
        titles=$(ctr exec "$1" python -c '
import feedparser
feed = feedparser.parse("http://127.0.0.1:8080/feeds/js-board.atom")
print("|".join(sorted(entry.title for entry in feed.entries)))') || broken "$1" "cannot read its feed"
        if [[ $titles == "$PAGE_TITLES" ]]; then
            echo "  the page's script-built items are in the feed: ${titles//|/, }"
            return 0
        fi
        sleep 2
    done
    broken "$1" "the feed of the browser-built page holds '${titles}', not '$PAGE_TITLES' after 90 s"
}

# --- the targets --------------------------------------------------------------------------------
smoke_default() {
    start fb-default --network none feedbridge:latest
    app_checks fb-default hf-daily
    stops fb-default
}

smoke_browser() {
    browser_config "$WORK/browser.toml"
    serve pages-browser feedbridge:browser --network none
    start fb-browser --network container:pages-browser \
        -v "$WORK/browser.toml:/config/config.toml:ro" feedbridge:browser
    app_checks fb-browser js-board
    playwright_runs fb-browser
    page_feed fb-browser
    stops fb-browser
}

# As docker-compose.browser.yml: Chromium in the browser image's cdp-browser, feedbridge from
# the cdp image connecting to it; here both share the browser container's network namespace.
smoke_cdp() {
    browser_config "$WORK/cdp.toml" http://127.0.0.1:9222
    start cdp-browser --network none --shm-size 256m --entrypoint /usr/local/bin/cdp-browser \
        feedbridge:browser
    local deadline=$((SECONDS + 60))
    until ctr exec cdp-browser python -c 'import urllib.request
urllib.request.urlopen("http://127.0.0.1:9222/json/version", timeout=5)' 2>/dev/null; do
        ((SECONDS < deadline)) || broken cdp-browser "no DevTools endpoint on :9222 within 60 s"
        sleep 1
    done
    serve pages-cdp feedbridge:cdp --network container:cdp-browser
    start fb-cdp --network container:cdp-browser -v "$WORK/cdp.toml:/config/config.toml:ro" \
        feedbridge:cdp
    app_checks fb-cdp js-board
    playwright_runs fb-cdp
    page_feed fb-cdp
    local written
    written=$(ctr exec cdp-browser find /data -mindepth 1 -maxdepth 3)
    [[ -z $written ]] || broken cdp-browser "Chromium wrote into the /data volume: $written"
    stops fb-cdp
    stops cdp-browser
}

declare -A STAGE=([default]="" [cdp]=cdp [browser]=browser)
declare -A TAG=([default]=feedbridge:latest [cdp]=feedbridge:cdp [browser]=feedbridge:browser)

main() {
    step "engine: $ENGINE; work folder $WORK; cache $CACHE"
    local t0 target wanted=" ${TARGETS[*]} " builds=() size
    declare -A BUILT SIZE RAN
    t0=$(now)
    base_image
    BASE_S=$(since "$t0")
    site
    # The cdp test runs the browser image's cdp-browser beside it.
    for target in default browser cdp; do
        [[ $wanted == *" $target "* || ($target == browser && $wanted == *" cdp "*) ]] &&
            builds+=("$target")
    done
    for target in "${builds[@]}"; do
        step "building $target (${TAG[$target]})"
        t0=$(now)
        build "$target" "${STAGE[$target]}" "${TAG[$target]}" ||
            { tail -40 "$WORK/build-$target.log" >&2; fail "building $target (above)"; }
        BUILT[$target]=$(since "$t0")
        size=$(ctr image inspect -f '{{.Size}}' "${TAG[$target]}")
        SIZE[$target]=$((size / 1000000))
        step "built $target in ${BUILT[$target]} s: ${SIZE[$target]} MB"
    done
    for target in default browser cdp; do
        [[ $wanted == *" $target "* ]] || continue
        step "running $target"
        t0=$(now)
        "smoke_$target"
        RAN[$target]=$(since "$t0")
    done
    step "all passed (base image: $BASE_S s)"
    printf '%-8s %9s %8s %9s\n' target "build s" "size MB" "run s"
    for target in "${builds[@]}"; do
        printf '%-8s %9s %8s %9s\n' "$target" "${BUILT[$target]}" "${SIZE[$target]}" "${RAN[$target]:--}"
    done
}

main; exit  # one line: bash has read all of it before it runs (safe to edit meanwhile)
