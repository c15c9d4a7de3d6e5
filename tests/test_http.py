"""The HTTP client against a real local server: 429 waits, deadlines, size cap, 304."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from feedbridge.core.errors import FetchError
from feedbridge.fetch.http import HttpClient, HttpSettings, retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),
        ({"ratelimit": '"api";r=0;t=42'}, 42.0),
        ({"ratelimit": "limit=100, remaining=0, reset=30"}, 30.0),
        ({"ratelimit-reset": "12"}, 12.0),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_dates_and_ratelimit_headers(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after_seconds(headers) == expected


async def test_429_with_retry_after_is_waited_out_not_failed(httpserver: HTTPServer) -> None:
    calls: list[float] = []

    def handler(request: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response("slow down", status=429, headers={"Retry-After": "1"})
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/api").respond_with_handler(handler)
    async with HttpClient() as client:
        page = await client.fetcher("s").get(httpserver.url_for("/api"))
    assert page.status == 200
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.9


async def test_long_retry_after_becomes_an_error_carrying_the_wait(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/api").respond_with_data(
        "no", status=429, headers={"Retry-After": "3600"}
    )
    async with HttpClient() as client:
        with pytest.raises(FetchError) as caught:
            await client.fetcher("s").get(httpserver.url_for("/api"))
    assert caught.value.retry_after == 3600
    assert caught.value.status == 429
    assert "source 's'" in str(caught.value) and "/api" in str(caught.value)


async def test_conditional_get_sends_validators_and_reports_304(httpserver: HTTPServer) -> None:
    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response("<rss/>", headers={"ETag": '"v1"'})

    httpserver.expect_request("/feed").respond_with_handler(handler)
    validators: dict[str, object] = {}
    async with HttpClient() as client:
        fetcher = client.fetcher("s", validators)
        first = await fetcher.get(httpserver.url_for("/feed"))
        second = await fetcher.get(httpserver.url_for("/feed"))
    assert first.body == b"<rss/>" and not first.not_modified
    assert second.not_modified
    stored = validators[httpserver.url_for("/feed")]
    assert isinstance(stored, dict)
    assert stored["etag"] == '"v1"' and stored["last_modified"] is None


async def test_a_body_identical_to_the_last_is_reported_not_modified(
    httpserver: HTTPServer,
) -> None:
    bodies = iter([b"<p>one</p>", b"<p>one</p>", b"<p>two</p>", b"<p>two</p>"])
    httpserver.expect_request("/page").respond_with_handler(
        lambda request: Response(next(bodies), content_type="text/html")  # no validators
    )
    url = httpserver.url_for("/page")
    validators: dict[str, object] = {}
    async with HttpClient() as client:
        fetcher = client.fetcher("s", validators)
        pages = [await fetcher.get(url) for _ in range(3)]
        unconditional = await fetcher.get(url, conditional=False)
    assert [p.not_modified for p in pages] == [False, True, False]
    assert pages[2].body == b"<p>two</p>"
    assert not unconditional.not_modified and unconditional.body == b"<p>two</p>"


async def test_validators_the_caller_keeps_are_sent_and_replaced_in_place(
    httpserver: HTTPServer,
) -> None:
    """A followed paper's repos: conditional on the caller's own validators, which the answer
    replaces; the source's stored validators gain nothing."""
    seen: list[str | None] = []
    version = ["v1"]

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("If-None-Match"))
        etag = f'W/"{version[0]}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(version[0], headers={"ETag": etag, "Last-Modified": "Fri, 08 May 2026"})

    httpserver.expect_request("/repos").respond_with_handler(handler)
    url = httpserver.url_for("/repos")
    stored: dict[str, object] = {}
    mine: dict[str, object] = {}
    async with HttpClient() as client:
        fetcher = client.fetcher("s", stored)
        first = await fetcher.get(url, validators=mine)
        assert mine["etag"] == 'W/"v1"' and mine["last_modified"] == "Fri, 08 May 2026"
        second = await fetcher.get(url, validators=mine)
        version[0] = "v2"
        third = await fetcher.get(url, validators=mine)
        fresh = await fetcher.get(url, validators={})
    assert [first.not_modified, second.not_modified, third.not_modified] == [False, True, False]
    assert third.body == b"v2" and mine["etag"] == 'W/"v2"'
    assert seen == [None, 'W/"v1"', 'W/"v1"', None]
    assert not fresh.not_modified and stored == {}


async def test_the_same_body_under_the_callers_validators_is_not_modified(
    httpserver: HTTPServer,
) -> None:
    bodies = iter([b"{}", b"{}", b'{"models": []}'])
    httpserver.expect_request("/repos").respond_with_handler(
        lambda request: Response(next(bodies), content_type="application/json")  # no ETag
    )
    url = httpserver.url_for("/repos")
    mine: dict[str, object] = {}
    async with HttpClient() as client:
        fetcher = client.fetcher("s")
        pages = [await fetcher.get(url, validators=mine) for _ in range(3)]
    assert [p.not_modified for p in pages] == [False, True, False]
    assert mine["etag"] is None and isinstance(mine["digest"], str)


async def test_body_over_the_cap_is_cut_off(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 300_000)
    async with HttpClient(HttpSettings(max_body=100_000)) as client:
        with pytest.raises(FetchError, match="exceeds 100000 bytes"):
            await client.fetcher("s").get(httpserver.url_for("/big"))


async def test_a_dripping_server_is_cut_off_at_the_total_deadline(httpserver: HTTPServer) -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(100):  # 10 s of drip: far past the deadline, whatever the load
            yield b"x"
            time.sleep(0.1)

    httpserver.expect_request("/drip").respond_with_handler(lambda r: Response(drip()))
    async with HttpClient(HttpSettings(timeout=1.0)) as client:
        started = time.monotonic()
        with pytest.raises(FetchError, match="no complete response within 1s"):
            await client.fetcher("s").get(httpserver.url_for("/drip"))
    assert time.monotonic() - started < 5  # cut at 1 s; the drip would last 10 s


async def test_redirect_loop_is_a_named_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/loop").respond_with_data(
        "", status=302, headers={"Location": "/loop"}
    )
    async with HttpClient() as client:
        with pytest.raises(FetchError, match="too many redirects"):
            await client.fetcher("s").get(httpserver.url_for("/loop"))


async def test_connection_refused_is_a_named_error() -> None:
    async with HttpClient() as client:
        with pytest.raises(FetchError, match="connection failed"):
            await client.fetcher("s").get("http://127.0.0.1:9/")


async def test_unconditional_requests_leave_no_validators_behind(httpserver: HTTPServer) -> None:
    """URLs asked once each (a papers-day, a followed paper's repos) must not pile up in the
    source's stored state."""
    httpserver.expect_request("/api/arxiv/1/repos").respond_with_data("{}", headers={"ETag": "x"})
    httpserver.expect_request("/feed").respond_with_data("<rss/>", headers={"ETag": '"v1"'})
    validators: dict[str, object] = {}
    async with HttpClient() as client:
        fetcher = client.fetcher("s", validators)
        await fetcher.get(httpserver.url_for("/api/arxiv/1/repos"), conditional=False)
        await fetcher.get(httpserver.url_for("/feed"))
    assert list(validators) == [httpserver.url_for("/feed")]
