"""The direct reader of the signed document information (adapters/pdf_inspect.py) reads strings as pyHanko does."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.generic import read_string_from_stream

from ecert.adapters import pdf_inspect


@pytest.mark.parametrize(
    "literal",
    [
        rb"(plain ascii)",
        rb"(nested (balanced) parens)",
        rb"(escaped \( and \) and \\ backslash)",
        rb"(\376\377N-SN)",
        rb"(\0\12\123\1234 octal of 1, 2, 3 digits then a digit)",
        rb"(\n\r\t\b\f)",
        rb"(\\\\(x\\))",
        rb"(\376\377\000\(\000\))",
    ],
)
def test_literal_strings_decode_as_pyhanko_decodes_them(literal: bytes) -> None:
    ours, end = pdf_inspect._literal(literal + b" trailing", 1)
    assert end == len(literal)
    theirs = read_string_from_stream(io.BytesIO(literal))
    assert ours == theirs.original_bytes


@pytest.mark.parametrize("literal", [b"(line\\\ncontinuation)", b"(raw\rCR)", b"(unknown \\q escape)", b"(open"])
def test_unusual_strings_are_left_to_pyhanko(literal: bytes) -> None:
    with pytest.raises(pdf_inspect._Unsupported):
        pdf_inspect._literal(literal, 1)


def test_layout_needs_one_byte_range_covering_the_file() -> None:
    body = b"%PDF-1.7\n/ByteRange [0 40 50 5         ] /Contents <00ff>\n"
    assert pdf_inspect.whole_file_layout(body) is None  # ranges do not reach the end of the file
    twice = b"/ByteRange [0 1 2 3] /ByteRange [0 1 2 3]"
    assert pdf_inspect.whole_file_layout(twice) is None
    assert pdf_inspect.signed_metadata(b"garbage") is None
