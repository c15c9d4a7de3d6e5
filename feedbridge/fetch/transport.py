"""The network under the HTTP client: httpx over aiohttp, with the address policy on every
socket. A connection pool per rule: one for the hops the config chose (internal addresses
allowed, metadata refused), one for hops that come from a public address (internal refused
too, unless `[http] allow_private_redirects`) and, opened on first use, one for URLs typed
into the web page (internal refused always), so a kept-alive connection never carries a hop
past the check its pool applies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from feedbridge.fetch.addresses import AddressPolicy, Hop, socket_factory

if TYPE_CHECKING:
    from httpx_aiohttp import AiohttpTransport

READ_CHUNK = 256 * 1024  # bytes per read of a response body (the event loop reads up to 256 KB)
AFTER_PUBLIC = "feedbridge.after_public"  # request extension: this hop comes from a public address
TYPED = "feedbridge.typed"  # request extension: the URL was typed into the web page


class PolicyTransport(httpx.AsyncBaseTransport):
    """Sends a request through the pool its hop calls for (`AFTER_PUBLIC`)."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        self._policy, self._limits = policy, limits
        self._chosen = _transport(policy, limits, after_public=False)
        self._strict = _transport(policy, limits, after_public=True)
        self._typed: AiohttpTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.extensions.get(TYPED):
            if self._typed is None:
                self._typed = _transport(self._policy.for_typed(), self._limits, after_public=True)
            return await self._typed.handle_async_request(request)
        strict = bool(request.extensions.get(AFTER_PUBLIC))
        return await (self._strict if strict else self._chosen).handle_async_request(request)

    async def aclose(self) -> None:
        await self._chosen.aclose()
        await self._strict.aclose()
        if self._typed is not None:
            await self._typed.aclose()


def _transport(
    policy: AddressPolicy, limits: httpx.Limits, *, after_public: bool
) -> AiohttpTransport:
    """httpx-aiohttp's transport on a connector whose sockets the policy makes."""
    import aiohttp
    from httpx_aiohttp import AiohttpTransport

    class Transport(AiohttpTransport):
        """Bodies read in chunks of up to READ_CHUNK, not httpx-aiohttp's 16 KB: a
        350 KB page took 24 trips through three stream layers, now 2 to 6."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await super().handle_async_request(request)
            response.stream.CHUNK_SIZE = READ_CHUNK  # type: ignore[union-attr]
            return response

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            keepalive_timeout=limits.keepalive_expiry,
            ssl=httpx.create_ssl_context(),
            limit=limits.max_connections or 100,
            socket_factory=socket_factory(policy, after_public=after_public),
        )
        return aiohttp.ClientSession(connector=connector)

    return Transport(limits=limits, client=session)


class Peers:
    """Whether each origin's last new connection reached an internal address: a hop over a
    kept-alive connection opens no socket, so its address is the one its connection had."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._internal: dict[tuple[str, str, int | None], bool] = {}

    def came_from_public(self, url: httpx.URL, hop: Hop, after_public: bool) -> bool:
        """Whether a hop to `url` that connected as `hop` recorded ended on a public address
        (unknown counts as public: the next hop is then held to the stricter rule)."""
        key = (url.scheme, url.host, url.port)
        if hop.addresses:
            internal = all(self.policy.is_internal(a) for a in hop.addresses)
            self._internal[key] = internal
        else:
            internal = self._internal.get(key, False)
        return after_public or not internal
