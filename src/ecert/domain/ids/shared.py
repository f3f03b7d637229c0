"""What the identifier modules share: the ``(zh, en)`` pair a check returns, the ASCII digits."""

from __future__ import annotations

Msg = tuple[str, str]  # (zh, en)

DIGITS = frozenset("0123456789")
