"""Shared pieces of the benchmark: statistics, result rows, nginx, ports, test data.

Nothing here installs anything or talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
HF_FIXTURE = ROOT / "tests" / "data" / "hf" / "api_daily_papers_2026-05-08.json"
SHARED_FIXTURE = ROOT.parent / "shared" / "fixtures" / "hf" / "api_daily_papers_2026-05-08.json"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
LOCAL = "127.0.0.1"


# --- statistics and result rows ----------------------------------------------------------


@dataclass
class Stat:
    """Several runs of one measurement: the median and the spread around it."""

    runs: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    @property
    def lo(self) -> float:
        return min(self.runs) if self.runs else float("nan")

    @property
    def hi(self) -> float:
        return max(self.runs) if self.runs else float("nan")

    @property
    def spread(self) -> float:
        """(max - min) / median, as a fraction: 0.05 means the runs lie within 5 % of each other."""
        if len(self.runs) < 2 or not self.median:
            return 0.0
        return (self.hi - self.lo) / abs(self.median)


@dataclass
class Row:
    """One line of the table and of results.json."""

    case: str
    name: str
    unit: str
    stat: Stat
    baseline: str | None = None
    base_stat: Stat | None = None
    # "lower" if a smaller value is better (ms, s); "higher" for rates (req/s, ops/s)
    better: str = "lower"
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """How many times better than the baseline (>1: faster than the baseline)."""
        if self.base_stat is None or not self.base_stat.runs or not self.stat.runs:
            return None
        a, b = self.stat.median, self.base_stat.median
        if not a or not b:
            return None
        return b / a if self.better == "lower" else a / b

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case": self.case,
            "name": self.name,
            "unit": self.unit,
            "better": self.better,
            "median": self.stat.median,
            "min": self.stat.lo,
            "max": self.stat.hi,
            "spread": self.stat.spread,
            "runs": self.stat.runs,
        }
        if self.base_stat is not None:
            out["baseline"] = {
                "name": self.baseline,
                "median": self.base_stat.median,
                "min": self.base_stat.lo,
                "max": self.base_stat.hi,
                "spread": self.base_stat.spread,
                "runs": self.base_stat.runs,
            }
            out["ratio_vs_baseline"] = self.ratio
        if self.note:
            out["note"] = self.note
        if self.extra:
            out["extra"] = self.extra
        return out


def fmt(value: float | None) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1:
        return f"{value:.2f}"
    if a >= 0.01:
        return f"{value:.3f}"
    return f"{value:.2g}"


def table(rows: Iterable[Row]) -> str:
    """A fixed-width text table: value (median, spread, n), baseline, ratio."""
    header = ("case", "measurement", "median", "unit", "spread", "n", "baseline", "base", "ratio")
    lines = [header]
    for r in rows:
        ratio = r.ratio
        lines.append(
            (
                r.case,
                r.name,
                fmt(r.stat.median),
                r.unit,
                f"±{r.stat.spread * 50:.0f}%" if len(r.stat.runs) > 1 else "",
                str(len(r.stat.runs)),
                r.baseline or "",
                fmt(r.base_stat.median) if r.base_stat else "",
                f"{ratio:.2f}x" if ratio is not None else "",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 5, 7, 8}
    out = []
    for n, line in enumerate(lines):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def interleave(runs: int, *fns: Callable[[], float], warmup: bool = True) -> list[list[float]]:
    """Run each measurement `runs` times, alternating A B A B..., so noise hits all alike.

    With `warmup`, each runs once first and that run is dropped (lazy imports, first-call caches).
    """
    if warmup:
        for fn in fns:
            fn()
    results: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            results[i].append(fn())
    return results


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all its threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def du(path: Path) -> int:
    """Bytes on disk under `path` (allocated blocks)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(root, f)).st_blocks * 512
    return total


# --- ports and processes -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCAL, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((LOCAL, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {LOCAL}:{port} after {timeout}s")


def stop(proc: subprocess.Popen[Any] | None, timeout: float = 5.0) -> None:
    """Stop one process this benchmark started, by its own handle."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http_get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A plain GET (urllib, no proxies) returning status, lower-cased headers and body."""
    assert url.startswith(f"http://{LOCAL}:"), url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as response:
            head = {k.lower(): v for k, v in response.headers.items()}
            return response.status, head, response.read()
    except urllib.error.HTTPError as exc:  # 304 arrives as an HTTPError
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


class Nginx:
    """A private nginx: temp prefix, one worker, no access log, ETags on, serving `root`."""

    def __init__(self, root: Path, port: int | None = None, gzip_static: bool = False) -> None:
        self.root = Path(root)
        self.gzip_static = gzip_static
        self.port = port or free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="fb-bench-nginx-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def conf(self) -> str:
        p = self.prefix
        return f"""
worker_processes 1;
daemon off;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    types {{ text/html html; application/atom+xml atom; application/json json; }}
    default_type application/octet-stream;
    client_body_temp_path {p}/client_body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    etag on;
    gzip_static {"on" if self.gzip_static else "off"};
    server {{
        listen {LOCAL}:{self.port};
        server_name localhost;
        root {self.root};
    }}
}}
"""

    def __enter__(self) -> Nginx:
        for d in (self.prefix, self.root):
            os.chmod(d, 0o755)  # workers may run as nobody
        (self.prefix / "nginx.conf").write_text(self.conf())
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, proc=self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc)
        shutil.rmtree(self.prefix, ignore_errors=True)

    @property
    def base(self) -> str:
        return f"http://{LOCAL}:{self.port}"


