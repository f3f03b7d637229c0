"""Entrypoints: the command-line interface (docs/cli.md); later the web service and jobs."""
