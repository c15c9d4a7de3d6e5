"""`python -m bench`: run every case, print the table and the targets, write bench/results.json.

python -m bench                 # everything (about 6-8 minutes on a 2-core machine)
python -m bench --quick         # fewer runs, smaller sizes (about 1-2 minutes)
python -m bench --only poll,serve
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench import (
    case_browser,
    case_convert,
    case_detect,
    case_drain,
    case_extract,
    case_fair,
    case_index,
    case_latency,
    case_notify,
    case_poll,
    case_port,
    case_render,
    case_serve,
    case_shared,
    case_store,
    case_web,
)
from bench.common import BENCH, NGINX, ROOT, WRK, Row, rows_json, table, write_json

CASES = (
    "extract",
    "poll",
    "render",
    "serve",
    "notify",
    "messages",
    "drain",
    "store",
    "shared",
    "browser",
    "convert",
    "startup",
    "nochange",
    "detect",
    "port",
    "latency",
    "fair",
    "web",
    "index",
)
PACKAGES = (
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "selectolax",
    "diskcache",
    "feedgen",
    "apprise",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "beautifulsoup4",
    "lxml",
    "playwright",
)


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _tool_version(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "missing"


def _find(rows: list[Row], case: str, start: str, baseline: str | None = None) -> Row | None:
    for r in rows:
        if (
            r.case == case
            and r.name.startswith(start)
            and (baseline is None or r.baseline == baseline)
        ):
            return r
    return None


def targets(rows: list[Row], poll: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it is met."""
    out: list[dict[str, Any]] = []

    def add(
        name: str, value: float | None, op: str, limit: float, unit: str, issue: bool = True
    ) -> None:
        met = (
            None
            if value is None
            else (value >= limit if op == ">=" else value < limit if op == "<" else value <= limit)
        )
        out.append(
            {
                "target": name,
                "value": value,
                "op": op,
                "limit": limit,
                "unit": unit,
                "met": met,
                "issue_target": issue,
            }
        )

    for r in rows:
        if r.case == "extract" and r.baseline and r.baseline.startswith("bs4"):
            add(f"extract: {r.name} vs {r.baseline}", r.ratio, ">=", 10, "x faster")
    s = poll.get("summary", {})
    if 1000 in s:
        add("poll: 1,000 sources, 304 cycle wall", s[1000]["wall_304"], "<", 5, "s")
        add(
            "poll: 1,000 sources, 304 CPU per source",
            s[1000]["cpu_304"] / 1000 * 1000,
            "<",
            1,
            "ms",
        )
    if "growth_cpu_304_1000_5000" in s:
        add("poll: 5,000 vs 1,000 sources, 304 CPU", s["growth_cpu_304_1000_5000"], "<=", 5.5, "x")
        add(
            "poll: 5,000 vs 1,000 sources, 304 wall", s["growth_wall_304_1000_5000"], "<=", 5.5, "x"
        )
    if 5000 in s:
        add("poll: 5,000 sources, peak RSS", s[5000]["peak_rss_mb"], "<", 150, "MB")
    for r in rows:
        if r.case == "convert" and r.unit == "ms":
            add(
                "convert: marginal CPU per page, fetch to served Atom (issue 13)",
                r.stat.median,
                "<=",
                2,
                "ms",
            )
        if r.case == "startup" and "before checkout" in r.name:
            continue  # BENCH_BEFORE's comparison rows: the same measurement as the rows above
        if r.case == "startup" and r.unit == "s":
            add(
                "startup: 5,000 stored feeds, first feed served (issue 13)",
                r.stat.median,
                "<=",
                1,
                "s",
            )
        if r.case == "startup" and r.unit == "MB":
            add("startup: 5,000 stored feeds, peak RSS (issue 13)", r.stat.median, "<", 150, "MB")
    for r in rows:
        if r.case == "serve" and r.unit == "req/s":
            gz = "gzip" in r.name  # not in the issue: what readers that send Accept-Encoding get
            add(
                f"serve: {r.name.removesuffix(' req/s')} vs {r.baseline}",
                r.ratio,
                ">=",
                0.25,
                "of nginx",
                issue=not gz,
            )
    detect = {  # issue 22: the detector on the labelled corpus
        "item-link precision": (">=", 0.95, "", "detect: top candidate's item-link precision"),
        "item-link recall": (">=", 0.90, "", "detect: top candidate's item-link recall"),
        "titles exactly": (">=", 95, "%", "detect: titles exactly as labelled"),
        "dates found": (">=", 80, "%", "detect: dates found where the page shows one"),
    }
    for r in rows:
        if r.case != "detect":
            continue
        for start, (op, limit, unit, name) in detect.items():
            if r.name.startswith(start):
                add(name, r.stat.median, op, limit, unit)
        if r.name.startswith("CPU for a") and "papers page" in r.name:
            add("detect: CPU for a 350 KB page", r.stat.median, "<=", 100, "ms")
    for r in rows:  # issue 23: a changed selector's preview, the editor's wait included
        if r.case == "web" and r.name.startswith("preview after a selector change"):
            shown = r.name.removeprefix("preview after a selector change, ")
            waited = float(r.extra["p95_ms"]) + case_web.DEBOUNCE_MS
            add(f"web: preview of a {shown}, p95 + the editor's wait", waited, "<=", 500, "ms")
    return out