# --- test data ---------------------------------------------------------------------------


def hf_items() -> list[dict[str, Any]]:
    path = HF_FIXTURE if HF_FIXTURE.exists() else SHARED_FIXTURE
    data: list[dict[str, Any]] = json.loads(path.read_bytes())
    return data


def hf_api_bytes() -> bytes:
    return (HF_FIXTURE if HF_FIXTURE.exists() else SHARED_FIXTURE).read_bytes()


def papers_page(items: list[dict[str, Any]] | None = None, target_kb: int = 350) -> bytes:
    """A Daily Papers page like huggingface.co/papers: the embedded JSON and one card per paper.

    `div[data-target="DailyPapers"]` carries `data-props` = the HTML-escaped JSON
    `{"dailyPapers": [...], "dateString": ...}`; each `article` card has an `h3 a` title,
    the abstract, authors, a date and the upvote count. Boilerplate pads it to ~`target_kb`.
    """
    items = items if items is not None else hf_items()
    props = json.dumps({"dailyPapers": items, "dateString": "2026-05-08"}, separators=(",", ":"))
    cards = []
    for item in items:
        p = item["paper"]
        authors = "".join(
            f'<li class="author">{html.escape(a["name"])}</li>'
            for a in p.get("authors", [])
            if not a.get("hidden")
        )
        cards.append(
            '<article class="paper-card flex flex-col">'
            f'<a class="thumb" href="/papers/{p["id"]}">'
            f'<img src="{html.escape(item.get("thumbnail", ""))}" alt="" loading="lazy"></a>'
            f'<div class="body"><h3 class="title"><a href="/papers/{p["id"]}">'
            f"{html.escape(p['title'])}</a></h3>"
            f'<ul class="authors">{authors}</ul>'
            f'<p class="abstract">{html.escape(p.get("summary", ""))}</p>'
            f'<div class="meta"><time datetime="{p.get("publishedAt", "")}">'
            f"{p.get('publishedAt', '')[:10]}</time>"
            f'<div class="upvotes" title="upvotes">{p.get("upvotes", 0)}</div>'
            f'<a class="comments" href="/papers/{p["id"]}#community">'
            f"{item.get('numComments', 0)}</a></div></div></article>"
        )
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Daily Papers - Hugging Face</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="stylesheet" href="/front/build/style.css"></head><body>'
        '<header class="nav"><nav><a href="/">Hugging Face</a><a href="/models">Models</a>'
        '<a href="/datasets">Datasets</a><a href="/spaces">Spaces</a><a href="/papers">Papers</a>'
        "</nav></header><main>"
    )
    island = (
        f'<div class="SVELTE_HYDRATER contents" data-target="DailyPapers" '
        f'data-props="{html.escape(props, quote=True)}">'
        '<section class="papers"><h2>Daily Papers</h2>' + "".join(cards) + "</section></div>"
    )
    tail = "</main>{pad}<footer><p>© Hugging Face</p></footer></body></html>"
    body = head + island
    pad_unit = (
        '<div class="promo"><p>Get trending papers in your email inbox!</p>'
        '<a class="btn" href="/settings/notifications">Subscribe</a></div>'
    )
    pad = ""
    missing = target_kb * 1024 - len(body.encode()) - len(tail)
    if missing > 0:
        pad = pad_unit * (missing // len(pad_unit) + 1)
    return (body + tail.format(pad=pad)).encode()


def hf_entries(count: int, source: str = "bench") -> list[Any]:
    """`count` distinct entries made from the HF fixture through the real HF source mapping."""
    from feedbridge.config import HfPapersConfig
    from feedbridge.core.models import Page
    from feedbridge.sources.hf_papers import HfPapersSource

    src = HfPapersSource(HfPapersConfig(name=source))
    base = src.extract(
        Page(url="https://huggingface.co/api/daily_papers", status=200, body=hf_api_bytes())
    )
    start = datetime(2026, 5, 8, 12, tzinfo=UTC)
    out = []
    for i in range(count):
        e = base[i % len(base)]
        cycle = i // len(base)
        out.append(
            e.__class__(
                source=source,
                key=f"{e.key}-{cycle}" if cycle else e.key,
                title=e.title if not cycle else f"{e.title} ({cycle})",
                link=f"{e.link}?v={cycle}" if cycle else e.link,
                summary=e.summary,
                content_html=e.content_html,
                published=e.published,
                updated=start - timedelta(minutes=i),
                authors=e.authors,
                score=e.score,
                image=e.image,
                extras=e.extras,
            )
        )
    return out


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def rows_json(rows: Iterable[Row]) -> list[dict[str, Any]]:
    return [r.as_json() for r in rows]
