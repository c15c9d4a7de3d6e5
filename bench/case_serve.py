"""Case 4, serve: wrk against feedbridge's app (uvicorn) and nginx, same Atom bytes, same run.

`wrk -t2 -c50 -d5s --latency` on `/feeds/papers.atom` (100 entries), plain (200) and with
`If-None-Match` (304), alternating feedbridge and nginx so that both see the same machine.
An extra variant sends `Accept-Encoding: gzip`, as feed readers do: feedbridge compresses
on every request (Starlette's GZipMiddleware), nginx serves a file gzipped once
(`gzip_static`, level 9, as `gzip -9` would).
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import LOCAL, ROOT, WRK, Nginx, Row, Stat, free_port, http_get, stop, wait_port

PATH = "/feeds/papers.atom"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, seconds: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    assert url.startswith(f"http://{LOCAL}:"), url
    cmd = [WRK, "-t2", "-c50", f"-d{seconds}s", "--latency"]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: (.*)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p99_ms": p99,
        "p50_ms": p50,
        "non_2xx_3xx": float(bad.group(1)) if bad else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    runs = 1 if quick else 3
    seconds = 2 if quick else 5
    work = Path(tempfile.mkdtemp(prefix="fb-bench-serve-"))
    port = free_port()
    app = None
    try:
        app = subprocess.Popen(
            [sys.executable, "-m", "bench.serve_app", str(port), str(work)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(port, timeout=30, proc=app)
        (work / "feeds" / "papers.atom.gz").write_bytes(
            gzip.compress((work / "feeds" / "papers.atom").read_bytes(), 9, mtime=0)
        )
        with Nginx(work, gzip_static=True) as nginx:
            fb_url = f"http://{LOCAL}:{port}{PATH}"
            ng_url = f"{nginx.base}{PATH}"
            s1, h1, b1 = http_get(fb_url)
            s2, h2, b2 = http_get(ng_url)
            assert s1 == s2 == 200 and b1 == b2, "feedbridge and nginx must serve the same bytes"
            targets = {
                "feedbridge": (fb_url, {"If-None-Match": h1["etag"]}),
                "nginx": (ng_url, {"If-None-Match": h2["etag"]}),
            }
            for name, (url, cond) in targets.items():
                status = http_get(url, cond)[0]
                assert status == 304, f"{name} answered {status} to If-None-Match"
            stack = json.loads((work / "stack.json").read_text())
            gz = {"Accept-Encoding": "gzip"}
            for name, (url, _) in targets.items():
                _, head, _ = http_get(url, gz)
                assert head.get("content-encoding") == "gzip", f"{name} did not gzip"
            results: dict[str, list[dict[str, float]]] = {}
            for n in range(runs):
                for variant in ("plain", "304", "gzip"):
                    if variant == "gzip" and n >= max(1, runs - 1):
                        continue  # fewer runs: it is not one of the measurements
                    for name, (url, cond) in targets.items():
                        headers = {"plain": None, "304": cond, "gzip": gz}[variant]
                        r = wrk(url, seconds, headers)
                        results.setdefault(f"{name} {variant}", []).append(r)
    finally:
        stop(app)
        shutil.rmtree(work, ignore_errors=True)

    rows: list[Row] = []
    size = len(b1)
    for variant in ("plain", "304", "gzip"):
        fb = results[f"feedbridge {variant}"]
        ng = results[f"nginx {variant}"]
        label = {
            "plain": f"{PATH} 100 entries ({size // 1024} KB)",
            "304": f"{PATH} If-None-Match → 304",
            "gzip": f"{PATH} Accept-Encoding: gzip",
        }[variant]
        base = "nginx gzip_static" if variant == "gzip" else "nginx static"
        rows.append(
            Row(
                "serve",
                f"{label} req/s",
                "req/s",
                Stat([r["rps"] for r in fb]),
                base,
                Stat([r["rps"] for r in ng]),
                better="higher",
            )
        )
        rows.append(
            Row(
                "serve",
                f"{label} p99",
                "ms",
                Stat([r["p99_ms"] for r in fb]),
                base,
                Stat([r["p99_ms"] for r in ng]),
            )
        )
    extra = {
        "stack": stack,
        "body_bytes": size,
        "wrk": results,
        "command": f"wrk -t2 -c50 -d{seconds}s --latency",
    }
    return rows, extra
