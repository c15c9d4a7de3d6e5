"""The Docker image's files, checked without a Docker engine: Dockerfile, the image's default
config, .dockerignore, docker-compose.yml, .env.example. scripts/check-image.sh does the slow
part (hadolint, wheel, fresh venv, smoke run); these tests are fast and offline."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from feedbridge.config import default_config, load_config
from tests.conftest import run_cli
from tests.test_run import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
IMAGE_CONFIG = ROOT / "docker" / "config.toml"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for line in text.splitlines():
        if not buf and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        if buf.strip():
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
        buf = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, rest in instructions(DOCKERFILE.read_text()):
        if word == "FROM":
            found.append([])
        found[-1].append((word, rest))
    return found


def stage(alias: str) -> list[tuple[str, str]]:
    """The stage `FROM ... AS alias`."""
    found = [st for st in stages() if st[0][1].endswith(f" AS {alias}")]
    assert len(found) == 1, f"expected one stage named {alias}"
    return found[0]


def one(stage: list[tuple[str, str]], word: str) -> str:
    values = [rest for w, rest in stage if w == word]
    assert len(values) == 1, f"expected one {word} in the stage, got {values}"
    return values[0]


def healthcheck_cmd() -> list[str]:
    rest = one(stage("base"), "HEALTHCHECK")
    cmd: list[str] = json.loads(rest.partition(" CMD ")[2])
    return cmd


def test_dockerfile_is_multi_stage_on_a_pinned_slim_python() -> None:
    froms = [st[0][1] for st in stages()]
    assert re.fullmatch(r"(python:3\.11[\w.-]*-slim-[a-z]+) AS builder", froms[0]), froms
    assert stage("base")[0][1] == froms[0].split()[0] + " AS base", "one base image for all"
    runtime = stage("runtime")
    assert runtime == [("FROM", "base AS runtime"), ("COPY", "--from=builder /opt/venv /opt/venv")]
    assert stages()[-1] == [("FROM", "runtime")], "`docker build .` must give the runtime image"


def venv_copies(alias: str) -> list[str]:
    """The /opt/venv COPYs in the image of stage `alias`: its own and its parents' stages."""
    copies: list[str] = []
    while True:
        st = stage(alias)
        copies += [rest for word, rest in st if word == "COPY" and rest.endswith(" /opt/venv")]
        parent = st[0][1].split()[0]
        if not [s for s in stages() if s[0][1].endswith(f" AS {parent}")]:
            return copies
        alias = parent


def test_each_image_target_ships_one_venv_and_no_dead_copy_below_it() -> None:
    """A venv COPYed onto another merges with it: the lower one's files stay in a layer."""
    assert venv_copies("runtime") == ["--from=builder /opt/venv /opt/venv"]
    assert venv_copies("cdp") == ["--from=builder-browser /opt/venv /opt/venv"]
    assert venv_copies("browser") == ["--from=builder-browser /opt/venv /opt/venv"]


def test_browser_targets_add_playwright_and_debian_chromium_and_stay_non_root() -> None:
    assert stage("builder-browser")[0][1] == "builder AS builder-browser"
    install = " ".join(rest for word, rest in stage("builder-browser") if word == "RUN")
    assert "rm -rf /opt/venv" in install, "a fresh venv, not the default one plus Playwright"
    assert '.whl)[postgres,browser]"' in install and "playwright install" not in install
    cdp = stage("cdp")
    assert cdp[0][1] == "base AS cdp"
    # Playwright's bundled Node needs libatomic.so.1, which the slim base lacks
    apt = " ".join(rest for word, rest in cdp if word == "RUN")
    assert "apt-get install -y --no-install-recommends libatomic1" in apt
    browser = stage("browser")
    assert browser[0][1] == "cdp AS browser"
    apt = " ".join(rest for word, rest in browser if word == "RUN")
    assert "apt-get install -y --no-install-recommends chromium" in apt
    for st in (cdp, browser):
        assert ("ARG", "DEBIAN_FRONTEND=noninteractive") in st
        assert "rm -rf /var/lib/apt/lists/*" in " ".join(rest for word, rest in st if word == "RUN")
        users = [rest for word, rest in st if word == "USER"]
        assert users[-1] == "10001:10001"
    script = ROOT / "docker" / "cdp-browser.sh"
    subprocess.run(["sh", "-n", str(script)], check=True, timeout=30)
    assert script.stat().st_mode & 0o111


