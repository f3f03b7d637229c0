"""Holder images (signature, photo): which files are accepted, one rule for the import and for
``holder set-signature`` alike. Pure: callers pass the bytes they read."""

from __future__ import annotations

# PNG and JPEG only: the renderer embeds them as they are (R-DOC-1) and browsers show them (R-VER).
_MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
MAX_IMAGE_BYTES = 2 * 1024 * 1024
HEAD_BYTES = max(len(m) for m in _MAGIC)  # how much of a file tells its type


def image_type(head: bytes) -> str | None:
    """The media type of an image from its first bytes, or None if it is neither PNG nor JPEG."""
    return next((t for magic, t in _MAGIC.items() if head.startswith(magic)), None)
