"""Readers for registry import files: CSV (UTF-8 with or without BOM, GB18030) and XLSX, streaming."""