def test_browser_compose_keeps_cdp_on_its_network_with_a_memory_limit() -> None:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((ROOT / "docker-compose.browser.yml").read_text())
    app, browser = doc["services"]["feedbridge"], doc["services"]["browser"]
    assert app["build"] == {"context": ".", "target": "cdp"}
    assert browser["build"] == {"context": ".", "target": "browser"}
    assert "ports" not in browser and browser["expose"] == ["9222"]
    assert browser["mem_limit"] and browser["entrypoint"] == ["/usr/local/bin/cdp-browser"]
    assert "feedbridge-data:/data" in app["volumes"]


def test_dockerfile_runs_as_a_non_root_user_owning_data() -> None:
    base = stage("base")
    user = one(base, "USER").split(":")[0]
    assert user not in ("root", "0")
    assert user == "10001"
    setup = " ".join(rest for word, rest in base if word == "RUN")
    assert "--uid 10001" in setup
    # uid 10001 is outside the system range: --system would make useradd warn
    assert "--system" not in setup and "--no-log-init" in setup
    assert re.search(r"chown (10001(:10001)?|feedbridge(:feedbridge)?) /data", setup)
    # a VOLUME's content is fixed when declared: /data must be owned before it
    words = [word for word, _ in base]
    assert words.index("RUN") < words.index("VOLUME")


def test_dockerfile_exposes_8080_with_a_data_volume_and_the_cli_entrypoint() -> None:
    base = stage("base")
    assert one(base, "EXPOSE") == "8080"
    assert one(base, "VOLUME") in ("/data", '["/data"]')
    assert json.loads(one(base, "ENTRYPOINT")) == ["feedbridge"]
    assert json.loads(one(base, "CMD")) == ["run"]
    labels = " ".join(rest for word, rest in base if word == "LABEL")
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_dockerfile_config_env_names_a_file_the_image_ships() -> None:
    """FEEDBRIDGE_CONFIG naming a missing file is a config error: the app would not start."""
    base = stage("base")
    env = " ".join(rest for word, rest in base if word == "ENV")
    assert "FEEDBRIDGE_CONFIG=/config/config.toml" in shlex.split(env)
    assert "COPY docker/config.toml /config/config.toml" in [
        f"COPY {rest}" for word, rest in base if word == "COPY"
    ]


