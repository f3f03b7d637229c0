"""The web service (``ecert serve``): server-rendered pages (zh-CN first, English switch) and the
REST API under ``/api/v1``, over the same services as the CLI. ``create_app`` (app.py) is the
factory; no application object is built at import time, and importing one module of the package
does not import the others (the package's modules import each other without a cycle)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecert.entrypoints.web.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from ecert.entrypoints.web.app import create_app

        return create_app
    raise AttributeError(name)
