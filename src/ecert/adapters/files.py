"""Files the operator names (a command's FILE, ``--out``, ``--out-dir``, ``--policy``): read or
written here, or a :class:`BadInput` whose detail carries a stable code (``file_*``, ``out_*``) and a
sentence that says what to do — never a raw ``[Errno 2]``. One helper for every command.

The path is shown as it was given, so the operator recognises it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import BinaryIO

from ecert.domain.errors import BadInput, Problem, coded_problem

_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def input_problem(path: Path, exc: OSError, *, row: int | None = None, column: str | None = None) -> Problem:
    """What went wrong opening or reading ``path``, as a coded problem."""
    shown = str(path)
    if exc.errno == errno.ENOENT:
        return coded_problem("file_not_found", row=row, column=column, path=shown)
    if exc.errno == errno.EISDIR or path.is_dir():
        return coded_problem("file_is_directory", row=row, column=column, path=shown)
    if exc.errno == errno.ENOTDIR:  # a part of the path is a file: the file cannot exist
        return coded_problem("file_not_found", row=row, column=column, path=shown)
    if exc.errno in _DENIED:
        return coded_problem("file_not_readable", row=row, column=column, path=shown)
    reason = exc.strerror or type(exc).__name__
    return coded_problem("file_read_failed", row=row, column=column, path=shown, reason=reason)


def output_problem(path: Path, exc: OSError, *, example: str = "out.pdf") -> Problem:
    """What went wrong writing ``path`` (a file or a directory to create), as a coded problem;
    ``example`` is a file name to suggest when ``path`` is a directory."""
    shown = str(path)
    if path.is_dir() and exc.errno in (errno.EISDIR, errno.EEXIST):
        return coded_problem("out_is_directory", path=shown, example=str(path / example))
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):  # a file stands where a directory must be
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        return coded_problem("out_not_a_directory", path=str(blocker))
    if exc.errno == errno.ENOENT:
        return coded_problem("out_dir_missing", path=shown, dir=str(path.parent))
    if exc.errno in _DENIED:
        return coded_problem("out_not_writable", path=shown)
    return coded_problem("out_write_failed", path=shown, reason=exc.strerror or type(exc).__name__)


def read_input(path: Path, *, max_bytes: int) -> bytes:
    """The whole file, or bad input that says what to do. At most ``max_bytes`` are read: a larger
    file (or ``/dev/zero``, a pipe that never ends) is refused after reading one byte more, so a
    command never runs out of memory on what it was given."""
    try:
        with open_input(path) as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise BadInput([input_problem(path, exc)]) from exc
    if len(data) > max_bytes:
        raise BadInput([coded_problem("file_too_large", path=str(path), limit=_size(max_bytes))])
    return data


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def open_input(path: Path) -> BinaryIO:
    """The file opened for reading (binary), or bad input that says what to do."""
    try:
        f = path.open("rb")
        if path.is_dir():  # some systems open a directory; reading it is never what was meant
            f.close()
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        return f
    except OSError as exc:
        raise BadInput([input_problem(path, exc)]) from exc


def check_output_file(path: Path, *, example: str = "out.pdf") -> None:
    """Before any work: ``path`` can be written as a file (its directory exists, it is not itself a
    directory, the directory is writable). So a bad ``--out`` changes nothing."""
    if path.is_dir():
        raise BadInput([coded_problem("out_is_directory", path=str(path), example=str(path / example))])
    parent = path.parent
    if not parent.exists():
        blocker = next((p for p in parent.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise BadInput([coded_problem("out_not_a_directory", path=str(blocker))])
        raise BadInput([coded_problem("out_dir_missing", path=str(path), dir=str(parent))])
    if not parent.is_dir():
        raise BadInput([coded_problem("out_not_a_directory", path=str(parent))])
    if not os.access(parent, os.W_OK | os.X_OK):
        raise BadInput([coded_problem("out_not_writable", path=str(path))])


def ensure_output_dir(path: Path) -> None:
    """Before any work: ``path`` is a directory (created with its parents if missing) that can be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput([output_problem(path, exc)]) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise BadInput([coded_problem("out_not_writable", path=str(path))])


def write_output(path: Path, data: bytes, *, example: str = "out.pdf") -> None:
    """Write ``data`` to ``path`` (replaced whole), or bad input that says what to do."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise BadInput([output_problem(path, exc, example=example)]) from exc


def decode_text(path: Path, data: bytes) -> str:
    """Text as the import reads it: UTF-8 (with or without a BOM), else GB18030 (Chinese Excel);
    anything else — a NUL byte, bytes neither can decode — is bad input naming the first bad row."""
    bad_at = data.find(b"\x00")
    if bad_at < 0:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            bad_at = exc.start
    row = data.count(b"\n", 0, bad_at) + 1
    raise BadInput([coded_problem("text_encoding_unsupported", row=row, name=path.name)])


def first_undecodable_row(path: Path, encoding: str, *, chunk: int = 1 << 20) -> int:
    """The line (1-based) holding the first byte ``encoding`` cannot decode, 1 if none is found.
    Read in pieces cut after a newline: 0x0A is never inside a UTF-8 or GB18030 character, so each
    piece decodes on its own and the error's position is exact. Used only once decoding has failed."""
    row = 1
    rest = b""
    with open_input(path) as f:
        while True:
            data = f.read(chunk)
            piece = rest + data
            cut = piece.rfind(b"\n") + 1 if data else len(piece)
            piece, rest = piece[:cut], piece[cut:]
            try:
                piece.decode(encoding)
            except UnicodeDecodeError as exc:
                return row + piece.count(b"\n", 0, exc.start)
            row += piece.count(b"\n")
            if not data:
                return 1


def read_text(path: Path, *, max_bytes: int) -> str:
    """A text file the operator named (UTF-8 or GB18030), or bad input that says what to do."""
    return decode_text(path, read_input(path, max_bytes=max_bytes))