def test_healthcheck_probes_healthz_on_the_configured_port_and_fails_on_503(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    assert healthcheck_cmd() == ["feedbridge", "healthcheck"]
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\nhost = "0.0.0.0"\nport = {httpserver.port}\n')

    def probe() -> subprocess.CompletedProcess[str]:
        return run_cli("--config", str(config), "healthcheck", cwd=tmp_path)

    httpserver.expect_oneshot_request("/healthz").respond_with_data("ok\n")
    result = probe()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"ok: http://127.0.0.1:{httpserver.port}/healthz\n"
    httpserver.expect_oneshot_request("/healthz").respond_with_data("unhealthy\n", status=503)
    result = probe()
    assert result.returncode == 1
    assert result.stderr == f"unhealthy: http://127.0.0.1:{httpserver.port}/healthz answered 503\n"
    config.write_text(f"[server]\nport = {free_port()}\n")  # nothing listens there
    result = probe()
    assert result.returncode == 1 and "unhealthy: " in result.stderr


def test_healthcheck_with_the_server_off_says_there_is_nothing_to_probe(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[server]\nenabled = false\n")
    result = run_cli("--config", str(config), "healthcheck", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == (
        "server.enabled = false: no /healthz to probe; healthy while the process runs\n"
    )


def test_image_config_loads_with_data_volume_and_all_interfaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FEEDBRIDGE_BASE_URL", raising=False)
    monkeypatch.delenv("FEEDBRIDGE_TOKEN", raising=False)
    config = load_config(IMAGE_CONFIG)
    assert config.storage.path == Path("/data")
    assert config.server.host == "0.0.0.0"
    assert config.server.port == 8080
    assert config.server.enabled
    assert config.server.token is None
    assert config.server.base_url == "http://localhost:8080"  # derived: 0.0.0.0 and port 8080
    assert config.server.base_url_derived
    # the image's default watches what feedbridge watches with no config at all
    assert [s.name for s in config.sources] == [s.name for s in default_config().sources]
    assert config.targets == []


def test_image_config_takes_base_url_and_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FEEDBRIDGE_BASE_URL", "https://feeds.example.com/")
    monkeypatch.setenv("FEEDBRIDGE_TOKEN", "s3cret")
    config = load_config(IMAGE_CONFIG)
    assert config.server.base_url == "https://feeds.example.com"
    assert config.server.token is not None
    assert config.server.token.get_secret_value() == "s3cret"


def test_staged_image_holds_the_build_files_and_the_default_config(tmp_path: Path) -> None:
    """check-image.sh --stage lays out what the Dockerfile's COPY lines put in the image."""
    subprocess.run(["bash", str(ROOT / "scripts" / "check-image.sh"), "--stage", str(tmp_path)],
                   check=True, capture_output=True, timeout=60)
    image = json.loads((tmp_path / ".image.json").read_text())
    assert image["user"] == "10001:10001"
    config = tmp_path / image["env"]["FEEDBRIDGE_CONFIG"].lstrip("/")
    assert config.read_bytes() == IMAGE_CONFIG.read_bytes()
    src = tmp_path / image["build_dir"].lstrip("/")
    needed_files = (
        "pyproject.toml", "README.md", "feedbridge/__init__.py", "feedbridge/app/cli.py"
    )
    for needed in needed_files:
        assert (src / needed).is_file(), needed
    staged = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert not [p for p in staged if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in staged if p.split("/")[1:2] in (["tests"], [".venv"], ["data"])]


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_context() -> None:
    rules = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    def excluded(name: str) -> bool:  # top-level names only; the last matching rule wins
        result = False
        for rule in rules:
            pattern = rule.removeprefix("!").strip("/")
            if fnmatch.fnmatchcase(name, pattern):
                result = not rule.startswith("!")
        return result

    for name in (".git", ".venv", ".venv-tools", ".env", "config.toml", "data", "tests",
                 "bench", ".pytest_cache", ".mypy_cache", "build", "dist", "public"):
        assert excluded(name), name
    for name in ("pyproject.toml", "README.md", "feedbridge"):
        assert not excluded(name), name


def compose() -> dict[str, object]:
    yaml = pytest.importorskip("yaml")
    doc: dict[str, object] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return doc


def test_compose_service_builds_here_with_port_volume_config_and_env_file() -> None:
    doc = compose()
    svc = doc["services"]["feedbridge"]  # type: ignore[index]
    assert svc["build"] == "."
    assert svc["restart"] == "unless-stopped"
    assert "8080:8080" in svc["ports"]
    assert svc["env_file"] == ".env"
    assert "feedbridge-data:/data" in svc["volumes"]
    assert "feedbridge-data" in doc["volumes"]  # type: ignore[operator]
    config_mounts = [v for v in svc["volumes"] if isinstance(v, dict)]
    assert config_mounts == [{"type": "bind", "source": "./config.toml",
                              "target": "/config/config.toml", "read_only": True}]
    assert "healthcheck" not in svc  # the image's HEALTHCHECK applies


def strings(value: object) -> list[str]:
    """Every string in a parsed TOML tree (comments are not in it)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    return [s for item in value for s in strings(item)] if isinstance(value, list) else []


def test_env_example_names_every_variable_the_configs_use_with_fake_values_commented() -> None:
    env_example = (ROOT / ".env.example").read_text()
    assignments = re.findall(r"^(#\s*)?([A-Z][A-Z0-9_]*)=", env_example, re.MULTILINE)
    assert assignments
    assert all(comment for comment, _ in assignments), "keep every example commented out"
    named = {name for _, name in assignments}
    configs = [IMAGE_CONFIG, ROOT / "config.example.toml"]
    used = {
        name for path in configs if path.exists()
        for text in strings(tomllib.loads(path.read_text()))
        for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)
    }
    assert used <= named, f"not in .env.example: {sorted(used - named)}"
    for name in ("SLACK_URL", "DISCORD_URL", "SMTP_PASSWORD", "FEEDBRIDGE_TOKEN"):
        assert name in named


@pytest.mark.parametrize("name", ["check-image.sh", "test-images.sh"])
def test_image_scripts_are_executable_valid_bash(name: str) -> None:
    script = ROOT / "scripts" / name
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    assert script.stat().st_mode & 0o111, f"scripts/{name} must be executable"


def test_ci_builds_and_runs_the_default_and_browser_images() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'make image-test TARGETS="${FEEDBRIDGE_IMAGE_TARGETS:-default browser}"' in ci
    for tool in ("buildah", "podman", "mmdebstrap", "runc"):
        assert tool in ci, f".ci/run must install {tool} where no Docker engine runs"


def test_readme_tells_how_to_run_with_docker() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "## Run with Docker" in readme
    section = readme.split("## Run with Docker", 1)[1].split("\n## ", 1)[0]
    for needed in ("cp .env.example .env", "docker compose up -d", "/healthz",
                   "docker compose logs"):
        assert needed in section, needed
