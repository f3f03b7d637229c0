"""Entrypoints: the command line (``cli``, per docs/cli.md), the web service (``web``) and the jobs
(``jobs``). Thin: each parses its input, calls a use case from ``services`` and renders the result."""
