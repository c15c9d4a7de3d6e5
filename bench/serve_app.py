"""Bench-only launcher: feedbridge's Starlette app under uvicorn, serving one pre-rendered feed.

    python -m bench.serve_app PORT DIR [guarded|httptools|h11]

Renders a 100-entry feed named `papers` onto a FeedBoard (as Worker.publish does), writes the
same Atom bytes to DIR/feeds/papers.atom (for nginx to serve as a static file), then runs
uvicorn with the settings `feedbridge run` uses (log_level warning, no access log, lifespan
off; loop and HTTP parser left on "auto", so whatever is installed is what is measured).
A third argument picks the HTTP protocol (default `guarded`; `--only port` compares them):
`guarded` is what `feedbridge run` uses (app/guard.py), `httptools` uvicorn's own, `h11`
uvicorn's pure-Python one with its 16 KB bound on an incomplete request.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import uvicorn

from bench.common import LOCAL, hf_entries
from feedbridge.app.guard import guarded_protocol
from feedbridge.app.pages import SourceInfo
from feedbridge.app.server import create_app
from feedbridge.core.models import FeedInfo
from feedbridge.feeds.board import FeedBoard

NAME = "papers"
ENTRIES = 100


def main() -> None:
    port, out = int(sys.argv[1]), Path(sys.argv[2])
    base_url = f"http://{LOCAL}:{port}"
    entries = hf_entries(ENTRIES, NAME)
    info = FeedInfo(
        name=NAME,
        title="Hugging Face Daily Papers",
        link="https://huggingface.co/papers",
        self_url=f"{base_url}/feeds/{NAME}.atom",
        base_url=base_url,
        description="Hugging Face Daily Papers, via feedbridge",
    )
    board = FeedBoard()
    board.publish(info, entries, time.time()).rendered("atom")  # pre-rendered
    (out / "feeds").mkdir(parents=True, exist_ok=True)
    (out / "feeds" / f"{NAME}.atom").write_bytes(board.feeds[NAME].body("atom"))
    app = create_app(
        board,
        [SourceInfo(NAME, info.title, "hf_papers", info.link)],
        base_url=base_url,
    )
    protocol = sys.argv[3] if len(sys.argv) > 3 else "guarded"
    http: Any = guarded_protocol(1000, 10.0) if protocol == "guarded" else protocol
    config = uvicorn.Config(
        app, host=LOCAL, port=port, log_level="warning", lifespan="off", access_log=False,
        http=http,
    )  # fmt: skip
    stack = {
        "uvloop": find_spec("uvloop") is not None,
        "httptools": find_spec("httptools") is not None,
        "uvicorn": uvicorn.__version__,
    }
    (out / "stack.json").write_text(json.dumps(stack))
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
