"""Where a sign-in may lead (``next``): only a path on this site (deps.is_local_path, R-ACC-1). A
browser reads ``/\\evil.example`` as ``//evil.example`` and drops tabs and newlines from a URL, so
those are open redirects too."""

from __future__ import annotations

import pytest

from ecert.entrypoints.web.deps import is_local_path


@pytest.mark.parametrize("path", ["/", "/me", "/me/applications?page=2", "/review#top", "/V/ABC%2F"])
def test_paths_on_this_site_are_local_R_ACC_1(path: str) -> None:
    assert is_local_path(path)


@pytest.mark.parametrize(
    "path",
    ["", "me", "//evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example", "https://evil.example",
     "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example", " /me", "/me evil"],
)  # fmt: skip
def test_anything_else_is_not_R_ACC_1(path: str) -> None:
    assert not is_local_path(path)
