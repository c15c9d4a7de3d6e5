"""Who may see and who may change: the web pages' access rules, sign-in and cross-site checks.

Editing is allowed when `server.token` is set (sign in with it once: a signed session cookie,
HttpOnly, SameSite=Strict) or when the server listens on loopback only (and its base URL is
local too: a public base URL means a proxy publishes it). Otherwise the pages are read-only
and say how to enable editing. Every form carries a token tied to the session, and a POST
from another site (its Origin or Sec-Fetch-Site says so) is refused whatever it carries.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request

SESSION_COOKIE = "feedbridge_session"
SESSION_DAYS = 30
LOGIN_FAILURES = 10  # failed sign-ins per client in LOGIN_WINDOW before it must wait
LOGIN_WINDOW = 600.0


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 with or without brackets) is this machine."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Access:
    """The access rules of one server: its token (None: none set), whether it is reachable
    only from this machine, and the secret its session cookies and form tokens are signed
    with (from the token, so every node of a shared store accepts the same sign-in)."""

    token: str | None
    local_only: bool
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    failures: dict[str, deque[float]] = field(default_factory=dict)

    @classmethod
    def for_server(cls, token: str | None, host: str, base_url: str) -> Access:
        local = is_loopback(host) and is_loopback(urlsplit(base_url).hostname or "")
        access = cls(token, local)
        if token:
            access.secret = hashlib.sha256(b"feedbridge pages\0" + token.encode()).digest()
        return access

    @property
    def editable(self) -> bool:
        """Whether anybody may edit here at all (after signing in, with a token)."""
        return bool(self.token) or self.local_only

    @property
    def why_read_only(self) -> str:
        return (
            "Editing is off: this server is reachable from other machines and has no token. "
            "Set [server] token in the config (then sign in here), or listen on 127.0.0.1 only."
        )

    def signed_in(self, request: Request) -> bool:
        """With a token: this session signed in with it. Without: nobody needs to."""
        if not self.token:
            return True
        return bool(request.session.get("auth"))

    def may_view(self, request: Request) -> bool:
        """With a token: signed in, or the token given as `?token=` or a bearer token."""
        if not self.token or self.signed_in(request):
            return True
        given = request.query_params.get("token", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def may_edit(self, request: Request) -> bool:
        return self.editable and self.signed_in(request)

    def csrf_token(self, request: Request) -> str:
        """The token every form of this session carries (the session gets an id if new)."""
        sid = request.session.get("sid")
        if not isinstance(sid, str):
            sid = request.session["sid"] = secrets.token_urlsafe(18)
        return hmac.new(self.secret, sid.encode(), hashlib.sha256).hexdigest()

    def cross_site(self, request: Request, given: str) -> str | None:
        """Why a POST is refused as a cross-site request (None: it is this site's form)."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return f"sent from another site (Sec-Fetch-Site: {site})"
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
            return "sent from another site (its Origin is not this server)"
        sid = request.session.get("sid")
        if not isinstance(sid, str) or not given:
            return "the form has no valid token (reload the page and try again)"
        if not hmac.compare_digest(given, self.csrf_token(request)):
            return "the form's token is not this session's (reload the page and try again)"
        return None

    def sign_in(self, request: Request, given: str) -> bool:
        """Check the token typed into the sign-in form; on success the session is signed in
        (with a new id: a session fixed before signing in is not the one signed in)."""
        if not self.token or not hmac.compare_digest(given.encode(), self.token.encode()):
            return False
        request.session.clear()
        request.session.update(auth=True, sid=secrets.token_urlsafe(18))
        return True

    def throttled(self, client: str, now: float | None = None) -> bool:
        """Whether `client` failed to sign in too often lately; call `failed` after a miss."""
        now = time.monotonic() if now is None else now
        recent = self.failures.get(client)
        if recent is None:
            return False
        while recent and recent[0] < now - LOGIN_WINDOW:
            recent.popleft()
        return len(recent) >= LOGIN_FAILURES

    def failed(self, client: str, now: float | None = None) -> None:
        if len(self.failures) > 10_000:  # bounded, whoever knocks
            self.failures.clear()
        self.failures.setdefault(client, deque()).append(time.monotonic() if now is None else now)


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
