"""Shared helpers: the same values through many exporters and layouts."""

from __future__ import annotations

import array
import ctypes
import mmap
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# numpy dtype -> array.array typecode / ctypes type, where one exists.
ARRAY_CODES = {"i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "i8": "q", "u8": "Q", "f4": "f", "f8": "d"}
CTYPES = {
    "i1": ctypes.c_int8, "u1": ctypes.c_uint8, "i2": ctypes.c_int16, "u2": ctypes.c_uint16,
    "i4": ctypes.c_int32, "u4": ctypes.c_uint32, "i8": ctypes.c_int64, "u8": ctypes.c_uint64,
    "f4": ctypes.c_float, "f8": ctypes.c_double, "b1": ctypes.c_bool,
}


def exporters(a: np.ndarray) -> dict[str, Any]:
    """The values of 1-d native `a` through every exporter that can hold its type."""
    a = np.ascontiguousarray(a)
    key = a.dtype.str[1:]
    out: dict[str, Any] = {
        "numpy": a,
        "numpy-big-endian": a.astype(a.dtype.newbyteorder(">")),
        "numpy-little-endian": a.astype(a.dtype.newbyteorder("<")),
        "memoryview": memoryview(a),
        "unaligned": unaligned(a),
        "fortran-2d": np.asfortranarray(a.reshape(1, -1)) if a.size else a,
        "reversed-copy-reversed": np.ascontiguousarray(a[::-1])[::-1],
    }
    if key in ARRAY_CODES:
        arr = array.array(ARRAY_CODES[key], a.tobytes())
        out["array.array"] = arr
        out["memoryview-cast"] = memoryview(a.tobytes()).cast(ARRAY_CODES[key])
    if key in CTYPES and a.size:
        ct = (CTYPES[key] * a.size).from_buffer_copy(a.tobytes())
        out["ctypes"] = ct
        be = getattr(CTYPES[key], "__ctype_be__", None)
        if be is not None and a.dtype.itemsize > 1:
            out["ctypes-big-endian"] = (be * a.size)(*a.tolist())
    if key == "u1":
        out["bytes"] = a.tobytes()
        out["bytearray"] = bytearray(a.tobytes())
        if a.size:
            m = mmap.mmap(-1, a.size)
            m.write(a.tobytes())
            out["mmap"] = m
    return out


def unaligned(a: np.ndarray) -> np.ndarray:
    """A copy of `a` whose data starts one byte past an aligned address."""
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    view = raw[1:].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def exact_int_sum(a: np.ndarray) -> int:
    return sum(int(v) for v in np.asarray(a).ravel().tolist())


def gil_released_during(call: Callable[[], object], attempts: int = 5) -> bool:
    """Whether another Python thread ran during the middle of `call`, in any of `attempts` tries.

    A helper thread timestamps each loop iteration. If `call` held the GIL throughout, the
    helper could only run at its edges (a switch right before or after, at most one switch
    interval of 5 ms), so no timestamp can fall in the middle three fifths of a call that lasts
    far longer. On a loaded machine the helper may get no CPU time during one call: that is why
    it is tried again rather than judged by speed. Nothing here compares speeds; on a
    free-threaded build it is trivially true.
    """
    for _ in range(attempts):
        stamps: list[float] = []
        stop = threading.Event()

        def spin() -> None:
            while not stop.is_set():
                stamps.append(time.perf_counter())
                time.sleep(0)  # a yield: keeps the list short when nothing else runs

        t = threading.Thread(target=spin)
        t.start()
        while not stamps:
            time.sleep(0.001)
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
        stop.set()
        t.join()
        lo, hi = t0 + 0.2 * (t1 - t0), t0 + 0.8 * (t1 - t0)
        if any(lo <= s <= hi for s in stamps):
            return True
    return False


def f64_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]
