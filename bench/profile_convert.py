"""Where a converted page's CPU goes: the convert case under a sampling profiler.

    .venv/bin/python -m bench.profile_convert            # 100 pages
    .venv/bin/python -m bench.profile_convert --pages 300 --top 25

Starts the private nginx with N copies of the papers page and a real `feedbridge run` with
N html sources (the convert case's set-up), attaches py-spy (`pip install -e '.[bench]'`) to
that process, waits for every poll, requests every Atom feed once, stops. Samples taken
during start-up (imports, config, runtime) are counted apart; the rest is split into areas
by the innermost frame that names one, and printed as ms per page: the samples' shares of
the CPU the process used (from /proc) after start-up. PROFILE_NATIVE=1 adds C frames
(lexbor, sqlite, libc), which splits parsing and CSS queries from the Python around them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.case_convert import HTML_CONFIG, _config, _cpu, _launch, _stop, _wait
from bench.common import Nginx, free_port, http_get, papers_page

RATE = 250  # samples per second
NATIVE = bool(os.environ.get("PROFILE_NATIVE"))  # C frames too (slower to record)

# (area, pattern on "function (path:line)" frames); the innermost frame that matches wins
AREAS: list[tuple[str, re.Pattern[str]]] = [
    (area, re.compile(pattern))
    for area, pattern in (
        ("start-up", r"_find_and_load|load_config|build_sources|/app\.py|gc\.freeze"),
        ("css queries (lexbor)", r"^(?:lxb_css|lxb_selectors|LexborCSSSelector)"),
        ("html parse (lexbor)", r"^(?:lxb_html|LexborHTMLParser__parse|lexbor_LexborHTMLParser)"),
        ("sanitize (nh3)", r"nh3|/sanitize"),
        ("gzip", r"isal|gzip|zlib"),
        ("store", r"feedbridge/store/|diskcache|sqlite3|psycopg"),
        ("logging", r"logging/|feedbridge/logs\.py"),
        ("metrics", r"prometheus_client|feedbridge/metrics\.py"),
        ("extraction (python)", r"feedbridge/sources/"),
        ("render feed", r"feedbridge/(?:fragments|render|feeds)\.py"),
        ("serving (server)", r"uvicorn|starlette|feedbridge/server\.py|httptools"),
        ("fetching (http client)", r"httpx|aiohttp|feedbridge/http\.py"),
        ("poll bookkeeping", r"feedbridge/(?:worker|pipeline|health|scheduler|claims)\.py"),
    )
]


def classify(stack: list[str]) -> str:
    """The area of one sample: stack is outermost first."""
    if any(AREAS[0][1].search(frame) for frame in stack):
        return "start-up"
    for frame in reversed(stack):
        for area, pattern in AREAS[1:]:
            if pattern.search(frame):
                return area
    return "event loop, other"


def profile(pages: int, top: int, keep: Path | None) -> None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not os.path.exists(spy):
        sys.exit("py-spy is missing: .venv/bin/pip install -e '.[bench]'")
    docroot = Path(tempfile.mkdtemp(prefix="fb-profile-pages-"))
    work = Path(tempfile.mkdtemp(prefix="fb-profile-"))
    try:
        (docroot / "p").mkdir()
        (docroot / "page.html").write_bytes(papers_page())
        for i in range(pages):
            os.link(docroot / "page.html", docroot / "p" / f"{i:04d}.html")
        fields = {k: v for k, v in HTML_CONFIG.items() if k not in ("name", "url", "kind")}
        port = free_port()
        with Nginx(docroot) as nginx:
            sources = [
                {"name": f"p{i:04d}", "kind": "html", "url": f"{nginx.base}/p/{i:04d}.html",
                 "interval": "1h", **fields}
                for i in range(pages)
            ]  # fmt: skip
            log = work / "stderr.log"
            proc = _launch(_config(work, port, sources), log)
            raw = work / "samples.txt"
            recorder = subprocess.Popen(
                [spy, "record", "--pid", str(proc.pid), "--rate", str(RATE), "--format", "raw",
                 "--output", str(raw), *(["--native"] if NATIVE else ["--nonblocking"])],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            try:
                _wait(lambda: log.read_bytes().count(b"poll done") >= pages, proc, 600, "polls")
                for i in range(pages):
                    url = f"http://127.0.0.1:{port}/feeds/p{i:04d}.atom"
                    status, _, _ = http_get(url, {"Accept-Encoding": "gzip"})
                    assert status == 200, (url, status)
                cpu = _cpu(proc.pid)
            finally:
                _stop(proc)
                _, err = recorder.communicate(timeout=60)
                if not raw.exists():
                    sys.exit(f"py-spy recorded nothing: {err.decode(errors='replace')}")
        report(raw, pages, cpu, top)
        if keep:
            shutil.copy(raw, keep)
    finally:
        shutil.rmtree(docroot, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def report(raw: Path, pages: int, cpu: float, top: int) -> None:
    areas: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        stack = stack_text.split(";")
        area = classify(stack)
        areas[area] += int(count)
        if area != "start-up":
            leaves[re.sub(r":\d+\)$", ")", stack[-1])] += int(count)
    started = areas.pop("start-up", 0)
    sampled = sum(areas.values())
    # samples are scaled to the CPU the process used: blocking (--native) sampling slows it
    after = cpu * sampled / (started + sampled)
    per_sample = after / sampled / pages * 1000
    print(
        f"\n{pages} pages; process CPU {cpu:.2f} s ({cpu / pages * 1000:.1f} ms per page with "
        f"start-up), of which {cpu - after:.2f} s start-up by the samples"
    )
    print(f"\n{'area':<26} {'ms/page':>8} {'share':>6}")
    for area, count in areas.most_common():
        print(f"{area:<26} {count * per_sample:8.2f} {count / sampled:6.0%}")
    print(f"{'total after start-up':<26} {after / pages * 1000:8.2f}")
    print(f"\ntop {top} functions by own time (after start-up)")
    for leaf, count in leaves.most_common(top):
        print(f"{count * per_sample:8.3f} ms  {leaf[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--raw", type=Path, help="keep py-spy's raw stacks (flamegraph input)")
    args = parser.parse_args()
    started = time.monotonic()
    profile(args.pages, args.top, args.raw)
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
