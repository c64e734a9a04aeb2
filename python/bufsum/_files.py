"""Summing raw binary and ``.npy`` files through ``mmap`` (``python -m bufsum FILE``).

The elements are reduced where they lie in the mapped file by ``_bufsum._reduce_bytes``, which
reads any byte order, float16, complex and Fortran order: a ``.npy`` file gives the bits that
``bufsum.sum(numpy.load(file))`` gives, without NumPy.
"""

from __future__ import annotations

import ast
import math
import mmap
import re
import struct
import time
from typing import IO, Any, Literal, NamedTuple

from . import _bufsum

# numpy type strings (kind + size) -> struct codes.
_NPY: dict[str, str] = {
    "b1": "?", "i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "i8": "q", "u8": "Q",
    "f2": "e", "f4": "f", "f8": "d", "c8": "Zf", "c16": "Zd",
}
_NPY_KEYS = {"descr", "fortran_order", "shape"}
_NPY_MAGIC = b"\x93NUMPY"
# numpy.load refuses longer headers by default (they are parsed with ast.literal_eval).
_NPY_MAX_HEADER = 10_000
_FORMAT = re.compile(r"[@=<>!]?(Z[fd]|[bBhHiIlLqQnN?efd])")
CODES = "b B h H i I l L q Q n N ? e f d Zf Zd"
# Files this large get a progress bar on a terminal.
PROGRESS_MIN_BYTES = 256 << 20
# Progress chunks are 2^LOG2_BLOCKS canonical blocks: whole subtrees of sum's canonical tree.
LOG2_BLOCKS = 10


class Layout(NamedTuple):
    """Where a file's elements are: ``shape`` in C order, stored in C or Fortran order."""

    offset: int
    format: str  # a struct format, complex as Zf/Zd, e.g. '<d', '>Zf', '=?'
    itemsize: int
    shape: tuple[int, ...]
    fortran: bool = False

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def strides(self) -> tuple[int, ...]:
        """Byte strides of ``shape`` in storage order."""
        out, step = [], self.itemsize
        for n in (self.shape if self.fortran else reversed(self.shape)):
            out.append(step)
            step *= n
        return tuple(out) if self.fortran else tuple(reversed(out))


