"""What the identifier modules share: the ``(zh, en)`` pair a check returns, the ASCII digits, the
message for a character that should have been a digit."""

from __future__ import annotations

Msg = tuple[str, str]  # (zh, en)

DIGITS = frozenset("0123456789")


def not_a_digit(label_zh: str, label_en: str, part: str, first: int) -> Msg:
    """The message for the first character of ``part`` that is not a digit; ``part`` starts at character
    ``first`` (1-based) of the identifier. Called only when there is one: a valid value never pays for it."""
    pos, ch = next((i + first, c) for i, c in enumerate(part) if c not in DIGITS)
    return (
        f"{label_zh}第 {pos} 位应为数字,实际为“{ch}”",
        f"{label_en}: character {pos} must be a digit, got {ch!r}",
    )
