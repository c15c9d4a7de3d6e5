"""Values the config read from `${ENV}` or a `*_file`: masked wherever a URL is shown,
logged or published (`url = "...?api_key=${KEY}"` must not reach a feed's links)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

MIN_SECRET = 4  # shorter values (a port, a page number) would mask unrelated text
MASK = "***"


class Secrets:
    """A set of secret values, each also in its percent-encoded forms (as it sits in a URL)."""

    __slots__ = ("_forms", "values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = tuple(sorted({v for v in values if len(v) >= MIN_SECRET}))
        forms = {f for v in self.values for f in (v, quote(v, safe=""), quote_plus(v), quote(v))}
        self._forms = tuple(sorted(forms, key=len, reverse=True))  # longest first

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secrets) and other.values == self.values

    def __hash__(self) -> int:
        return hash(self.values)

    def hides(self, text: str) -> bool:
        """Whether `text` holds a secret."""
        return any(form in text for form in self._forms)

    def mask(self, text: str) -> str:
        """`text` with each secret replaced by `***`: for error text and logs."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def public_url(self, url: str) -> str:
        """`url` without its secrets, for a link someone follows: query parameters and user
        info holding one are dropped, the path is cut before the segment that holds one (a
        whole URL from a secret keeps its scheme and host); "" when the host holds one."""
        if not self.hides(url):
            return url
        parts = urlsplit(url)
        userinfo, _, host = parts.netloc.rpartition("@")
        if self.hides(host):
            return ""
        netloc = parts.netloc if userinfo and not self.hides(userinfo) else host
        kept: list[str] = []
        for segment in parts.path.split("/"):
            if self.hides(segment):
                kept.append("")
                break
            kept.append(segment)
        path = "/".join(kept)
        query = "&".join(p for p in parts.query.split("&") if p and not self.hides(p))
        fragment = "" if self.hides(parts.fragment) else parts.fragment
        public = urlunsplit((parts.scheme, netloc, path, query, fragment))
        return public if not self.hides(public) else urlunsplit((parts.scheme, host, "/", "", ""))


NO_SECRETS = Secrets()