def raw_layout(size: int, fmt: str) -> Layout:
    """A raw file: ``size`` bytes of elements of struct format ``fmt``."""
    if not _FORMAT.fullmatch(fmt):
        raise ValueError(f"unsupported --format {fmt!r}; use one of {CODES}, with an optional byte order @ = < > !")
    code = fmt.lstrip("@=<>!")
    if code in ("Zf", "Zd"):
        itemsize = 8 if code == "Zf" else 16
    else:
        # struct knows n/N only in native mode, where they are size_t-sized either way.
        itemsize = struct.calcsize(code if code in "nN" else fmt)
    if size % itemsize:
        raise ValueError(f"file size {size} is not a multiple of the {itemsize}-byte element of {fmt!r}")
    return Layout(0, fmt, itemsize, (size // itemsize,))


def npy_layout(head: bytes, size: int) -> Layout:
    """Reads a ``.npy`` header (format versions 1, 2 and 3) as numpy does, without numpy.

    ``head`` is the start of the file (at least the header when the file has one), ``size`` the
    file's length. Anything numpy.load would refuse is a ValueError with a one-line message.
    """
    if len(head) < 10:
        raise ValueError(f"truncated .npy header: the file has {size} bytes")
    major, minor = head[6], head[7]
    if major not in (1, 2, 3) or minor != 0:
        raise ValueError(f"unsupported .npy format version {major}.{minor}")
    len_size = 2 if major == 1 else 4
    start = 8 + len_size
    if len(head) < start:
        raise ValueError(f"truncated .npy header: the file has {size} bytes")
    hlen = int.from_bytes(head[8:start], "little")
    if hlen > _NPY_MAX_HEADER:
        raise ValueError(f".npy header of {hlen} bytes is longer than {_NPY_MAX_HEADER}")
    offset = start + hlen
    if offset > len(head):
        raise ValueError(f"truncated .npy header: {hlen} bytes announced, {len(head) - start} present")
    text = head[start:offset].decode("utf8" if major == 3 else "latin1", errors="replace")
    try:
        header = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        header = None
    if not isinstance(header, dict) or set(header) != _NPY_KEYS:
        raise ValueError(f"malformed .npy header {text.strip()[:60]!r}: want a dict with keys 'descr', 'fortran_order', 'shape'")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(fortran, bool):
        raise ValueError(f"malformed .npy header: fortran_order is {fortran!r}, not True or False")
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"malformed .npy header: shape {shape!r} is not a tuple of non-negative ints")
    if not isinstance(descr, str) or descr[:1] not in ("<", ">", "|", "=") or descr[1:] not in _NPY:
        raise ValueError(f".npy dtype {descr!r} is not supported; accepted are bool, (u)int8-64, float16-64, complex64/128")
    order = "=" if descr[0] in "|=" else descr[0]
    lay = Layout(offset, order + _NPY[descr[1:]], int(descr[2:]), shape, fortran)
    need = offset + lay.elements * lay.itemsize
    if need > size:
        raise ValueError(f"truncated .npy file: {lay.elements} elements of {lay.itemsize} bytes need {need} bytes, the file has {size}")
    return lay


def sum_file(path: str, fmt: str | None, exact: bool, progress: IO[str] | None) -> object:
    """``fsum`` (``exact``) or ``sum`` of a ``.npy`` file, or of a raw file of ``fmt`` elements."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size == 0:
            return reduce_file(b"", raw_layout(0, fmt or "d"), exact, None)
        # ACCESS_READ: nothing is ever written; the pages are shared with the page cache.
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        if mm[:6] == _NPY_MAGIC:
            if fmt is not None:
                raise ValueError("--format does not apply to a .npy file: it carries its own dtype")
            lay = npy_layout(mm[: _NPY_MAX_HEADER + 12], size)
        else:
            lay = raw_layout(size, fmt or "d")
        show = progress if progress is not None and size >= PROGRESS_MIN_BYTES else None
        return reduce_file(mm, lay, exact, show)
    finally:
        mm.close()


def reduce_file(data: Any, lay: Layout, exact: bool, progress: IO[str] | None) -> object:
    """The reduction of ``lay``'s elements in ``data``, in one call or (with ``progress``) in
    chunks that give the same bits."""
    how: Literal["sum", "fsum"] = "fsum" if exact else "sum"
    code = lay.format.lstrip("@=<>!")
    # Exact totals and integer sums do not depend on the order: chunks may follow the storage.
    # Float sums follow the logical (C) order, which for Fortran-ordered data is not a run of
    # the file: those are summed in one call, without a progress bar.
    order_free = exact or code not in ("e", "f", "d", "Zf", "Zd")
    in_storage_order = not lay.fortran or sum(n > 1 for n in lay.shape) <= 1
    if progress is None or lay.elements == 0 or not (order_free or in_storage_order):
        return _bufsum._reduce_bytes(data, lay.offset, lay.format, lay.itemsize, lay.shape, lay.strides(), how)
    return _chunked(data, lay, exact, progress)


def _chunked(data: Any, lay: Layout, exact: bool, progress: IO[str]) -> object:
    """The reduction over chunks of the storage, one bar step per chunk. A complex element is two
    real parts at stride ``itemsize``, each reduced on its own, as ``sum`` itself does."""
    order, code = lay.format[:1], lay.format.lstrip("@=<>!")
    if code in ("Zf", "Zd"):
        part = lay.itemsize // 2
        parts = [(order + code[1], part, 0), (order + code[1], part, part)]
    else:
        parts = [(lay.format, lay.itemsize, 0)]
    n = lay.elements
    chunk = _bufsum._BLOCK << LOG2_BLOCKS
    results = []
    start = time.perf_counter()
    for i, (fmt, size, delta) in enumerate(parts):
        acc = _bufsum.Accumulator()
        totals = []
        for lo in range(0, n, chunk):
            k = min(chunk, n - lo)
            args = (data, lay.offset + delta + lo * lay.itemsize, fmt, size, (k,), (lay.itemsize,))
            if exact:
                acc.merge(_bufsum._reduce_bytes(*args, "exact"))
            else:
                totals.append(_bufsum._reduce_bytes(*args, "sum"))
            _bar(progress, i * n + lo + k, n * len(parts), start)
        if exact:
            results.append(acc.value)
        elif isinstance(totals[0], int):
            results.append(sum(totals))  # integers: exact in any order
        else:
            results.append(_bufsum._combine_chunk_sums(totals, LOG2_BLOCKS, n % chunk == 0))
    progress.write("\n")
    return results[0] if len(results) == 1 else complex(results[0], results[1])


def _bar(out: IO[str], done: int, total: int, start: float) -> None:
    frac = done / total if total else 1.0
    width = 30
    filled = int(frac * width)
    rate = done / max(time.perf_counter() - start, 1e-9) / 1e6
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {frac:6.1%}  {rate:8.1f} M elements/s")
    out.flush()
