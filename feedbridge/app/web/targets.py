"""The targets page: each target with its URLs (secrets masked), the format each URL gets, its
filters, queue depth, next digest and failed deliveries with their reasons, and a button that
sends a test message and shows Apprise's answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from feedbridge.app.reload import Reloader
from feedbridge.app.runtime import Runtime
from feedbridge.app.web.render import page
from feedbridge.config import TargetConfig
from feedbridge.core.durations import format_duration
from feedbridge.messages.check import SAMPLE_ENTRY
from feedbridge.messages.templates import entry_message
from feedbridge.notify.channel import TargetChannel
from feedbridge.notify.digest import next_fire

SHOWN_FAILED = 20


@dataclass
class TargetPages:
    """The handlers of the targets page."""

    rt: Runtime
    reloader: Reloader

    async def list(self, request: Request, tested: dict[str, Any] | None = None) -> Response:
        config = self.reloader.config
        shown = await asyncio.to_thread(
            lambda: [self._target(t) for t in config.targets if t.name in self.rt.notifier.channels]
        )
        return page(request, "targets.html", {"targets": shown, "tested": tested or {}})

    def _target(self, target: TargetConfig) -> dict[str, Any]:
        """One target as the page shows it (reads its queue and failed log from the store)."""
        channel = self.rt.notifier.channels[target.name]
        store = self.rt.store
        state = store.target_state(target.name)
        spec = channel.digest
        return {
            "name": target.name,
            "urls": channel.describe(),  # (masked URL, what it sends: format, mentions, overflow)
            "sources": ", ".join(target.sources) if target.sources is not None else "all",
            "filters": _filters(target),
            "digest": f"{target.digest} ({spec.tz.key})" if spec else None,
            "next_digest": next_fire(spec, time.time()) if spec else None,
            "queued": store.pending_count(target.name),
            "failed": store.failed(target.name)[-SHOWN_FAILED:][::-1],
            "state": state,
            "health": target.health,
        }

    async def test(self, request: Request) -> Response:
        """Send a sample entry through every URL of the target; show each URL's answer."""
        name = request.path_params["name"]
        channel = self.rt.notifier.channels.get(name)
        if channel is None:
            return page(request, "message.html", {
                "title": "Not found", "message": f"There is no target named {name!r}.",
                "problems": [],
            }, 404)  # fmt: skip
        answers = await _send_test(channel, self.reloader.config.server.base_url)
        shown = channel.describe()
        results = [(shown[i][0], reason) for i, reason in sorted(answers.items())]
        return await self.list(request, tested={"name": name, "results": results})


async def _send_test(channel: TargetChannel, link: str) -> dict[int, str | None]:
    sample = replace(SAMPLE_ENTRY, link=link, extras={})
    try:
        return await asyncio.wait_for(
            channel.send_all(lambda dialect: entry_message(sample, dialect, channel.templates)), 60
        )
    except TimeoutError:
        return dict.fromkeys(range(len(channel.urls)), "no answer within 60 s")


def _filters(target: TargetConfig) -> str:
    found = [f"min_score {target.min_score:g}"] if target.min_score is not None else []
    found += [f"include {', '.join(target.include)}"] if target.include else []
    found += [f"exclude {', '.join(target.exclude)}"] if target.exclude else []
    found += [f"max_age {format_duration(target.max_age)}"] if target.max_age else []
    return "; ".join(found) or "none"
