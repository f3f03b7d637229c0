"""Entrypoints: the command-line interface (contract.md); later the web service and jobs."""
