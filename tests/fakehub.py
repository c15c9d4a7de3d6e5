"""A local stand-in for the Hugging Face Hub's JSON API on pytest-httpserver: the repo listings,
one collection, a paper's linked repos. It answers the documented shapes (tests/data/hf/README.md
says where each comes from) with an ETag and 304, `Link: rel="next"` pagination by cursor, and
the 429 (with Retry-After) and 500 a test injects. `answers` says what each request sent
(If-None-Match, If-Modified-Since) and got (status, bytes)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import DATA

HF = DATA / "hf"
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_SORT_KEYS = ("createdAt", "lastModified", "likes", "downloads", "trendingScore")


def hub_items(name: str) -> Any:
    """A fixture of tests/data/hf, fresh each call (tests change them)."""
    return json.loads((HF / name).read_text())


@dataclass
class Fault:
    """The next `times` requests whose path starts with `path` get `status` (and `headers`)."""

    path: str
    status: int
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """One request the fake Hub answered: its conditional headers, the status and size."""

    path: str
    if_none_match: str | None
    if_modified_since: str | None
    status: int
    etag: str | None
    body: int  # bytes of the body
    wire: int  # bytes of the status line, the headers the Hub sets and the body


@dataclass
class FakeHub:
    server: HTTPServer
    repos: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            "model": hub_items("api_models.json"),
            "dataset": hub_items("api_datasets.json"),
            "space": hub_items("api_spaces.json"),
        }
    )
    collections: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_page: int = 1000  # the most items one page holds, whatever `limit` asks
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    conditional: bool = True  # False: an ETag on every answer, but never a 304

    def __post_init__(self) -> None:
        collection = hub_items("api_collection.json")
        self.collections[collection["slug"]] = collection
        self.server.expect_request(re.compile(r"^/api/.*")).respond_with_handler(self.handle)

    @property
    def base_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def paths(self, prefix: str = "/api/") -> list[str]:
        return [path for path, _ in self.requests if path.startswith(prefix)]

    def repo(self, repo_id: str) -> dict[str, Any]:
        for items in self.repos.values():
            for item in items:
                if item["id"] == repo_id:
                    return item
        raise KeyError(repo_id)

    def publish(self, kind: str, item: dict[str, Any]) -> None:
        self.repos[kind].append(item)

    def fail(self, path: str, status: int, times: int = 1, retry_after: str | None = None) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        self.faults.append(Fault(path, status, times, headers))

    def answered(self, prefix: str = "/api/") -> list[Answer]:
        return [a for a in self.answers if a.path.startswith(prefix)]

    def handle(self, request: Request) -> Response:
        args = {key: request.args.getlist(key) for key in request.args}
        self.requests.append((request.path, args))
        response = self._answer(request)
        body = len(response.get_data())
        head = len(f"HTTP/1.1 {response.status}\r\n\r\n") + sum(
            len(f"{name}: {value}\r\n") for name, value in response.headers.items()
        )
        self.answers.append(
            Answer(
                request.path,
                request.headers.get("If-None-Match"),
                request.headers.get("If-Modified-Since"),
                response.status_code,
                response.headers.get("ETag"),
                body,
                head + body,
            )
        )
        return response

    def _answer(self, request: Request) -> Response:
        for fault in self.faults:
            if fault.times > 0 and request.path.startswith(fault.path):
                fault.times -= 1
                return Response("upstream trouble", status=fault.status, headers=fault.headers)
        found = re.fullmatch(r"/api/(models|datasets|spaces)", request.path)
        if found:
            return self._listing(_TYPES[found[1]], request)
        found = re.fullmatch(r"/api/collections/([\w.-]+/[\w.-]+)", request.path)
        if found:
            collection = self.collections.get(found[1])
            if collection is None:
                return Response('{"error":"Collection not found"}', status=404)
            return self._json(request, collection)
        found = re.fullmatch(r"/api/arxiv/([\w.]+)/repos", request.path)
        if found:
            return self._json(request, self.linked(found[1]))
        return Response('{"error":"Not Found"}', status=404)

    def linked(self, arxiv_id: str) -> dict[str, list[dict[str, Any]]]:
        """`/api/arxiv/{id}/repos`: the repos whose tags cite the paper, by type."""
        tag = f"arxiv:{arxiv_id}"
        return {
            f"{kind}s": [copy.deepcopy(i) for i in items if tag in i.get("tags", ())]
            for kind, items in self.repos.items()
        }

    def _json(self, request: Request, data: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(data).encode()
        etag = f'W/"{hashlib.sha1(body).hexdigest()[:20]}"'
        if self.conditional and request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        all_headers = {"ETag": etag, **(headers or {})}
        return Response(body, content_type="application/json", headers=all_headers)

    def _listing(self, kind: str, request: Request) -> Response:
        args = request.args
        items = [i for i in self.repos[kind] if self._matches(i, request)]
        sort = args.get("sort")
        if sort in _SORT_KEYS:
            items.sort(key=lambda i: i.get(sort) or 0, reverse=args.get("direction") == "-1")
        size = min(int(args.get("limit", "1000")), self.max_page)
        start = int(args.get("cursor", "0"))
        page = items[start : start + size]
        expand = args.getlist("expand")
        if expand:  # "only the properties in the list will be returned" (huggingface_hub)
            page = [{k: v for k, v in i.items() if k in ("_id", "id", *expand)} for i in page]
        headers = {}
        if start + size < len(items):
            query = [(k, v) for k, v in args.items(multi=True) if k != "cursor"]
            query.append(("cursor", str(start + size)))
            headers["Link"] = f'<{self.base_url}{request.path}?{urlencode(query)}>; rel="next"'
        return self._json(request, page, headers)

    @staticmethod
    def _matches(item: dict[str, Any], request: Request) -> bool:
        args = request.args
        tags = set(item.get("tags", ())) | {item.get("pipeline_tag"), item.get("library_name")}
        if "author" in args and item.get("author") != args["author"]:
            return False
        if "search" in args and args["search"].lower() not in item["id"].lower():
            return False
        if "pipeline_tag" in args and item.get("pipeline_tag") != args["pipeline_tag"]:
            return False
        return all(tag in tags for tag in args.getlist("filter"))