def show_targets(found: list[dict[str, Any]]) -> str:
    lines = ["", "targets (issues 6, 13, 22 and 23)", "---------------------------------"]
    for t in found:
        v = t["value"]
        mark = "n/a " if t["met"] is None else ("MET " if t["met"] else "MISS")
        shown = "-" if v is None else f"{v:.2f}"
        extra = "" if t["issue_target"] else " [extra, not an issue target]"
        lines.append(
            f"{mark} {t['target']}: {shown} {t['unit']} (target {t['op']} {t['limit']}){extra}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes")
    parser.add_argument(
        "--only",
        default=",".join(CASES),
        help=f"comma-separated cases (default all: {','.join(CASES)})",
    )
    parser.add_argument("--out", default=str(BENCH / "results.json"), help="results file")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = set(chosen) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    os.chdir(ROOT)
    started = time.perf_counter()
    rows: list[Row] = []
    extras: dict[str, Any] = {}
    timings: dict[str, float] = {}
    errors: dict[str, str] = {}
    poll: dict[str, Any] = {}
    for case in CASES:
        if case not in chosen:
            continue
        print(f"[bench] {case} ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        try:
            if case == "extract":
                rows += case_extract.run(args.quick)
            elif case == "poll":
                got, poll = case_poll.run(args.quick)
                rows += got
                extras["poll"] = poll["summary"]
                extras["poll_raw"] = poll["raw"]
            elif case == "render":
                rows += case_render.run(args.quick)
            elif case == "serve":
                got, extras["serve"] = case_serve.run(args.quick)
                rows += got
            elif case == "notify":
                got, extras["notify"] = case_notify.run(args.quick)
                rows += got
            elif case == "messages":
                rows += case_notify.messages(args.quick)
            elif case == "drain":
                got, extras["drain"] = case_drain.run(args.quick)
                rows += got
            elif case == "store":
                got, extras["store"] = case_store.run(args.quick)
                rows += got
            elif case == "shared":
                got, extras["shared"] = case_shared.run(args.quick)
                rows += got
            elif case == "browser":
                got, extras["browser"] = case_browser.run(args.quick)
                rows += got
            elif case == "convert":
                rows += case_convert.convert(args.quick)
            elif case == "startup":
                rows += case_convert.startup(args.quick)
            elif case == "nochange":
                rows += case_convert.nochange(args.quick)
            elif case == "detect":
                got, extras["detect"] = case_detect.run(args.quick)
                rows += got
            elif case == "latency":
                got, extras["latency"] = case_latency.run(args.quick)
                rows += got
            elif case == "fair":
                got, extras["fair"] = case_fair.run(args.quick)
                rows += got
            elif case == "port":
                got, extras["port"] = case_port.run(args.quick)
                rows += got
            elif case == "web":
                got, extras["web"] = case_web.run(args.quick)
                rows += got
            elif case == "index":
                got, extras["index"] = case_index.run(args.quick)
                rows += got
        except Exception as exc:  # one broken case must not hide the others' numbers
            errors[case] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        timings[case] = time.perf_counter() - t
        print(f"[bench] {case} done in {timings[case]:.0f} s", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    found = targets(rows, poll)
    print(table(rows))
    print(show_targets(found))
    if errors:
        print("\nfailed cases:")
        for case, message in errors.items():
            print(f"  {case}: {message}")
    print(
        f"\ntotal {total:.0f} s (" + ", ".join(f"{c} {s:.0f} s" for c, s in timings.items()) + ")"
    )
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": args.quick,
        "cases": chosen,
        "total_seconds": total,
        "case_seconds": timings,
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "nginx": _tool_version([NGINX, "-v"]),
            "wrk": _tool_version([WRK, "-v"]),
            "packages": _versions(),
            "commit": commit,
        },
        "rows": rows_json(rows),
        "targets": found,
        "details": extras,
        "errors": errors,
    }
    write_json(Path(args.out), results)
    print(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
