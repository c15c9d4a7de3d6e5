"""Paper artifacts (`hf_papers` with `artifacts = true`): the papers a target cares about are
followed for `follow_for` after their publication; each poll asks the Hub which models, datasets
and Spaces cite a few of them (`GET /api/arxiv/{id}/repos`, at most `follow_requests`), and the
first of each kind to appear after a paper's first check is an entry of its own, alerted once
("Weights released: org/model for “Title”"). The papers' own entries gain the links.
Each check is a conditional request on the paper's own ETag / Last-Modified (kept with the
paper, dropped with it): an unchanged paper costs a 304 and nothing to parse."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from html import escape
from typing import Any

from feedbridge.config.hub import ARXIV_ID, REPO_ID
from feedbridge.config.models import HfPapersConfig
from feedbridge.core.errors import FetchError, SourceError
from feedbridge.core.models import Entry
from feedbridge.sources.base import Fetcher
from feedbridge.sources.collect import Extraction
from feedbridge.sources.decoding import load_json
from feedbridge.sources.hf_papers import HfPapersSource
from feedbridge.sources.hub import hub_time, repo_extras, repo_html, repo_link, text
from feedbridge.sources.text import shorten

log = logging.getLogger("feedbridge.sources.hf_artifacts")

KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
ARTIFACT = {"model": "weights", "dataset": "dataset", "space": "demo"}
HEADLINE = {"model": "Weights released", "dataset": "Dataset released", "space": "Demo released"}
LINKS_KEPT = 3  # repo ids kept per kind for a paper's links
MAX_FOLLOWED = 1000  # the oldest papers beyond this are dropped: the state stays bounded
MAX_VALIDATOR = 200  # a longer ETag or Last-Modified is not kept (1000 papers' worth of state)
_VALIDATOR_KEYS = {"etag": "e", "last_modified": "m", "digest": "d"}  # as stored: short keys

# Whether some target would be sent this paper (its filters); set by the runtime.
Interest = Callable[[Entry, datetime], bool]


@dataclass(slots=True)
class Followed:
    """One followed paper: what an alert needs once the paper has left the listing."""

    title: str
    since: float  # its publication, epoch seconds: followed until since + follow_for
    upvotes: int | None = None
    checked: float | None = None  # None: never checked, so its first check is a baseline
    repos: dict[str, list[str]] = field(default_factory=dict)  # type -> first repo ids
    # the last answer's ETag, Last-Modified and body digest: the next check is conditional
    validators: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        checked = round(self.checked) if self.checked is not None else None
        out = {"t": self.title, "s": round(self.since), "u": self.upvotes, "c": checked}
        stored = {_VALIDATOR_KEYS[k]: v for k, v in self.validators.items()}
        return out | ({"r": self.repos} if self.repos else {}) | ({"v": stored} if stored else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Followed | None:
        title, since = data.get("t"), data.get("s")
        if not isinstance(title, str) or not isinstance(since, int | float):
            return None
        stored = data.get("r")
        repos: Mapping[str, Any] = stored if isinstance(stored, dict) else {}
        kept = {
            kind: [r for r in ids if isinstance(r, str)][:LINKS_KEPT]
            for kind, ids in repos.items()
            if kind in ARTIFACT and isinstance(ids, list)
        }
        checked, upvotes = data.get("c"), data.get("u")
        stored_validators = data.get("v")
        validators = (
            kept_validators({k: stored_validators.get(v) for k, v in _VALIDATOR_KEYS.items()})
            if isinstance(stored_validators, dict)
            else {}
        )
        return cls(
            title,
            float(since),
            upvotes if isinstance(upvotes, int) else None,
            float(checked) if isinstance(checked, int | float) else None,
            kept,
            validators,
        )


def kept_validators(answered: Mapping[str, Any]) -> dict[str, str]:
    """What a paper keeps of an answer's validators: its ETag and Last-Modified (for a 304)
    and the body's digest (a server that answers 200 all the same: the same body is then no
    news, nothing to parse); none longer than MAX_VALIDATOR."""
    return {
        key: value
        for key in _VALIDATOR_KEYS
        if isinstance(value := answered.get(key), str) and 0 < len(value) <= MAX_VALIDATOR
    }


class PaperFollower:
    """The followed papers of one source, their checks and the alerts they give."""

    def __init__(self, source: str, base_url: str, follow_for: timedelta, cap: int) -> None:
        self.source = source
        self.base_url = base_url
        self.follow_for = follow_for.total_seconds()
        self.cap = cap
        self.followed: dict[str, Followed] = {}
        self.wanted: Interest = lambda entry, now: True  # no target: the feed is the reader
        self.paused_until = 0.0  # a 429's Retry-After
        self.saved_at = 0.0
        self.requests = 0  # of the last poll
        self.unchanged = 0  # of the last poll's requests: a 304 (or the same body)

    def identity(self) -> dict[str, Any]:
        followed = {key: f.to_json() for key, f in self.followed.items()}
        return {"followed": followed, "at": self.saved_at, "paused_until": self.paused_until}

    def restore(self, saved: Mapping[str, Any]) -> None:
        """Take the stored follow list when it is newer than this one (another node polled)."""
        at, followed = saved.get("at"), saved.get("followed")
        if not isinstance(at, int | float) or at <= self.saved_at or not isinstance(followed, dict):
            return
        found = {k: Followed.from_json(v) for k, v in followed.items() if isinstance(v, dict)}
        self.followed = {k: f for k, f in found.items() if f and ARXIV_ID.fullmatch(k)}
        paused = saved.get("paused_until")
        self.paused_until = float(paused) if isinstance(paused, int | float) else 0.0
        self.saved_at = float(at)

    async def follow(self, fetcher: Fetcher, papers: list[Entry], now: datetime) -> list[Entry]:
        """The listed papers (with their artifacts' links) and an entry per newly released
        artifact; at most `cap` requests."""
        self.track(papers, now)
        alerts: list[Entry] = []
        self.requests = self.unchanged = 0
        for arxiv_id in self.due(now):
            try:
                alerts += await self.check(fetcher, arxiv_id, now)
            except FetchError as exc:
                if exc.status == 429:
                    wait = exc.retry_after if exc.retry_after is not None else 600.0
                    self.paused_until = now.timestamp() + wait
                    log.warning("artifact checks paused", extra={"source": self.source,
                                "url": exc.url, "seconds": wait})  # fmt: skip
                    break
                log.warning("artifact check failed", extra={"source": self.source,
                            "url": exc.url, "error": exc.message})  # fmt: skip
            except SourceError as exc:
                log.warning("artifact check failed", extra={"source": self.source,
                            "url": exc.url, "error": exc.message})  # fmt: skip
        self.saved_at = now.timestamp()
        return [self.with_links(paper) for paper in papers] + alerts

    def track(self, papers: list[Entry], now: datetime) -> None:
        """Follow the listed papers a target wants, within `follow_for` of their publication;
        forget those past it."""
        moment = now.timestamp()
        for paper in papers:
            born = (paper.published or paper.updated or now).timestamp()
            if not ARXIV_ID.fullmatch(paper.key) or moment - born > self.follow_for:
                continue
            upvotes = int(paper.score) if paper.score is not None else None
            known = self.followed.get(paper.key)
            if known is not None:
                known.title, known.upvotes = paper.title, upvotes
            elif self.wanted(paper, now):
                self.followed[paper.key] = Followed(paper.title, born, upvotes)
        self.followed = {
            key: f for key, f in self.followed.items() if moment - f.since <= self.follow_for
        }
        if len(self.followed) > MAX_FOLLOWED:
            newest = sorted(self.followed.items(), key=lambda kv: -kv[1].since)[:MAX_FOLLOWED]
            self.followed = dict(newest)

    def due(self, now: datetime) -> list[str]:
        """The papers to check this poll: never checked first (newest first), then the ones
        checked longest ago; none while the Hub's Retry-After runs."""
        if now.timestamp() < self.paused_until:
            return []
        order = sorted(
            self.followed.items(),
            key=lambda kv: (kv[1].checked is not None, kv[1].checked or -kv[1].since),
        )
        return [key for key, _ in order[: self.cap]]

    async def check(self, fetcher: Fetcher, arxiv_id: str, now: datetime) -> list[Entry]:
        """Ask which repos cite the paper; an entry for each kind that appeared since the last
        check (none on the first check: what is there then is the baseline). The request is
        conditional on the last answer's validators: a 304 (or the same body) is no news."""
        paper = self.followed[arxiv_id]
        url = f"{self.base_url}/api/arxiv/{arxiv_id}/repos"
        self.requests += 1
        validators: dict[str, Any] = dict(paper.validators)  # replaced by the answer's
        page = await fetcher.get(url, accept="application/json", validators=validators)
        if page.not_modified:
            self.unchanged += 1
            paper.checked = now.timestamp()
            paper.validators = kept_validators(validators)
            return []
        data = load_json(page, self.source)  # an unreadable answer keeps the old validators
        paper.validators = kept_validators(validators)
        first, paper.checked = paper.checked is None, now.timestamp()
        alerts = []
        for key, kind in KINDS.items():
            items = data.get(key) if isinstance(data, Mapping) else None
            repos = [i for i in items or () if isinstance(i, Mapping) and _repo_id(i)]
            if not repos or paper.repos.get(kind):
                continue
            repos.sort(key=_likes, reverse=True)
            paper.repos[kind] = [_repo_id(i) for i in repos[:LINKS_KEPT]]
            if not first:
                alerts.append(self.alert(arxiv_id, paper, kind, repos[0], len(repos)))
        return alerts

    def alert(
        self, arxiv_id: str, paper: Followed, kind: str, item: Mapping[str, Any], count: int
    ) -> Entry:
        """The entry that says a paper's first model, dataset or Space is out."""
        repo_id = _repo_id(item)
        link = repo_link(self.base_url, kind, repo_id)
        more = f" (+{count - 1} more)" if count > 1 else ""
        title = shorten(f"{HEADLINE[kind]}: {repo_id}{more} for “{paper.title}”", 300)
        paper_link = f"{self.base_url}/papers/{arxiv_id}"
        extras = repo_extras(item, kind, repo_id) | {
            "artifact": ARTIFACT[kind],
            "paper_id": arxiv_id,
            "paper_title": paper.title,
            "paper_link": paper_link,
        }
        summary = ""  # the title says it all; the paper's text stays with the paper's entry
        author = text(item.get("author"), 100) or repo_id.partition("/")[0]
        return Entry(
            source=self.source,
            key=f"{arxiv_id}:{ARTIFACT[kind]}",
            title=title,
            link=link,
            summary=summary,
            content_html=repo_html(summary, link, extras),
            published=hub_time(item.get("createdAt")),
            updated=hub_time(item.get("lastModified")),
            authors=(author,) if author else (),
            score=float(paper.upvotes) if paper.upvotes is not None else None,
            extras=extras,
        )

    def with_links(self, paper: Entry) -> Entry:
        """A listed paper's entry with its artifacts' links, once the Hub has some."""
        followed = self.followed.get(paper.key)
        if followed is None or not followed.repos:
            return paper
        repos = [
            {"type": kind, "id": repo_id, "link": repo_link(self.base_url, kind, repo_id)}
            for kind in ARTIFACT
            for repo_id in followed.repos.get(kind, ())
        ]
        anchors = " · ".join(
            f'<a href="{escape(r["link"])}">{escape(r["id"])}</a>' for r in repos
        )
        html = f"{paper.content_html}\n<p><strong>On the Hub:</strong> {anchors}</p>"
        return replace(paper, content_html=html, extras={**paper.extras, "repos": repos})


def _likes(item: Mapping[str, Any]) -> int:
    likes = item.get("likes")
    return likes if isinstance(likes, int) else 0


def _repo_id(item: Mapping[str, Any]) -> str:
    repo_id = item.get("id")
    return repo_id if isinstance(repo_id, str) and REPO_ID.fullmatch(repo_id) else ""


class ArtifactPapersSource(HfPapersSource):
    """hf_papers with `artifacts = true`: the listing, then the follower's checks."""

    def __init__(self, config: HfPapersConfig) -> None:
        super().__init__(config)
        self.follower = PaperFollower(
            self.name, self.base_url, config.follow_for, config.follow_requests
        )

    def identity(self) -> dict[str, Any]:
        return self.follower.identity()

    def restore_identity(self, saved: Mapping[str, Any]) -> None:
        self.follower.restore(saved)

    async def poll(self, fetcher: Fetcher, now: datetime) -> Extraction | None:
        listed = await super().poll(fetcher, now)
        if listed is None:
            return None
        entries = await self.follower.follow(fetcher, listed.entries, now)
        return replace(listed, entries=entries, items=len(entries))
