"""One exception tree: every error feedbridge raises on purpose is a FeedbridgeError.

The exceptions: pydantic's validators raise ValueError (loading turns them into one
ConfigError), and a few internals raise what their caller turns into ours at once
(tests/test_errors.py keeps the list).
"""

from __future__ import annotations

from typing import Any

# Exit codes of the commands (documented in the README).
EXIT_OK = 0
EXIT_FAILED = 1  # a source or a delivery failed
EXIT_CONFIG = 2
EXIT_STORE = 3
EXIT_SERVER = 4  # `run` cannot listen on [server] host and port (in use, not allowed)
EXIT_BUSY = 5  # another feedbridge process already runs on this data directory


class FeedbridgeError(Exception):
    """Root of feedbridge's own errors."""


class ConfigError(FeedbridgeError):
    """The configuration is invalid; `problems` lists every `key.path: problem` found."""

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        self.problems = problems
        self.path = path
        where = f" in {path}" if path else ""
        super().__init__(f"invalid configuration{where}:\n  " + "\n  ".join(problems))


class StoreError(FeedbridgeError):
    """The store directory cannot be opened or written."""


class ServerError(FeedbridgeError):
    """The server cannot listen where the config says (the port is in use, say)."""


class BusyError(FeedbridgeError):
    """Another feedbridge process holds the data directory that this command needs alone."""


class SourceError(FeedbridgeError):
    """A source could not be fetched or parsed; names the source and URL and chains the cause."""

    def __init__(self, source: str, url: str, message: str) -> None:
        self.source = source
        self.url = url
        self.message = message
        super().__init__(f"source {source!r} ({url}): {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by its fields (it crosses from an extraction process), not its text."""
        return (_rebuild, (type(self), self.source, self.url, self.message), self.__dict__)


def _rebuild(cls: type[SourceError], source: str, url: str, message: str) -> SourceError:
    error = cls.__new__(cls)
    SourceError.__init__(error, source, url, message)
    return error


class FetchError(SourceError):
    """The HTTP fetch failed: connection, timeout, status, size cap."""

    def __init__(
        self,
        source: str,
        url: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(source, url, message)
        self.status = status
        self.retry_after = retry_after


class ParseError(SourceError):
    """The response was fetched but could not be turned into entries."""
