"""Live reload of a running `feedbridge run`: SIGHUP and a file edit add, change and remove
sources and a target without a restart; a bad edit keeps the running config.

The sources are RSS feeds on a local site, the targets webhooks (Apprise's json://) on a
local receiver. Every source has a long interval: it is polled at start, and again only
because a reload made it so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest

from feedbridge.app.reload import plan
from feedbridge.config import load_config
from tests.cluster import wait_until
from tests.conftest import Receiver
from tests.live import Node, Site, new_port, running, serve_site


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site(Site()) as served:
        yield served


def config_text(port: int, site: Site, sources: dict[str, str], targets: dict[str, str]) -> str:
    """A config: each source a feed of `site` with its extra lines, each target a hook."""
    text = f'[storage]\npath = "data"\n[server]\nport = {port}\n'
    for name, extra in sources.items():
        text += f'[[sources]]\nname = "{name}"\nkind = "feed"\n'
        text += f'url = "{site.url(f"/feed/{name}.xml")}"\n{extra}\n'
        text += "" if "interval" in extra else 'interval = "1h"\n'
    for url, extra in targets.items():
        text += f'[[targets]]\nurl = "{url}"\n{extra}\n'
    return text


def pg_config(pg_url: str, port: int, sources: str, pages_on: int | None = None) -> str:
    """A node's config on the shared store (a 5 s lease) serving on `port`; with `pages_on`,
    the web pages edit (the base URL is that node's, private URLs allowed: the local site)."""
    pages = f'base_url = "http://127.0.0.1:{pages_on}"\nprivate_urls = true\n' if pages_on else ""
    return (f'[storage]\nurl = "{pg_url}"\nlease = "5s"\n[server]\nport = {port}\n{pages}'
            f"{sources}")  # fmt: skip


def node_paths(tmp_path: Path, count: int) -> list[Path]:
    """node0/config.toml, node1/config.toml, ...: one working directory a node."""
    paths = []
    for n in range(count):
        (tmp_path / f"node{n}").mkdir()
        paths.append(tmp_path / f"node{n}" / "config.toml")
    return paths


def feed_source(name: str, url: str) -> str:
    return f'[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\ninterval = "1h"\n'


def csrf_of(browser: httpx.Client) -> str:
    """The form token of `browser`'s session on the page it talks to."""
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', browser.get("/sources/new").text)
    assert found
    return found[1]


def save_on_page(base: str, form: dict[str, str], name: str | None = None) -> None:
    """A feed source saved through a node's web page: new, or the page-made `name` edited."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        path = f"/sources/{name}/edit" if name else "/sources/new/edit"
        saved = browser.post(path, data={"csrf": csrf_of(browser), "kind": "feed",
                                          "interval": "1h", "action": "save", **form})  # fmt: skip
        assert saved.status_code == 303, saved.text


def wait_received(hook: Receiver, count: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while len(hook.received) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return hook.titles


def test_sighup_and_file_edits_change_sources_and_targets_without_a_restart(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    second = Receiver(receiver.server)
    receiver.server.expect_request("/hook2").respond_with_handler(second.handle)
    hook1, hook2 = receiver.url("/hook"), receiver.url("/hook2")
    site.feeds.update(a=["a0", "a1"], b=["b0", "b1"], c=["c0"])
    port, path = new_port(), tmp_path / "config.toml"
    path.write_text(config_text(port, site, {"a": "", "b": ""}, {hook1: 'name = "t1"'}))
    with running(path, tmp_path, port) as node:
        node.wait_log(r"poll done source=a ")
        node.wait_log(r"poll done source=b ")

        # SIGHUP: a changed (and has a new entry), b removed, c added; t1 changed, t2 added
        site.feeds["a"].append("a2")
        mark = node.mark
        path.write_text(config_text(
            port, site, {"a": 'title = "A renamed"', "c": ""},
            {hook1: 'name = "t1"\ntitle = "[t1] {{ title }}"', hook2: 'name = "t2"'},
        ))  # fmt: skip
        node.hup()
        node.wait_log(
            r"config reloaded why=SIGHUP added=c removed=b changed=a targets_added=t2 "
            r"targets_changed=t1", after=mark,
        )  # fmt: skip
        assert node.logged(r"source removed, its feed now answers 410 source=b", mark)
        node.wait_log(r"poll done source=a entries=3 new=1 queued=1", after=mark)
        node.wait_log(r"poll done source=c ", after=mark)
        assert wait_received(receiver, 1) == ["[t1] a2"], "t1's new template, a's new entry"
        gone = node.get("/feeds/b.atom")
        assert gone.status_code == 410 and "removed" in gone.text
        assert node.get("/feeds/nothing.atom").status_code == 404, "never configured: 404"
        assert feedparser.parse(node.get("/feeds/a.atom").content).feed.title == "A renamed"
        assert [e.title for e in feedparser.parse(node.get("/feeds/c.atom").content).entries] \
            == ["c0"]  # fmt: skip

        # a file edit alone (its modification time): a changed again, with one more entry
        site.feeds["a"].append("a3")
        mark = node.mark
        path.write_text(config_text(
            port, site, {"a": 'title = "A renamed"\ninterval = "2h"', "c": ""},
            {hook1: 'name = "t1"\ntitle = "[t1] {{ title }}"', hook2: 'name = "t2"'},
        ))  # fmt: skip
        node.wait_log(r'config reloaded why="config file changed" changed=a$', after=mark)
        node.wait_log(r"poll done source=a entries=4 new=1 queued=2", after=mark)
        assert wait_received(receiver, 2) == ["[t1] a2", "[t1] a3"]
        assert wait_received(second, 1) == ["a3"], "t2 started with a baseline: only a3"

        # a bad edit: logged, and everything keeps running as it was
        mark = node.mark
        path.write_text(path.read_text() + '[[sources]]\nname = "BAD"\nkind = "feed"\n')
        line = node.wait_log(r"config reload failed, the running config stays", after=mark)
        assert 'problems="sources[2].name: invalid name "BAD" (lowercase' in node.lines[line]
        assert node.get("/feeds/a.atom").status_code == 200
        assert node.get("/feeds/c.atom").status_code == 200
        assert node.get("/feeds/b.atom").status_code == 410
        index = node.get("/").text
        assert "the running one stays as it was" in index
        assert "sources[2].name: invalid name &#34;BAD&#34;" in index, "and on the page"

        # fixed, and t1 removed
        mark = node.mark
        path.write_text(config_text(
            port, site, {"a": 'title = "A renamed"\ninterval = "2h"', "c": ""},
            {hook2: 'name = "t2"'},
        ))  # fmt: skip
        node.wait_log(r"config reloaded why=.* targets_removed=t1", after=mark)
        node.wait_log(r"target removed target=t1 left_queued=0", after=mark)
        assert "invalid name" not in node.get("/").text, "the page's problems went with it"
        assert node.proc.poll() is None and len(node.logged(r" INFO feedbridge serving ")) == 1
    assert receiver.titles == ["[t1] a2", "[t1] a3"], "no entry twice"
    assert second.titles == ["a3"]
    assert site.hits["/feed/b.xml"] == 1, "b was never polled after its removal"
    assert site.hits["/feed/a.xml"] == 3, "a: at start and after each of its two changes"


def test_a_reload_plan_names_what_changed_and_what_waits_for_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    base = '[[sources]]\nname = "a"\nkind = "feed"\nurl = "https://x/a"\n'
    path.write_text(base + '[[targets]]\nname = "t"\nurl = "json://localhost"\n')
    old = load_config(path)
    path.write_text(
        '[server]\nport = 9999\n' + base.replace("x/a", "x/a2")
        + '[[sources]]\nname = "b"\nkind = "feed"\nurl = "https://x/b"\n'
    )  # fmt: skip
    changes = plan(old, load_config(path))
    assert changes.fields() == {
        "added": "b", "changed": "a", "targets_removed": "t", "restart": "server"
    }  # fmt: skip
    assert plan(old, old).fields() == {}


def test_on_postgresql_a_source_made_on_one_nodes_page_is_polled_once_and_served_by_all(
    tmp_path: Path, site: Site, pg_url: str
) -> None:
    site.feeds.update(news=["n0"], shared=["s0", "s1"])
    ports = [new_port(), new_port()]
    nodes = node_paths(tmp_path, 2)
    for path, port in zip(nodes, ports, strict=True):
        path.write_text(pg_config(pg_url, port, feed_source("news", site.url("/feed/news.xml")),
                                  pages_on=ports[0]))  # fmt: skip
    with running(nodes[0], tmp_path / "node0", ports[0]) as a, \
            running(nodes[1], tmp_path / "node1", ports[1]) as b:  # fmt: skip
        marks = (a.mark, b.mark)
        save_on_page(a.base, {"name": "shared", "url": site.url("/feed/shared.xml")})
        a.wait_log(r"config reloaded why=\"source shared saved on the web page\" added=shared",
                   after=marks[0])  # fmt: skip
        b.wait_log(r"config reloaded why=\"page-made sources changed\" added=shared",
                   after=marks[1])  # fmt: skip
        tags = []
        for node in (a, b):
            deadline = time.monotonic() + 60
            while (answer := node.get("/feeds/shared.atom")).status_code != 200 \
                    or len(feedparser.parse(answer.content).entries) != 2:  # fmt: skip
                assert time.monotonic() < deadline, f"{node.base} never served it"
                time.sleep(0.2)
            tags.append(answer.headers["etag"])
        assert tags[0] == tags[1], "every node serves the same bytes"
        polls = a.logged(r"poll done source=shared ") + b.logged(r"poll done source=shared ")
        assert len(polls) == 1 and site.hits["/feed/shared.xml"] == 1, "polled by one node"
        page = b.get("/sources/shared")
        assert page.status_code == 200 and "made on this page" in page.text

        # edited on the other node's page: both reload it, it is polled again, seen entries kept
        site.feeds["shared"].append("s2")
        marks = (a.mark, b.mark)
        form = {"url": site.url("/feed/shared.xml"), "feed_title": "Shared, renamed"}
        save_on_page(b.base, form, name="shared")
        a.wait_log(r"config reloaded why=\"page-made sources changed\" changed=shared$",
                   after=marks[0])  # fmt: skip
        b.wait_log(r"config reloaded why=\"source shared saved on the web page\" changed=shared$",
                   after=marks[1])  # fmt: skip
        served = []
        for node in (a, b):
            deadline = time.monotonic() + 60
            while (feed := feedparser.parse(node.get("/feeds/shared.atom").content)).feed.get(
                "title") != "Shared, renamed" or len(feed.entries) != 3:  # fmt: skip
                assert time.monotonic() < deadline, (
                    f"{node.base} serves {feed.feed.get('title')!r}, "
                    f"{[e.title for e in feed.entries]}; the log since the edit: "
                    f"{a.logged('shared', marks[0])} {b.logged('shared', marks[1])}"
                )
                time.sleep(0.2)
            served.append([e.title for e in feed.entries])
        assert served == [["s2", "s1", "s0"]] * 2
        news = a.logged(r"poll done source=shared ", marks[0]) \
            + b.logged(r"poll done source=shared ", marks[1])  # fmt: skip
        assert news and sum(int(re.findall(r" new=(\d+)", line)[0]) for line in news) == 1, \
            f"only s2 is new: the seen entries were kept ({news})"  # fmt: skip

        marks = (a.mark, b.mark)
        with httpx.Client(base_url=a.base, timeout=30) as browser:
            deleted = browser.post("/sources/shared/delete", data={"csrf": csrf_of(browser)})
        assert deleted.status_code == 303
        b.wait_log(r"source removed, its feed now answers 410 source=shared", after=marks[1])
        assert [n.get("/feeds/shared.atom").status_code for n in (a, b)] == [410, 410]


def test_on_postgresql_a_source_edited_on_the_page_is_polled_once_across_three_nodes(
    tmp_path: Path, site: Site, pg_url: str
) -> None:
    # the edit moves the source to another URL: a fetch of the old one after it is a poll
    # with the old config, each fetch of the new one a poll with the new
    site.feeds.update(news=["n0"], old=["o0", "o1"], new=["o0", "o1", "o2"])
    ports = [new_port() for _ in range(3)]
    configs = node_paths(tmp_path, 3)
    for path, port in zip(configs, ports, strict=True):
        path.write_text(pg_config(pg_url, port, feed_source("news", site.url("/feed/news.xml")),
                                  pages_on=ports[0]))  # fmt: skip

    def save(node: Node, url: str, title: str, new: bool) -> None:
        form = {"name": "shared", "url": url, "feed_title": title}
        save_on_page(node.base, form, name=None if new else "shared")

    with running(configs[0], tmp_path / "node0", ports[0]) as a, \
            running(configs[1], tmp_path / "node1", ports[1]) as b, \
            running(configs[2], tmp_path / "node2", ports[2]) as c:  # fmt: skip
        nodes = (a, b, c)
        marks = [n.mark for n in nodes]
        save(a, site.url("/feed/old.xml"), "Shared", new=True)
        for node, mark in zip(nodes, marks, strict=True):
            node.wait_log(r"config reloaded why=.* added=shared", after=mark)
        assert wait_until(lambda: site.hits["/feed/old.xml"] >= 1, 60), "never polled"

        marks = [n.mark for n in nodes]
        before = site.hits["/feed/old.xml"]
        save(b, site.url("/feed/new.xml"), "Shared, moved", new=False)
        for node, mark in zip(nodes, marks, strict=True):
            node.wait_log(r"config reloaded why=.* changed=shared$", after=mark)
        assert wait_until(lambda: site.hits["/feed/new.xml"] >= 1, 60), "never re-polled"
        # every node runs the new config now: a second poll would come within a claim tick
        # or two; three seconds of quiet show there is none
        more = wait_until(
            lambda: site.hits["/feed/new.xml"] + site.hits["/feed/old.xml"] - before > 1, 3
        )
        polls = [n.logged(r"shared", m) for n, m in zip(nodes, marks, strict=True)]
        assert not more and site.hits["/feed/new.xml"] == 1, (
            f"polled more than once: {dict(site.hits)}; the nodes' logs since the edit: {polls}"
        )
        assert site.hits["/feed/old.xml"] == before, "no poll of the old config after the edit"
        for node in nodes:  # each serves what the new config's poll wrote

            def moved(node: Node = node) -> bool:
                feed = feedparser.parse(node.get("/feeds/shared.atom").content)
                titles = [e.title for e in feed.entries]
                return feed.feed.get("title") == "Shared, moved" and "o2" in titles

            assert wait_until(moved, 60), f"{node.base} never served the moved feed"


def test_on_postgresql_a_source_changed_in_every_nodes_file_is_polled_once(
    tmp_path: Path, site: Site, pg_url: str
) -> None:
    """The same edit in each node's file, one after the other (as an operator goes from node
    to node): the first node to reload it polls it, the later ones find it done."""
    site.feeds.update(old=["o0"], new=["o0", "o1"])
    ports = [new_port(), new_port()]

    def config(port: int, path: str) -> str:
        return pg_config(pg_url, port, feed_source("moved", site.url(path)))

    paths = node_paths(tmp_path, 2)
    for path, port in zip(paths, ports, strict=True):
        path.write_text(config(port, "/feed/old.xml"))
    with running(paths[0], tmp_path / "node0", ports[0]) as a, \
            running(paths[1], tmp_path / "node1", ports[1]) as b:  # fmt: skip
        assert wait_until(lambda: site.hits["/feed/old.xml"] >= 1, 60), "never polled"
        marks = (a.mark, b.mark)
        before = site.hits["/feed/old.xml"]
        paths[0].write_text(config(ports[0], "/feed/new.xml"))
        a.wait_log(r'config reloaded why="config file changed" changed=moved$', after=marks[0])
        assert wait_until(lambda: site.hits["/feed/new.xml"] >= 1, 60), \
            f"never re-polled with the new config: {dict(site.hits)}"  # fmt: skip
        paths[1].write_text(config(ports[1], "/feed/new.xml"))
        b.wait_log(r'config reloaded why="config file changed" changed=moved$', after=marks[1])
        more = wait_until(lambda: site.hits["/feed/new.xml"] > 1, 3)
        logs = [n.logged(r"moved", m) for n, m in zip((a, b), marks, strict=True)]
        assert not more and site.hits["/feed/new.xml"] == 1, f"{dict(site.hits)}: {logs}"
        assert site.hits["/feed/old.xml"] == before, "no poll of the old config after the edit"
