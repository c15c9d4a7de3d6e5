"""Case 2, poll cycle: N html sources on a private nginx, through the real Worker.

Each run is a fresh process (`bench.poll_child`), so that its peak RSS (ru_maxrss) is its own:
startup (config, store, `publish_stored`), the first cycle (every page new: 200), a few cycles
where nothing changed (conditional GET: 304), and (full mode) one cycle after every page changed.
The transport floor runs the same GETs from a bare aiohttp client and from httpx on the aiohttp
transport (no feedbridge), in the same run, interleaved with the feedbridge runs.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, Nginx, Row, Stat
from bench.poll_child import write_pages

SIZES = (100, 1000, 5000)
BASELINE_SIZES = (1000, 5000)


def child(args: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="fb-bench-poll-"))
    try:
        log = work / "stderr.log"
        with open(log, "wb") as err:
            proc = subprocess.run(
                [sys.executable, "-m", "bench.poll_child", json.dumps({**args, "work": str(work)})],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=err,
                timeout=timeout,
                check=False,
            )
        if proc.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"poll child {args['mode']} n={args['n']} failed:\n{tail}")
        result: dict[str, Any] = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        result["log_lines"] = log.read_text(errors="replace").count("\n")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _phase(result: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    return [p for p in result["phases"] if p["phase"].startswith(prefix)]


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    runs = 1 if quick else 3
    cycles304 = 2 if quick else 3
    rows: list[Row] = []
    raw: dict[str, Any] = {"feedbridge": {}, "aiohttp": {}, "httpx-aiohttp": {}}
    docroot = Path(tempfile.mkdtemp(prefix="fb-bench-docroot-"))
    try:
        write_pages(docroot, max(SIZES))
        with Nginx(docroot) as nginx:
            for n in SIZES:
                raw["feedbridge"][n] = []
                for _ in range(runs):
                    args = {"n": n, "base": nginx.base, "cycles304": cycles304}
                    write_pages(docroot, n, version=0)
                    raw["feedbridge"][n].append(
                        child(
                            {
                                **args,
                                "mode": "feedbridge",
                                "changed": not quick,
                                "docroot": str(docroot),
                            }
                        )
                    )
                    if n in BASELINE_SIZES:
                        for mode in ("aiohttp", "httpx-aiohttp"):
                            raw[mode].setdefault(n, []).append(child({**args, "mode": mode}))
    finally:
        shutil.rmtree(docroot, ignore_errors=True)

    summary: dict[str, Any] = {}
    for n in SIZES:
        results = raw["feedbridge"][n]
        c304 = [p for r in results for p in _phase(r, "304 #")]
        first = [p for r in results for p in _phase(r, "200 first")]
        changed = [p for r in results for p in _phase(r, "200 changed")]
        startup = [p for r in results for p in _phase(r, "startup")]
        rss = [r["peak_rss_mb"] for r in results]
        floor = {
            mode: [p for r in raw[mode].get(n, []) for p in _phase(r, "304 #")]
            for mode in ("aiohttp", "httpx-aiohttp")
        }
        floor200 = [p for r in raw["aiohttp"].get(n, []) for p in _phase(r, "200 first")]
        fb = f"N={n}"

        def base(phases: list[dict[str, Any]], key: str, per: float = 1.0) -> Stat | None:
            return Stat([p[key] / per for p in phases]) if phases else None

        rows += [
            Row(
                "poll",
                f"{fb} 304 cycle wall",
                "s",
                Stat([p["wall"] for p in c304]),
                "aiohttp GETs" if floor["aiohttp"] else None,
                base(floor["aiohttp"], "wall"),
            ),
            Row(
                "poll",
                f"{fb} 304 CPU/source",
                "ms",
                Stat([p["cpu"] / n * 1000 for p in c304]),
                "aiohttp GET" if floor["aiohttp"] else None,
                base(floor["aiohttp"], "cpu", n / 1000),
            ),
        ]
        if floor["httpx-aiohttp"]:
            rows.append(
                Row(
                    "poll",
                    f"{fb} 304 CPU/source",
                    "ms",
                    Stat([p["cpu"] / n * 1000 for p in c304]),
                    "httpx+aiohttp GET",
                    base(floor["httpx-aiohttp"], "cpu", n / 1000),
                )
            )
        rows += [
            Row(
                "poll",
                f"{fb} 304 sources/s",
                "1/s",
                Stat([n / p["wall"] for p in c304]),
                better="higher",
            ),
            Row(
                "poll",
                f"{fb} 200 first wall",
                "s",
                Stat([p["wall"] for p in first]),
                "aiohttp GETs" if floor200 else None,
                base(floor200, "wall"),
            ),
            Row(
                "poll",
                f"{fb} 200 first CPU/source",
                "ms",
                Stat([p["cpu"] / n * 1000 for p in first]),
            ),
        ]
        if changed:
            rows.append(
                Row(
                    "poll",
                    f"{fb} 200 changed CPU/source",
                    "ms",
                    Stat([p["cpu"] / n * 1000 for p in changed]),
                )
            )
        rows += [
            Row("poll", f"{fb} startup (publish_stored)", "s", Stat([p["wall"] for p in startup])),
            Row(
                "poll",
                f"{fb} peak RSS",
                "MB",
                Stat(rss),
                "aiohttp floor" if raw["aiohttp"].get(n) else None,
                Stat([r["peak_rss_mb"] for r in raw["aiohttp"][n]])
                if raw["aiohttp"].get(n)
                else None,
            ),
        ]
        summary[n] = {
            "wall_304": statistics.median(p["wall"] for p in c304),
            "cpu_304": statistics.median(p["cpu"] for p in c304),
            "wall_200": statistics.median(p["wall"] for p in first),
            "cpu_200": statistics.median(p["cpu"] for p in first),
            "peak_rss_mb": statistics.median(rss),
            "rss_after_phase": {p["phase"]: p["rss_mb"] for p in results[0]["phases"]},
            "log_lines": results[0].get("log_lines"),
        }
    for a, b in ((100, 5000), (1000, 5000)):
        for kind in ("cpu_304", "wall_304", "cpu_200"):
            ratio = summary[b][kind] / summary[a][kind]
            summary[f"growth_{kind}_{a}_{b}"] = ratio
            rows.append(
                Row(
                    "poll",
                    f"growth {a}→{b} {kind.replace('_', ' ')}",
                    "x",
                    Stat([ratio]),
                    note=f"linear = {b / a:g}x",
                )
            )
    return rows, {"summary": summary, "raw": raw}
