"""Case fair: an honest source's large page among 50 hostile sources (the fair queue).

`feedbridge run` (a process of its own) polls, every 10 s, the 50 hostile `feed` sources of
case latency (`bench/hostile_upstream.py`: 25 answer 1.2 MB of XML nested 85,000 deep, 25 a
4 MB RSS feed, ~8 s of feedparser each) and 3 honest ones, each a 500 KB RSS feed (~480
items, a fraction of a second), a new body every poll, so every page goes to the extraction
processes (one on 2 cores). Every 0.25 s the bench reads `/metrics`: when an honest source's
poll count rises, the duration of that poll (fetch, wait for a worker, examination, store).
An honest source with no poll done by the end counts as the whole run (a lower bound).
Its first poll is a cold start: every source's first page arrives at once, and the honest
page waits for the hostile page already in the worker (~8 s of CPU, more on a busy machine);
the later polls are the steady state, reported apart.

Two variants, alternating, in one run: `before` is the checkout named by `BENCH_BEFORE`
(its extraction processes take pages first come, first served); `fair queue` is this one.
Without `BENCH_BEFORE` only this one is measured.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import LOCAL, ROOT, Row, Stat, free_port, stop, table, wait_port

HOSTILE = 50
HONEST = 3
RUNS = 2


def _config(work: Path, port: int, upstream: int, variant: str) -> Path:
    lines = [
        'log_level = "warning"',
        f'[storage]\npath = "{work / variant.replace(" ", "-")}"',
        f"[server]\nport = {port}",
        "[http]\nconcurrency = 60\nper_host = 60",
    ]
    for i in range(HOSTILE):
        path = f"nested/{i}.xml" if i % 2 else f"big/{i}.rss"
        lines.append(
            f'[[sources]]\nname = "hostile-{i}"\nkind = "feed"\n'
            f'url = "http://{LOCAL}:{upstream}/{path}"\ninterval = "10s"'
        )
    for i in range(HONEST):
        lines.append(
            f'[[sources]]\nname = "honest-{i}"\nkind = "feed"\n'
            f'url = "http://{LOCAL}:{upstream}/honest/{i}.rss"\ninterval = "10s"'
        )
    config = work / f"{variant.replace(' ', '-')}.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _metrics(port: int) -> dict[tuple[str, str], float]:
    import httpx

    try:
        text = httpx.get(f"http://{LOCAL}:{port}/metrics", timeout=30).text
    except httpx.HTTPError:
        return {}
    kinds = "polls_total|errors_total|poll_duration_seconds"
    pattern = rf'^feedbridge_source_({kinds})\{{source="([^"]+)"\}} (\S+)'
    return {(m[1], m[2]): float(m[3]) for m in re.finditer(pattern, text, re.M)}


def _measure(code: Path, config: Path, work: Path, port: int, seconds: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(code)}
    log = config.with_suffix(".log")
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "feedbridge", "--config", str(config), "run"],
            cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    durations: dict[str, list[float]] = {f"honest-{i}": [] for i in range(HONEST)}
    seen: dict[str, float] = {}
    first: float | None = None
    try:
        wait_port(port, timeout=30, proc=proc)
        started = time.monotonic()
        end = started + seconds
        found: dict[tuple[str, str], float] = {}
        while time.monotonic() < end:
            found = _metrics(port) or found
            for name, done in durations.items():
                count = found.get(("polls_total", name), 0.0)
                if count > seen.get(name, 0.0):
                    done.append(found.get(("poll_duration_seconds", name), float("nan")))
                    seen[name] = count
                    first = first if first is not None else time.monotonic() - started
            time.sleep(0.25)
        def total(kind: str, who: str) -> float:
            return sum(v for (k, n), v in found.items() if k == kind and n.startswith(who))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        stop(proc, timeout=30)
    waits = [d for done in durations.values() for d in done]
    later = [d for done in durations.values() for d in done[1:]]  # the first: a cold start
    never = [name for name, done in durations.items() if not done]
    return {
        "honest_polls_s": waits,
        "honest_never_done": never,
        "honest_later_polls_s": later,
        "honest_first_polls_s": [done[0] for done in durations.values() if done],
        "honest_polls": len(waits),
        "honest_failed": total("errors_total", "honest"),
        "first_honest_done_s": first,
        "hostile_polls": total("polls_total", "hostile"),
        "hostile_failed": total("errors_total", "hostile"),
        # odd-numbered hostile sources answer nested XML (~3.8 s of CPU unloaded), the
        # others 4 MB of RSS (~1.2 s): which ones got the worker
        "nested_polls": sum(
            v for (k, n), v in found.items()
            if k == "polls_total" and n.startswith("hostile-") and int(n[8:]) % 2
        ),
        "why_failed": _failures(log.read_text(errors="replace")),
        # a source whose first poll never ended waited the whole run at least
        "waits_s": waits + [seconds] * len(never),
    }


def _failures(log: str) -> dict[str, int]:
    """How many polls failed, by error (numbers and names taken out)."""
    found: dict[str, int] = {}
    for line in log.splitlines():
        if "poll failed" in line:
            why = re.sub(r"\d+", "N", line.split("): ", 1)[-1])[:120]
            found[why] = found.get(why, 0) + 1
    return found


def run(quick: bool = False) -> tuple[list[Row], dict[str, Any]]:
    seconds = 45.0 if quick else 90.0
    before = os.environ.get("BENCH_BEFORE")
    codes = {"before": Path(before)} if before else {}
    codes["fair queue"] = ROOT
    work = Path(tempfile.mkdtemp(prefix="fb-bench-fair-"))
    upstream_port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, "-m", "bench.hostile_upstream", str(upstream_port)], cwd=ROOT
    )
    found: dict[str, list[dict[str, Any]]] = {v: [] for v in codes}
    try:
        wait_port(upstream_port, timeout=30, proc=upstream)
        for i in range(RUNS):  # alternating, so that the shared machine's load moves both
            for variant, code in codes.items():
                port = free_port()
                config = _config(work, port, upstream_port, f"{variant} {i}")
                found[variant].append(_measure(code, config, work, port, seconds))
                shown = {k: v for k, v in found[variant][-1].items() if not k.endswith("_s")}
                print(f"[bench] fair: {variant}: {shown}", file=sys.stderr, flush=True)
    finally:
        stop(upstream)
    after = _merged(found["fair queue"])
    base = _merged(found["before"]) if "before" in found else None
    name = f"honest 500 KB feed's poll among {HOSTILE} hostile sources, {seconds:g} s"
    rows = [
        Row("fair", f"{name}, median", "s", Stat(after["waits_s"]),
            "before (first come, first served)" if base else None,
            Stat(base["waits_s"]) if base else None, extra=after),
        Row("fair", f"{name}, after its first, median", "s", Stat(after["honest_later_polls_s"]),
            "before" if base else None,
            Stat(base["honest_later_polls_s"] or [seconds]) if base else None),
        Row("fair", f"{name}, polls done", "polls", Stat([after["honest_polls"]]),
            "before" if base else None, Stat([base["honest_polls"]]) if base else None,
            better="higher"),
        Row("fair", f"hostile polls done in {seconds:g} s", "polls",
            Stat([after["hostile_polls"]]), "before" if base else None,
            Stat([base["hostile_polls"]]) if base else None, better="higher"),
    ]  # fmt: skip
    print(_summary(found, seconds), file=sys.stderr, flush=True)
    return rows, {"runs": found, "seconds": seconds, "before": before}


def _merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs of a variant as one: their polls together, their counts summed."""
    out: dict[str, Any] = {}
    for r in runs:
        for key, value in r.items():
            if isinstance(value, list):
                out[key] = out.get(key, []) + value
            elif isinstance(value, int | float) and key.endswith(("_polls", "_failed")):
                out[key] = out.get(key, 0) + value
    return out


def _summary(found: dict[str, list[dict[str, Any]]], seconds: float) -> str:
    """One line a run: what the table's rows are made of."""
    lines = [
        f"{'variant':<11} {'honest polls':>12} {'first poll s':>12}"
        f" {'later polls s (median, max)':>28} {'hostile polls (nested)':>22} {'failed':>6}"
    ]
    for variant, runs in found.items():
        for r in runs:
            later = sorted(r["honest_later_polls_s"])
            firsts = sorted(r["honest_first_polls_s"])
            shown = f"{later[len(later) // 2]:.1f}, {later[-1]:.1f}" if later else f"> {seconds:g}"
            first = f"{firsts[len(firsts) // 2]:.1f}" if r["honest_polls"] else f"> {seconds:g}"
            lines.append(
                f"{variant:<11} {r['honest_polls']:>12} {first:>12} {shown:>28}"
                f" {r['hostile_polls']:>13g} ({r['nested_polls']:>3g})     "
                f" {r['hostile_failed'] + r['honest_failed']:>6g}"
            )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m bench.case_fair [--quick]
    os.chdir(ROOT)
    print(table(run("--quick" in sys.argv)[0]))
