"""A test that needs a missing Debian program skips locally with the install command, and
fails in CI, which installs them all."""

from __future__ import annotations

import pytest

from tests.tools import require_tool


def test_a_missing_program_skips_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_tool("feedbridge-no-such-program", package="no-such-package")
    assert str(skipped.value) == (
        "feedbridge-no-such-program not found: install it with `apt-get install no-such-package`"
    )


def test_a_missing_program_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_tool("feedbridge-no-such-program", package="no-such-package")
    assert "CI must not skip" in str(failed.value)


def test_a_present_program_is_found_by_path() -> None:
    assert require_tool("feedbridge-no-such-program", "sh", package="dash").endswith("/sh")
