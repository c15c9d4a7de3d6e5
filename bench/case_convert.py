"""Cases 7 and 8: convert (a page becomes a served feed) and startup (5,000 stored feeds).

Both drive the real `feedbridge run` in its own process and read that process's CPU and
memory from /proc; the client (this process) only fetches and waits.

- convert: N copies of the ~350 KB papers page (bench/common.py `papers_page`, 37 cards) on the
  private nginx; `run` with N html sources (case_extract's HTML_CONFIG selectors), each polled
  once at start. When every poll is logged done, each feed's Atom is requested once (as a reader
  does: Accept-Encoding gzip) and checked; then the CPU the process used since it started.
  Marginal CPU per page = (CPU with N+1 sources - CPU with 1) / N, runs interleaved.
- startup: a store holding 5,000 feeds (10 papers each, polled just now, so none is due);
  time from launching `run` to the first 200 for one feed's Atom, and the process's peak RSS
  (VmHWM) two seconds after that. Baseline: the same store with only that one source in the
  config (what start-up costs that does not grow with the sources: imports, server).

`BENCH_FEEDBRIDGE=/path/to/checkout` runs those processes on another checkout's code (the
"before" column of a comparison); the bench itself stays this one.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.case_extract import HTML_CONFIG
from bench.common import ROOT, Nginx, Row, Stat, free_port, hf_entries, http_get, papers_page

CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_FEEDS = 5000
STARTUP_ENTRIES = 10


def _code_dir() -> Path:
    return Path(os.environ.get("BENCH_FEEDBRIDGE") or ROOT)


def _before_dir() -> Path | None:
    """BENCH_BEFORE: a checkout measured run for run alongside this code, as the baseline."""
    before = os.environ.get("BENCH_BEFORE")
    return Path(before) if before else None


def _launch(config: Path, log: Path, code: Path | None = None) -> subprocess.Popen[bytes]:
    code = code or _code_dir()
    env = {**os.environ, "PYTHONPATH": str(code)}
    with open(log, "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
            cwd=code,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _toml(value: Any) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _config(work: Path, port: int, sources: list[dict[str, Any]]) -> Path:
    lines = [
        'log_level = "info"',
        "[storage]",
        f"path = {_toml(work / 'store')}",
        "[server]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'base_url = "http://127.0.0.1:{port}"',
        "[http]",
        "per_host = 50",
        "concurrency = 50",
    ]
    for source in sources:
        lines.append("[[sources]]")
        lines += [f"{key} = {_toml(value)}" for key, value in source.items()]
    path = work / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _wait(predicate: Any, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise RuntimeError(f"feedbridge exited ({proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


# --- convert ------------------------------------------------------------------------------


def _convert_once(nginx: Nginx, n: int, code: Path | None = None) -> float:
    """CPU seconds of a `run` process that polls `n` pages and serves each Atom feed once."""
    work = Path(tempfile.mkdtemp(prefix="fb-bench-convert-"))
    try:
        port = free_port()
        fields = {k: v for k, v in HTML_CONFIG.items() if k not in ("name", "url", "kind")}
        sources = [
            {
                "name": f"p{i:04d}",
                "kind": "html",
                "url": f"{nginx.base}/p/{i:04d}.html",
                "interval": "1h",
                **fields,
            }
            for i in range(n)
        ]
        log = work / "stderr.log"
        proc = _launch(_config(work, port, sources), log, code)
        try:
            _wait(lambda: log.read_bytes().count(b"poll done") >= n, proc, 300, f"{n} polls done")
            for i in range(n):
                status, head, body = http_get(
                    f"http://127.0.0.1:{port}/feeds/p{i:04d}.atom",
                    {"Accept-Encoding": "gzip"},
                )
                assert status == 200, status
                if i == 0:
                    atom = gzip.decompress(body) if head.get("content-encoding") else body
                    assert atom.count(b"<entry>") == 37, atom.count(b"<entry>")
            return _cpu(proc.pid)
        finally:
            _stop(proc)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def convert(quick: bool = False) -> list[Row]:
    n = 20 if quick else 100
    runs = 1 if quick else 3
    docroot = Path(tempfile.mkdtemp(prefix="fb-bench-convert-pages-"))
    try:
        (docroot / "p").mkdir()
        page = docroot / "page.html"
        page.write_bytes(papers_page())
        for i in range(n + 1):
            os.link(page, docroot / "p" / f"{i:04d}.html")
        before = _before_dir()
        codes = [_code_dir(), *([before] if before else [])]
        one: dict[Path, list[float]] = {code: [] for code in codes}
        many: dict[Path, list[float]] = {code: [] for code in codes}
        with Nginx(docroot) as nginx:
            for _ in range(runs):
                for code in codes:  # this code and the "before" one, run for run
                    one[code].append(_convert_once(nginx, 1, code))
                    many[code].append(_convert_once(nginx, n + 1, code))

        def per_page(code: Path) -> Stat:
            pairs = zip(many[code], one[code], strict=True)
            return Stat([(m - o) / n * 1000 for m, o in pairs])

        kb = page.stat().st_size // 1024
        code = codes[0]
        return [
            Row(
                "convert",
                f"page {kb} KB → served Atom, marginal CPU per page (N={n})",
                "ms",
                per_page(code),
                f"before ({before.name})" if before else None,
                per_page(before) if before else None,
                note="target ≤ 2 ms",
                extra={
                    "cpu_one_s": one[code],
                    "cpu_many_s": many[code],
                    "n": n,
                    "code": str(code),
                    **({"before": str(before), "before_one_s": one[before]} if before else {}),
                    **({"before_many_s": many[before]} if before else {}),
                },
            ),
            Row(
                "convert",
                "process CPU with 1 source",
                "s",
                Stat(one[code]),
                f"before ({before.name})" if before else None,
                Stat(one[before]) if before else None,
            ),
        ]
    finally:
        shutil.rmtree(docroot, ignore_errors=True)


# --- startup ------------------------------------------------------------------------------


def _fill_store(work: Path) -> list[dict[str, Any]]:
    """A store with STARTUP_FEEDS feeds polled just now; returns their source configs."""
    from feedbridge.store import PollOutcome, SourceState, open_embedded

    papers = hf_entries(STARTUP_ENTRIES)
    now = time.time()
    sources = []
    state = SourceState(last_poll=now, last_success=now, feed_changed_at=now)
    with open_embedded(work / "store") as store:
        for i in range(STARTUP_FEEDS):
            name = f"s{i:05d}"
            entries = [e.with_source(name) for e in papers]
            store.apply_poll(name, PollOutcome(state, feed=entries))
            sources.append(
                {
                    "name": name,
                    "kind": "html",
                    "url": f"http://127.0.0.1:9/{name}.html",  # never fetched: not due
                    "interval": "1h",
                    "item": "article",
                    "title": "h3 a",
                }
            )
    return sources


def _startup_once(
    work: Path, sources: list[dict[str, Any]], code: Path | None = None
) -> tuple[float, float]:
    port = free_port()
    config = _config(work, port, sources)
    url = f"http://127.0.0.1:{port}/feeds/s{STARTUP_FEEDS // 2:05d}.atom"
    started = time.perf_counter()
    proc = _launch(config, work / "stderr.log", code)
    try:

        def served() -> bool:
            try:
                return http_get(url, {"Accept-Encoding": "gzip"})[0] == 200
            except OSError:
                return False

        _wait(served, proc, 120, "the first feed")
        first = time.perf_counter() - started
        time.sleep(2)
        return first, _peak_rss_mb(proc.pid)
    finally:
        _stop(proc)


def startup(quick: bool = False) -> list[Row]:
    runs = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="fb-bench-startup-"))
    try:
        sources = _fill_store(work)
        one = [s for s in sources if s["name"] == f"s{STARTUP_FEEDS // 2:05d}"]
        before = _before_dir()
        results, floor, earlier = [], [], []
        for _ in range(runs):  # the same store, configured with all sources / with one
            results.append(_startup_once(work, sources))
            floor.append(_startup_once(work, one))
            if before:
                earlier.append(_startup_once(work, sources, before))
        rows = [
            Row(
                "startup",
                f"{STARTUP_FEEDS:,} stored feeds: launch → first feed served",
                "s",
                Stat([r[0] for r in results]),
                "1 source configured",
                Stat([r[0] for r in floor]),
                note="target ≤ 1 s",
            ),
            Row(
                "startup",
                f"{STARTUP_FEEDS:,} stored feeds: peak RSS 2 s after",
                "MB",
                Stat([r[1] for r in results]),
                note="target < 150 MB",
            ),
        ]
        if before:
            for index, (what, unit) in enumerate((("first feed served", "s"), ("peak RSS", "MB"))):
                rows.append(
                    Row(
                        "startup",
                        f"{STARTUP_FEEDS:,} stored feeds: {what}, against the before checkout",
                        unit,
                        Stat([r[index] for r in results]),
                        f"before ({before.name})",
                        Stat([r[index] for r in earlier]),
                    )
                )
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- no change ----------------------------------------------------------------------------


class _NoValidators(Nginx):
    """nginx that sends no ETag and ignores If-Modified-Since: every poll gets a 200."""

    def conf(self) -> str:
        return super().conf().replace("etag on;", "etag off; if_modified_since off;")


async def _unchanged_poll_ms(base: str, polls: int) -> float:
    """CPU ms per poll of the papers page through Worker.poll once nothing changes."""
    from feedbridge.app.runtime import runtime
    from feedbridge.config import load_config

    work = Path(tempfile.mkdtemp(prefix="fb-bench-nochange-"))
    try:
        fields = {k: v for k, v in HTML_CONFIG.items() if k not in ("name", "url", "kind")}
        lines = ["[storage]", f"path = {_toml(work / 'store')}", "[server]", "enabled = false"]
        lines += ["[[sources]]", 'name = "p"', 'kind = "html"', f'url = "{base}/page.html"']
        lines += [f"{key} = {_toml(value)}" for key, value in fields.items()]
        (work / "config.toml").write_text("\n".join(lines) + "\n")
        async with runtime(load_config(work / "config.toml")) as rt:
            source = rt.worker.sources[0]
            first = await rt.worker.poll(source)
            assert first.ok and first.changed, first
            await rt.worker.poll(source)
            started = time.process_time()
            for _ in range(polls):
                report = await rt.worker.poll(source)
                assert report.ok and not report.changed, report
            return (time.process_time() - started) / polls * 1000
    finally:
        shutil.rmtree(work, ignore_errors=True)


def nochange(quick: bool = False) -> list[Row]:
    """An unchanged page polled again: a byte-identical 200 (no validators) against a 304."""
    import asyncio

    runs, polls = (2, 20) if quick else (5, 50)
    docroot = Path(tempfile.mkdtemp(prefix="fb-bench-nochange-pages-"))
    try:
        (docroot / "page.html").write_bytes(papers_page())
        same: list[float] = []
        not_modified: list[float] = []
        for _ in range(runs):
            with _NoValidators(docroot) as plain:
                same.append(asyncio.run(_unchanged_poll_ms(plain.base, polls)))
            with Nginx(docroot) as etags:
                not_modified.append(asyncio.run(_unchanged_poll_ms(etags.base, polls)))
        kb = len(papers_page()) // 1024
        rows = [
            Row(
                "nochange",
                f"page {kb} KB unchanged, byte-identical 200: CPU per poll",
                "ms",
                Stat(same),
                "304 (ETag)",
                Stat(not_modified),
                note="target: like a 304",
            )
        ]
        before = _before_dir()
        if before:  # each in a child process: one on this code, one on the before checkout
            ours: list[float] = []
            theirs: list[float] = []
            with _NoValidators(docroot) as plain:
                for _ in range(runs):
                    ours.append(_unchanged_poll_child(ROOT, plain.base, polls))
                    theirs.append(_unchanged_poll_child(before, plain.base, polls))
            rows.append(
                Row(
                    "nochange",
                    f"page {kb} KB unchanged, byte-identical 200: CPU per poll (own process)",
                    "ms",
                    Stat(ours),
                    f"before ({before.name})",
                    Stat(theirs),
                )
            )
        return rows
    finally:
        shutil.rmtree(docroot, ignore_errors=True)


def _unchanged_poll_child(code: Path, base: str, polls: int) -> float:
    """`_unchanged_poll_ms` in a fresh process on the code (feedbridge and bench) in `code`."""
    script = (
        "import asyncio; from bench.case_convert import _unchanged_poll_ms; "
        f"print(asyncio.run(_unchanged_poll_ms({base!r}, {polls})))"
    )
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=code, env=env, capture_output=True, check=True
    )
    return float(done.stdout.decode().split()[-1])
