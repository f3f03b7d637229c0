"""The web service (``ecert serve``): server-rendered pages (zh-CN first, English switch) and the
REST API under ``/api/v1``, over the same services as the CLI. ``create_app`` is the factory;
no application object is built at import time."""

from ecert.entrypoints.web.app import create_app

__all__ = ["create_app"]
