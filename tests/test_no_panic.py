"""No panic is reachable from Python: every public (and pickle-reachable private) entry point is
fed random floats, huge ints, special values, buffers of every format and layout, and random
keyword values. Only TypeError, ValueError, OverflowError, BufferError or MemoryError may come
out. A Rust panic surfaces as ``pyo3_runtime.PanicException``, which derives from BaseException
(not Exception), so it is recognised by its class name; anything else unexpected (SystemError,
RuntimeError, ...) fails the test too.
"""

from __future__ import annotations

import array
import copy
import ctypes
import math
import mmap
import pickle
import struct
import threading
from collections.abc import Callable
from contextlib import nullcontext
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bufsum
from bufsum import _bufsum

ALLOWED = (TypeError, ValueError, OverflowError, BufferError, MemoryError)
FORCE_EXACT = getattr(bufsum, "_force_exact", None)


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)`; returns the result or the allowed exception; fails on a panic or on
    any other exception."""
    try:
        return fn(*args, **kwargs)
    except BaseException as e:  # noqa: BLE001 - a PanicException is a BaseException
        if type(e).__name__ == "PanicException":
            pytest.fail(f"{what}: Rust panic {e!r} for args={_short(args)} kwargs={_short(kwargs)}")
        if isinstance(e, ALLOWED):
            return e
        raise AssertionError(f"{what}: unexpected {type(e).__name__}: {e}") from e


def _short(x: object) -> str:
    r = repr(x)
    return r if len(r) < 400 else r[:400] + "..."


def paths() -> list[Any]:
    """The default path, and the forced exact path when the build has the switch."""
    return [nullcontext] + ([FORCE_EXACT] if FORCE_EXACT is not None else [])


# --- strategies --------------------------------------------------------------------------------

SPECIAL_FLOATS = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                  -1.7976931348623157e308, math.inf, -math.inf, math.nan, 2.0**970, 1e300, 1e-300]
HUGE_BITS = (63, 64, 127, 128, 1023, 1024, 1101, 1102, 1103, 2047, 2048, 2049, 3000, 5000)
HUGE_INTS = [s * (2**k + d) for k in HUGE_BITS for d in (-1, 0, 1) for s in (1, -1)]

floats = st.floats() | st.sampled_from(SPECIAL_FLOATS) | st.floats(width=32) | st.floats(width=16)
ints = (
    st.integers()
    | st.builds(lambda k, d, s: s * (2**k + d), st.sampled_from(HUGE_BITS), st.integers(-1, 1), st.sampled_from([1, -1]))
    | st.integers(-(2**6000), 2**6000)
)
scalars = (
    floats
    | ints
    | st.sampled_from([True, False, None, "1.0", b"12345678", 1 + 2j, [1.0], (1.0,), Fraction(1, 3), Decimal("1e400")])
    | floats.map(np.float64)
    | st.floats(width=32).map(np.float32)
    | st.integers(-(2**63), 2**63 - 1).map(np.int64)
    | st.integers(0, 2**64 - 1).map(np.uint64)
)

NUMPY_CODES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8", "c8", "c16", "?"]
OTHER_DTYPES = ["S3", "U2", "M8[s]", "m8[ns]", "V8", "g", "G", [("a", "<f8"), ("b", "<i4")], [("x", "<f8")]]


def _exactly(code: str, v: float) -> bool:
    with np.errstate(all="ignore"):
        w = float(np.dtype(code).type(v))
    return w == v or (math.isnan(v) and math.isnan(w))


@st.composite
def numpy_arrays(draw: st.DrawFn) -> np.ndarray:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    if draw(st.integers(0, 5)) == 0:
        return draw(layouts(np.zeros(shape, dtype=np.dtype(draw(st.sampled_from(OTHER_DTYPES))))))
    code = draw(st.sampled_from(NUMPY_CODES))
    if code[0] == "f":
        specials = [v for v in SPECIAL_FLOATS if _exactly(code, v)]
        a = draw(hnp.arrays(np.dtype(code), shape, elements=st.floats(width=8 * int(code[1])) | st.sampled_from(specials)))
    else:
        a = draw(hnp.arrays(np.dtype(code), shape))
    if code not in ("i1", "u1", "?") and draw(st.booleans()):
        a = a.astype(a.dtype.newbyteorder(draw(st.sampled_from(["<", ">"]))))
    return draw(layouts(a))


@st.composite
def layouts(draw: st.DrawFn, a: np.ndarray) -> np.ndarray:
    """`a` strided, reversed, transposed, broadcast (zero strides), unaligned or read-only."""
    if a.ndim and draw(st.booleans()):
        a = a[tuple(slice(None, None, draw(st.sampled_from([1, 2, -1, -2, 3]))) for _ in range(a.ndim))]
    if a.ndim > 1 and draw(st.booleans()):
        a = a.transpose(draw(st.permutations(range(a.ndim))))
    if draw(st.integers(0, 5)) == 0:
        a = np.broadcast_to(a, (draw(st.integers(0, 3)),) + a.shape)
    if draw(st.integers(0, 5)) == 0 and a.dtype.kind in "iufcb":
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        b = raw[1:].view(a.dtype).reshape(a.shape) if a.size else np.zeros(a.shape, a.dtype)
        b[...] = a
        a = b
    if draw(st.integers(0, 5)) == 0:
        a = a.view()
        a.flags.writeable = False
    return a


@st.composite
def other_buffers(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["bytes", "bytearray", "cast", "array", "ctypes", "ctypes-2d", "ctypes-be",
                                 "ctypes-struct", "mmap", "numpy-scalar", "object-array"]))  # fmt: skip
    raw = draw(st.binary(max_size=96))
    if kind == "bytes":
        return raw
    if kind == "bytearray":
        return bytearray(raw)
    if kind == "cast":
        fmt = draw(st.sampled_from(list("bBhHiIlLqQnNfd?cP")))
        body = raw[: len(raw) - len(raw) % struct.calcsize(fmt)]
        m = memoryview(body).cast(fmt)
        if len(m) and len(m) % 2 == 0 and draw(st.booleans()):
            m = memoryview(body).cast(fmt, [2, len(m) // 2])
        return m
    if kind == "array":
        code = draw(st.sampled_from(list("bBhHiIlLqQfd")))
        arr = array.array(code)
        arr.frombytes(raw[: len(raw) - len(raw) % arr.itemsize])
        return arr
    if kind in ("ctypes", "ctypes-2d", "ctypes-be"):
        ct = draw(st.sampled_from([ctypes.c_double, ctypes.c_float, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int8,
                                   ctypes.c_bool, ctypes.c_char, ctypes.c_longdouble, ctypes.c_void_p]))  # fmt: skip
        if kind == "ctypes-be":
            ct = getattr(ct, "__ctype_be__", ct)
        n = len(raw) // ctypes.sizeof(ct)
        typ: Any = ct * n if kind != "ctypes-2d" else (ct * 2) * (n // 2)
        obj = typ()
        ctypes.memmove(obj, raw, ctypes.sizeof(typ))
        return obj
    if kind == "ctypes-struct":

        class Pair(ctypes.Structure):
            _fields_ = [("a", ctypes.c_double), ("b", ctypes.c_int32)]

        return (Pair * 3)()
    if kind == "mmap":
        m = mmap.mmap(-1, max(len(raw), 1))
        m.write(raw)
        return m
    if kind == "numpy-scalar":
        return draw(st.sampled_from([np.float64(1.5), np.float32(-0.0), np.int64(-(2**63)), np.uint64(2**64 - 1),
                                     np.float16(65504), np.complex128(1j), np.bool_(True)]))  # fmt: skip
    return np.array([1, 2.5, None], dtype=object)


buffers = numpy_arrays() | other_buffers()
axes = (
    st.none()
    | st.integers(-6, 6)
    | st.lists(st.integers(-6, 6), max_size=4).map(tuple)
    | st.sampled_from([2**63, -(2**63) - 1, 2**64, -(10**30), 1.0, "0", [0], (0, 0), True, np.int64(1), np.int8(-1), ()])
)
threads = st.none() | st.integers(1, 4) | st.sampled_from([0, -1, 2**63, 2**64, -(2**70), 1.5, "2", True, np.int64(2)])
keepdims = st.booleans() | st.sampled_from([0, 1, None, "yes"])
nan_policies = st.sampled_from(["propagate", "omit", "raise", "ignore", None, 0, b"omit"])


@st.composite
def outs(draw: st.DrawFn, data: Any) -> Any:
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return None
    if choice == 1:
        return data
    if choice == 2:
        which = draw(st.integers(0, 3))
        return [b"12345678", bytearray(16), memoryview(bytearray(8)).cast("d"), 3.0][which]
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    if choice == 3 and isinstance(data, np.ndarray):
        shape = data.shape if draw(st.booleans()) else tuple(s for i, s in enumerate(data.shape) if i % 2)
    dt = draw(st.sampled_from(["f8", ">f8", "i8", ">i8", "f4", "i4", "c16", "u8", "?"]))
    out = np.zeros(shape, dtype=dt)
    if draw(st.booleans()) and out.ndim:
        out = np.zeros(tuple(2 * s for s in shape), dtype=dt)[tuple(slice(None, None, 2) for _ in shape)]
    if draw(st.integers(0, 4)) == 0:
        out.flags.writeable = False
    return out


# --- the functions -----------------------------------------------------------------------------


def released(data: Any) -> None:
    """A bytearray can be resized again after any call: no buffer export leaked."""
    if isinstance(data, bytearray):
        data.append(0)
        del data[-1]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_reductions_never_panic(data: st.DataObject) -> None:
    x = data.draw(buffers | scalars, label="data")
    kw = {
        "axis": data.draw(axes, label="axis"),
        "out": data.draw(outs(x), label="out"),
        "keepdims": data.draw(keepdims, label="keepdims"),
        "threads": data.draw(threads, label="threads"),
    }
    for ctx in paths():
        with ctx():
            for name, fn in (("sum", bufsum.sum), ("fsum", bufsum.fsum)):
                call(name, fn, x)
                call(name, fn, x, threads=kw["threads"])
                call(name, fn, x, **kw)
                released(x)
    call("cumsum", bufsum.cumsum, x)
    call("cumsum", bufsum.cumsum, x, out=kw["out"])
    released(x)
    policy = data.draw(nan_policies, label="nan_policy")
    for name in ("sum", "fsum"):
        call(name, getattr(bufsum, name), x, nan_policy=policy)


DOT_FUNCTIONS = [name for name in ("dot", "fdot") if hasattr(bufsum, name)]


@pytest.mark.skipif(not DOT_FUNCTIONS, reason="no dot products on this build yet")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_dot_products_never_panic(data: st.DataObject) -> None:
    x = data.draw(buffers | scalars, label="x")
    if isinstance(x, np.ndarray) and data.draw(st.booleans(), label="y of x's shape"):
        code = data.draw(st.sampled_from(NUMPY_CODES), label="y format")
        y = data.draw(hnp.arrays(np.dtype(code), x.shape), label="y")
        if data.draw(st.booleans()):
            y = np.asfortranarray(y).astype(y.dtype.newbyteorder(">")) if y.dtype.itemsize > 1 or y.ndim == 0 else y[::-1]
    else:
        y = data.draw(buffers | scalars, label="y")
    kw = {
        "axis": data.draw(axes, label="axis"),
        "out": data.draw(outs(x), label="out"),
        "keepdims": data.draw(keepdims, label="keepdims"),
        "threads": data.draw(threads, label="threads"),
        "nan_policy": data.draw(nan_policies, label="nan_policy"),
    }
    for ctx in paths():
        with ctx():
            for name in DOT_FUNCTIONS:
                fn = getattr(bufsum, name)
                call(name, fn, x, y)
                call(name, fn, x, y, threads=kw["threads"])
                call(name, fn, x, y, **kw)
                released(x)
                released(y)
    acc = bufsum.Accumulator()
    if hasattr(acc, "add_products"):
        call("Accumulator.add_products", acc.add_products, x, y)
        released(x)
        read(acc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.sampled_from(["add", "add-buffer", "add-products", "merge", "merge-self", "merge-copy",
                                           "merge-other", "double", "pickle", "read"]), scalars | buffers),
                max_size=25))  # fmt: skip
def test_accumulator_never_panics(ops: list[tuple[str, Any]]) -> None:
    acc = bufsum.Accumulator()
    other = bufsum.Accumulator()
    for op, x in ops:
        if op in ("add", "add-buffer"):
            call("Accumulator.add", acc.add, x)
            call("Accumulator.add", other.add, x)
            released(x)
        elif op == "add-products" and hasattr(acc, "add_products"):
            call("Accumulator.add_products", acc.add_products, x, x)
            released(x)
        elif op == "merge":
            call("Accumulator.merge", acc.merge, other)
        elif op == "merge-self":
            call("Accumulator.merge", acc.merge, acc)
        elif op == "merge-copy":
            call("Accumulator.merge", acc.merge, copy.copy(acc))
        elif op == "merge-other":
            call("Accumulator.merge", acc.merge, x)  # not an Accumulator: TypeError
        elif op == "double":
            for _ in range(200):
                call("Accumulator.merge", acc.merge, copy.copy(acc))
        elif op == "pickle":
            back = call("pickle", lambda: pickle.loads(pickle.dumps(acc)))
            if isinstance(back, bufsum.Accumulator):
                acc = back
        read(acc)
    read(other)


def read(acc: bufsum.Accumulator) -> None:
    value = call("Accumulator.value", lambda: acc.value)
    count = call("Accumulator.count", lambda: acc.count)
    call("float(Accumulator)", float, acc)
    call("repr(Accumulator)", repr, acc)
    call("copy.deepcopy", copy.deepcopy, acc)
    assert isinstance(value, float), value
    assert isinstance(count, int) and count >= 0, count


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_restore_accumulator_never_panics(data: st.DataObject) -> None:
    """`_restore_accumulator` is reachable from any pickle: crafted states must be refused or
    behave, never panic, also when merged and doubled afterwards."""
    seed = bufsum.Accumulator()
    for v in data.draw(st.lists(scalars, max_size=4), label="seed values"):
        call("Accumulator.add", seed.add, v)
    fn, (state, count) = seed.__reduce__()
    assert fn is _bufsum._restore_accumulator
    how = data.draw(st.sampled_from(["random", "flip", "truncate", "extend", "digit", "as is"]), label="how")
    state = bytearray(state)
    if how == "random":
        state = bytearray(data.draw(st.binary(max_size=2 * len(state) + 8)))
    elif how == "flip" and state:
        i = data.draw(st.integers(0, len(state) - 1))
        state[i] ^= data.draw(st.integers(1, 255))
    elif how == "truncate":
        del state[data.draw(st.integers(0, len(state))) :]
    elif how == "extend":
        state += data.draw(st.binary(min_size=1, max_size=16))
    elif how == "digit" and len(state) >= 10:
        i = data.draw(st.integers(0, (len(state) - 2) // 8 - 1))
        word = data.draw(st.sampled_from([2**32 - 1, 2**32, 2**40 - 1, 2**40, 2**62, 2**63 - 1, 2**64 - 1, 2**63]))
        state[2 + 8 * i : 10 + 8 * i] = word.to_bytes(8, "little")
    count = data.draw(st.sampled_from([count, 0, 2**64 - 1, 2**63, -1, 2**64, 2**200, 1.5, "3"]), label="count")
    for st_bytes in (bytes(state), state):
        restored = call("_restore_accumulator", _bufsum._restore_accumulator, st_bytes, count)
        if isinstance(restored, bufsum.Accumulator):
            read(restored)
            call("merge", restored.merge, seed)
            for _ in range(70):
                call("merge", restored.merge, copy.copy(restored))
            call("add", restored.add, 2**2047)
            call("add", restored.add, np.array([1.7976931348623157e308] * 3))
            read(restored)
            call("pickle", lambda: pickle.loads(pickle.dumps(restored)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(floats, max_size=20),
    st.integers(-5, 70) | st.sampled_from([2**31, 2**32 - 1, 2**32, 2**64, -(2**40)]),
    st.booleans() | st.sampled_from([0, None]),
)
def test_combine_chunk_sums_never_panics(totals: list[float], log2_blocks: int, last_full: Any) -> None:
    r = call("_combine_chunk_sums", _bufsum._combine_chunk_sums, totals, log2_blocks, last_full)
    assert isinstance(r, (float, *ALLOWED))


# --- known edges, deterministically ----------------------------------------------------------


def test_int_edges_never_panic() -> None:
    for v in HUGE_INTS + [10**1000, -(3**9000), 2**100_000, -(2**100_000) + 1]:
        acc = bufsum.Accumulator()
        call("add", acc.add, v)
        call("add", acc.add, v)
        call("add", acc.add, -v)
        call("add", acc.add, 1.5)
        read(acc)


def test_merge_doubling_never_panics() -> None:
    for start in ([3.5, 888.75, 4.125], [1.7976931348623157e308], [5e-324], [2**2047], [-(2**2000), 1.0]):
        acc = bufsum.Accumulator()
        for v in start:
            call("add", acc.add, v)
        for i in range(5000):
            call("merge", acc.merge, acc if i % 2 else copy.copy(acc))
        read(acc)
        back = call("pickle", lambda: pickle.loads(pickle.dumps(acc)))
        if isinstance(back, bufsum.Accumulator):
            call("merge", back.merge, acc)
            read(back)


def test_huge_counts_never_panic() -> None:
    """Counts near and past 2^64 through merges of restored states."""
    seed = bufsum.Accumulator()
    seed.add(1.0)
    fn, (state, _) = seed.__reduce__()
    for count in (2**63, 2**64 - 1):
        a = call("_restore_accumulator", fn, state, count)
        if not isinstance(a, bufsum.Accumulator):
            continue
        for _ in range(3):
            call("merge", a.merge, copy.copy(a))
        call("add", a.add, np.ones(5))
        read(a)


@pytest.mark.parametrize("ctx", paths(), ids=lambda c: getattr(c, "__name__", "path"))
def test_shapes_and_axes_edges_never_panic(ctx: Any) -> None:
    cases: list[Any] = [
        np.zeros((0, 5, 0)), np.ones((1, 1, 1, 1, 1, 1, 1, 1)), np.float64(3.0), np.array(2.5),
        np.broadcast_to(np.float64(1e308), (7, 1000)), np.full((3, 4097), 5e-324)[:, ::-1],
        np.arange(12, dtype=">i8").reshape(3, 4).T, np.zeros((2, 3), dtype="c8")[::-1],
        np.array([np.nan, np.inf, -np.inf]), np.empty((5, 0), dtype=np.uint64),
    ]  # fmt: skip
    with ctx():
        for a in cases:
            for axis in (None, 0, -1, (0,), (0, -1), tuple(range(a.ndim)), a.ndim, -a.ndim - 1, 2**63, (0, 0)):
                for keep in (False, True):
                    call("sum", bufsum.sum, a, axis=axis, keepdims=keep)
                    call("fsum", bufsum.fsum, a, axis=axis, keepdims=keep)
                    call("fsum", bufsum.fsum, a, axis=axis, keepdims=keep, threads=3)
            call("cumsum", bufsum.cumsum, a)
            acc = bufsum.Accumulator()
            call("add", acc.add, a)
            read(acc)


def test_racing_writer_never_panics() -> None:
    """Another thread rewrites the buffer (finite values, infinities, NaN, subnormals) while it is
    summed: the result is unspecified, but no call may panic or crash (the README's contract)."""
    a = np.random.default_rng(0).standard_normal(1 << 16)
    patterns = [np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, -0.0, 1e-300, 3.0]
    stop = threading.Event()

    def writer() -> None:
        rng = np.random.default_rng(1)
        while not stop.is_set():
            idx = rng.integers(0, a.size, 64)
            a[idx] = rng.choice(patterns, 64)
            a[rng.integers(0, a.size, 64)] = rng.standard_normal(64) * 10.0 ** rng.integers(-300, 300, 64)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for i in range(60):
            for ctx in paths():
                with ctx():
                    call("fsum", bufsum.fsum, a, threads=1 + i % 2)
            acc = bufsum.Accumulator()
            call("Accumulator.add", acc.add, a)
            read(acc)
            call("sum", bufsum.sum, a)
            call("fsum axis", bufsum.fsum, a.reshape(256, -1), axis=0)
    finally:
        stop.set()
        t.join()


@settings(max_examples=50, deadline=None)
@given(scalars)
def test_force_exact_switch_never_panics(x: Any) -> None:
    previous = call("_set_force_exact", _bufsum._set_force_exact, False)
    try:
        call("_set_force_exact", _bufsum._set_force_exact, x)
    finally:
        _bufsum._set_force_exact(bool(previous) if isinstance(previous, bool) else False)


def test_panic_detection_works() -> None:
    """The detector itself: a BaseException named PanicException is reported, allowed errors
    are returned, other errors fail."""
    PanicException = type("PanicException", (BaseException,), {})

    def boom() -> None:
        raise PanicException("x")

    with pytest.raises(pytest.fail.Exception, match="Rust panic"):
        call("boom", boom)
    assert isinstance(call("ok", int, "x"), ValueError)
    with pytest.raises(AssertionError, match="unexpected KeyError"):
        call("key", {}.__getitem__, 1)
