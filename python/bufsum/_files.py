"""Summing raw binary and ``.npy`` files through ``mmap`` (``python -m bufsum FILE``)."""

from __future__ import annotations

import ast
import ctypes
import mmap
import sys
import time
from typing import IO, Any, NamedTuple

from . import _bufsum

# struct code -> ctypes type, for byte orders other than the machine's (ctypes exports them
# with an explicit '<' or '>' format).
_CTYPES: dict[str, Any] = {
    "b": ctypes.c_int8, "B": ctypes.c_uint8, "h": ctypes.c_int16, "H": ctypes.c_uint16,
    "i": ctypes.c_int32, "I": ctypes.c_uint32, "l": ctypes.c_long, "L": ctypes.c_ulong,
    "q": ctypes.c_int64, "Q": ctypes.c_uint64, "n": ctypes.c_ssize_t, "N": ctypes.c_size_t,
    "?": ctypes.c_bool, "f": ctypes.c_float, "d": ctypes.c_double,
}
# numpy type strings (kind + size) -> struct codes.
_NPY: dict[str, str] = {
    "b1": "?", "i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "i8": "q", "u8": "Q",
    "f2": "e", "f4": "f", "f8": "d", "c8": "Zf", "c16": "Zd",
}
_NATIVE = "<" if sys.byteorder == "little" else ">"
# Files this large get a progress bar on a terminal.
PROGRESS_MIN_BYTES = 256 << 20


class Layout(NamedTuple):
    offset: int
    code: str  # struct code, complex as Zf/Zd
    order: str  # '<' or '>'
    n: int


def parse_format(fmt: str) -> tuple[str, str]:
    """'d', '<f', '>Zd', '=q' ... -> (code, '<' or '>')."""
    order = _NATIVE
    if fmt[:1] in "@=<>!":
        order = {"@": _NATIVE, "=": _NATIVE, "!": ">"}.get(fmt[0], fmt[0])
        fmt = fmt[1:]
    if fmt not in _CTYPES and fmt not in ("e", "Zf", "Zd"):
        raise ValueError(f"unsupported --format {fmt!r}; use one of b B h H i I l L q Q n N ? e f d Zf Zd")
    return fmt, order


def npy_layout(head: bytes, size: int) -> Layout:
    """Reads a ``.npy`` header (versions 1-3) without numpy."""
    major = head[6]
    hlen_size = 2 if major == 1 else 4
    hlen = int.from_bytes(head[8 : 8 + hlen_size], "little")
    offset = 8 + hlen_size + hlen
    header = ast.literal_eval(head[8 + hlen_size : offset].decode("latin1"))
    descr = header["descr"]
    if not isinstance(descr, str) or descr[1:] not in _NPY:
        raise ValueError(f".npy dtype {descr!r} is not a supported numeric type")
    order = _NATIVE if descr[0] in "|=" else descr[0]
    count = 1
    for n in header["shape"]:
        count *= int(n)
    itemsize = int(descr[2:])
    if offset + count * itemsize > size:
        raise ValueError("truncated .npy file")
    return Layout(offset, _NPY[descr[1:]], order, count)


def raw_layout(size: int, fmt: str) -> Layout:
    code, order = parse_format(fmt)
    itemsize = {"e": 2, "Zf": 8, "Zd": 16}.get(code) or ctypes.sizeof(_CTYPES[code])
    if size % itemsize:
        raise ValueError(f"file size {size} is not a multiple of the {itemsize}-byte element of {fmt!r}")
    return Layout(0, code, order, size // itemsize)


def exporters(mm: mmap.mmap, lay: Layout) -> list[Any]:
    """Buffer objects over the file's elements: one, or two (real, imaginary) for complex."""
    code = {"Zf": "f", "Zd": "d"}.get(lay.code, lay.code)
    count = lay.n * (2 if code != lay.code else 1)
    if code == "e":
        # memoryview.cast cannot make 'e' views and ctypes has no float16 type.
        raise ValueError("float16 files are not supported by the command line; use bufsum.sum on a numpy array")
    if lay.order == _NATIVE:
        raw: Any = memoryview(mm)[lay.offset : lay.offset + count * _itemsize(code)]
        view: Any = raw.cast(code)
    elif code in _CTYPES:
        base = _CTYPES[code]
        swapped = base.__ctype_be__ if lay.order == ">" else base.__ctype_le__
        view = memoryview((swapped * count).from_buffer(mm, lay.offset))
    else:
        raise ValueError(f"unsupported element code {code!r}")
    return [view[0::2], view[1::2]] if code != lay.code else [view]


def _itemsize(code: str) -> int:
    return 2 if code == "e" else ctypes.sizeof(_CTYPES[code])


def sum_file(path: str, fmt: str | None, exact: bool, progress: IO[str] | None) -> object:
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size == 0:
            return _empty(parse_format(fmt or "d")[0], exact)
        # ACCESS_COPY: private pages, so ctypes may wrap them; nothing is ever written.
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    try:
        head = mm[:16]
        lay = npy_layout(mm[: min(size, 1 << 16)], size) if head[:6] == b"\x93NUMPY" and fmt is None else raw_layout(size, fmt or "d")
        views = exporters(mm, lay)
        show = progress if progress is not None and size >= PROGRESS_MIN_BYTES else None
        parts = [_reduce_with_progress(v, exact, show) for v in views]
        del views
        return parts[0] if len(parts) == 1 else complex(float(parts[0]), float(parts[1]))  # type: ignore[arg-type]
    finally:
        try:
            mm.close()
        except BufferError:  # a view still alive in a traceback: let the GC close it
            pass


def _empty(code: str, exact: bool) -> object:
    if code.startswith("Z"):
        return 0j
    return 0.0 if exact or code in "efd" else 0


def _reduce_with_progress(view: Any, exact: bool, progress: IO[str] | None) -> object:
    if progress is None:
        return _bufsum.fsum(view) if exact else _bufsum.sum(view)
    # Chunks of 2^10 canonical blocks: exact partials merge in any order; float chunk totals are
    # whole subtrees of sum's canonical tree, which the core recombines into one call's bits.
    n = len(view)
    log2_blocks = 10
    chunk = _bufsum._BLOCK << log2_blocks
    acc = _bufsum.Accumulator()
    totals: list[Any] = []
    start = time.perf_counter()
    for lo in range(0, n, chunk):
        part = view[lo : lo + chunk]
        if exact:
            acc.add(part)
        else:
            totals.append(_bufsum.sum(part))
        _bar(progress, min(lo + chunk, n), n, start)
    progress.write("\n")
    if exact:
        return acc.value
    if not totals or not isinstance(totals[0], float):
        return sum(totals)  # integers: exact in any order
    return _bufsum._combine_chunk_sums(totals, log2_blocks, n % chunk == 0)


def _bar(out: IO[str], done: int, total: int, start: float) -> None:
    frac = done / total if total else 1.0
    width = 30
    filled = int(frac * width)
    rate = done / max(time.perf_counter() - start, 1e-9) / 1e6
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {frac:6.1%}  {rate:8.1f} M elements/s")
    out.flush()
