"""bufsum.sum over every exporter, format and layout; errors; buffer release; the GIL."""

from __future__ import annotations

import array
import ctypes
import math
import mmap
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest
from conftest import exact_int_sum, exporters, f64_bits, gil_released_during, unaligned

import bufsum

INT_DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"]
FLOAT_DTYPES = ["f2", "f4", "f8"]


@pytest.mark.parametrize("dt", INT_DTYPES)
def test_integer_extremes_sum_exactly_on_every_exporter(dt: str) -> None:
    info = np.iinfo(dt)
    a = np.array([info.max] * 1000 + [info.min] * 3 + [info.max], dtype=dt)
    want = exact_int_sum(a)
    for name, obj in exporters(a).items():
        got = bufsum.sum(obj)
        assert type(got) is int, name
        assert got == want, name


def test_int64_max_times_1000_does_not_wrap() -> None:
    a = np.full(1000, np.iinfo(np.int64).max, dtype=np.int64)
    assert bufsum.sum(a) == 1000 * (2**63 - 1)
    assert np.sum(a) != 1000 * (2**63 - 1)  # numpy wraps; we do not


@pytest.mark.parametrize("dt", FLOAT_DTYPES)
@pytest.mark.parametrize("n", [0, 1, 7, 2048, 2049, 10_000])
def test_float_bits_equal_across_exporters(dt: str, n: int) -> None:
    rng = np.random.default_rng(n)
    a = (rng.standard_normal(n) * 10.0 ** rng.integers(-3, 3, n)).astype(dt)
    want = bufsum.sum(a.astype(np.float64))
    for name, obj in exporters(a).items():
        got = bufsum.sum(obj)
        assert type(got) is float, name
        assert f64_bits(got) == f64_bits(want), name
    if n:
        exact = math.fsum(a.astype(np.float64).tolist())
        assert abs(want - exact) <= 1e-12 * float(np.abs(a.astype(np.float64)).sum())


def test_bool_and_bytes() -> None:
    a = np.array([True, False, True, True])
    assert bufsum.sum(a) == 3
    assert bufsum.sum((ctypes.c_bool * 3)(True, True, False)) == 2
    assert bufsum.sum(b"\xff\xff\x01") == 511
    assert bufsum.sum(bytearray(b"\x80" * 10)) == 1280
    m = mmap.mmap(-1, 4096)
    m.write(b"\x02" * 4096)
    assert bufsum.sum(m) == 8192
    m.close()


@pytest.mark.parametrize("dt", ["c8", "c16", ">c16", "<c8"])
def test_complex(dt: str) -> None:
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(5000) + 1j * rng.standard_normal(5000)).astype(dt)
    got = bufsum.sum(a)
    assert type(got) is complex
    native = a.astype(np.complex128)
    assert f64_bits(got.real) == f64_bits(bufsum.sum(np.ascontiguousarray(native.real)))
    assert f64_bits(got.imag) == f64_bits(bufsum.sum(np.ascontiguousarray(native.imag)))
    assert bufsum.sum(np.zeros(0, dt)) == 0j and type(bufsum.sum(np.zeros(0, dt))) is complex


def test_empty_results_by_kind() -> None:
    for obj, want, typ in [
        (np.zeros(0), 0.0, float), (np.zeros(0, np.int8), 0, int), (array.array("d"), 0.0, float),
        (b"", 0, int), (np.zeros((3, 0, 2)), 0.0, float), (np.zeros(0, np.complex64), 0j, complex),
    ]:
        got = bufsum.sum(obj)
        assert got == want and type(got) is typ
    assert math.copysign(1.0, bufsum.sum(np.zeros(0))) == 1.0


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a.reshape(6, 10),
        lambda a: a.reshape(6, 10).T,
        lambda a: np.asfortranarray(a.reshape(3, 4, 5)),
        lambda a: a[::-1],
        lambda a: a[::-7],
        lambda a: a.reshape(6, 10)[::-2, 1::3],
        lambda a: a.reshape(3, 4, 5).transpose(2, 0, 1)[:, ::-1],
        lambda a: unaligned(a)[::3],
        lambda a: a.astype(">f8")[::2],
    ],
)
def test_layouts_sum_in_c_order(make) -> None:  # type: ignore[no-untyped-def]
    a = np.random.default_rng(3).standard_normal(60)
    v = make(a)
    # Same logical sequence, contiguous and native: the same bits.
    want = bufsum.sum(np.ascontiguousarray(v, dtype=np.float64))
    assert f64_bits(bufsum.sum(v)) == f64_bits(want)
    assert bufsum.fsum(v) == math.fsum(v.ravel().tolist())


def test_zero_strides_and_zero_d() -> None:
    b = np.broadcast_to(np.float64(0.1), (1000, 3))
    assert b.strides == (0, 0)
    assert bufsum.fsum(b) == math.fsum([0.1] * 3000)
    assert bufsum.sum(np.broadcast_to(np.int64(7), (5, 5))) == 175
    assert bufsum.sum(np.array(2.5)) == 2.5
    assert bufsum.sum(np.int16(-3)) == -3
    assert bufsum.sum(memoryview(b"\x05").cast("B", shape=[])) == 5
    assert bufsum.sum(ctypes.c_double(1.5)) == 1.5


def test_memoryview_slices_and_casts() -> None:
    raw = np.arange(100, dtype=np.float64).tobytes()
    m = memoryview(raw).cast("d")
    assert bufsum.sum(m[::3]) == sum(range(0, 100, 3))
    assert bufsum.sum(m[::-1]) == 4950.0
    assert bufsum.sum(memoryview(raw).cast("d", shape=[10, 10])) == 4950.0
    assert bufsum.sum(memoryview(raw).cast("q")) == sum(memoryview(raw).cast("q").tolist())


def test_ctypes_little_and_big_endian() -> None:
    vals = [1.5, -2.25, 1e300, -1e300, 3.0]
    le = (ctypes.c_double.__ctype_le__ * 5)(*vals)
    be = (ctypes.c_double.__ctype_be__ * 5)(*vals)
    assert memoryview(le).format == "<d" and memoryview(be).format == ">d"
    assert bufsum.fsum(le) == bufsum.fsum(be) == math.fsum(vals)
    assert f64_bits(bufsum.sum(le)) == f64_bits(bufsum.sum(be))
    longs = (ctypes.c_long * 3)(2**40, -(2**40), 5)
    assert bufsum.sum(longs) == 5
    nested = ((ctypes.c_int16 * 3) * 2)((1, 2, 3), (4, 5, 6))
    assert bufsum.sum(nested) == 21


def test_big_endian_is_swapped_not_summed_raw() -> None:
    a = np.arange(1, 1001, dtype=">i4")
    assert bufsum.sum(a) == 500500
    f = np.linspace(0, 1, 1001).astype(">f4")
    assert bufsum.fsum(f) == math.fsum(f.astype(np.float64).tolist())


@pytest.mark.parametrize(
    "obj",
    [np.array(["a", "b"]), np.array([b"ab"]), np.zeros(3, dtype="V8"), np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
     np.array([object()]), np.zeros(2, dtype=np.longdouble), np.zeros(2, dtype=np.clongdouble),
     memoryview(b"abcd").cast("c"), (ctypes.c_char * 4)(), (ctypes.c_void_p * 2)()],
)
def test_unsupported_formats_raise_typeerror_naming_format(obj: object) -> None:
    fmt = memoryview(obj).format  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="format") as ei:
        bufsum.sum(obj)  # type: ignore[arg-type]
    assert repr(fmt) in str(ei.value) or fmt in str(ei.value)
    assert "accepted" in str(ei.value)


def test_exporters_that_cannot_describe_their_type_raise_typeerror() -> None:
    for dt in ["M8[s]", "m8[s]"]:
        with pytest.raises(TypeError, match="buffer"):
            bufsum.sum(np.zeros(2, dt))


@pytest.mark.parametrize("obj", [[1.0, 2.0], (1, 2), 3.0, 5, "abc", None, {1: 2}, range(3)])
def test_non_buffers_raise_typeerror_naming_type(obj: object) -> None:
    for f in (bufsum.sum, bufsum.fsum, bufsum.cumsum):
        with pytest.raises(TypeError, match=type(obj).__name__):
            f(obj)  # type: ignore[operator]


def test_threads_argument() -> None:
    a = np.random.default_rng(5).standard_normal(300_000)
    want = bufsum.sum(a)
    for t in [None, 1, 2, 3, 4, 8, 10**30, np.int64(2)]:
        assert f64_bits(bufsum.sum(a, threads=t)) == f64_bits(want)  # type: ignore[arg-type]
    for bad in [0, -1, -(10**30)]:
        with pytest.raises(ValueError, match="threads"):
            bufsum.sum(a, threads=bad)
    for badtype in [1.5, "2", True, [2]]:
        with pytest.raises(TypeError, match="threads"):
            bufsum.sum(a, threads=badtype)  # type: ignore[arg-type]


def test_positional_and_keyword_only() -> None:
    with pytest.raises(TypeError):
        bufsum.sum(data=np.zeros(3))  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        bufsum.sum(np.zeros(3), 2)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        bufsum.cumsum(np.zeros(3), np.zeros(3))  # type: ignore[call-overload]


def test_buffers_released_after_success_and_error() -> None:
    b = bytearray(b"\x01" * 100)
    assert bufsum.sum(b) == 100
    b.extend(b"x")
    bufsum.fsum(b)
    b.extend(b"x")
    with pytest.raises(ValueError):
        bufsum.sum(b, threads=0)
    b.extend(b"x")
    with pytest.raises(TypeError):
        bufsum.cumsum(b, out=bytearray(8 * len(b)))  # out has format 'B': refused
    b.extend(b"x")
    with pytest.raises(ValueError):
        bufsum.sum(b, axis=3)
    b.extend(b"x")
    out = bytearray(8 * len(b))
    bufsum.cumsum(b, out=memoryview(out).cast("q"))
    out.extend(b"x")
    b.extend(b"x")
    acc = bufsum.Accumulator()
    acc.add(b)
    b.extend(b"x")
    assert len(b) == 107


@pytest.mark.parametrize("kind", ["bytearray", "mmap"])
def test_exporter_is_pinned_while_calls_run(kind: str, tmp_path: Any) -> None:
    """Another thread's resizes are refused while calls hold the export. The calls run back to
    back, so almost every attempt lands inside one; the loop stops at the first refusal rather
    than after a fixed time, so a slow machine (or slow resizes, as on free-threaded builds)
    only makes it take longer."""
    n = 32 << 20
    if kind == "bytearray":
        obj: Any = bytearray(b"\x01") * n

        def resize() -> None:
            obj.extend(b"\x01")
            del obj[-1:]
    else:
        with open(tmp_path / "m", "w+b") as f:  # file-backed: 3.14 cannot grow anonymous maps
            f.truncate(n)
            obj = mmap.mmap(f.fileno(), n)

        def resize() -> None:
            obj.resize(n + mmap.PAGESIZE)
            obj.resize(n)

    stop = threading.Event()
    calls = [lambda: bufsum.sum(obj, threads=1), lambda: bufsum.fsum(obj), lambda: bufsum.Accumulator().add(obj)]

    def run() -> None:
        i = 0
        while not stop.is_set():
            calls[i % len(calls)]()
            i += 1

    t = threading.Thread(target=run)
    t.start()
    refused = False
    deadline = time.monotonic() + 300
    try:
        while not refused and time.monotonic() < deadline:
            try:
                resize()
            except BufferError:
                refused = True
    finally:
        stop.set()
        t.join()
    assert refused, f"{kind} could be resized while bufsum held its buffer"
    resize()  # released afterwards


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Python classes export buffers from 3.12 on (PEP 688)")
def test_export_is_held_until_the_work_is_done() -> None:
    """A Python exporter sees when the export is taken and released: cumsum's last write to
    `out` happens before `data` is released, and every call releases what it took, on error
    paths too."""
    n = 1 << 20
    x = np.ones(n)
    out = np.zeros(n)
    events: list[tuple[str, float]] = []

    class Exporter:
        def __init__(self, a: np.ndarray) -> None:
            self.a = a

        def __buffer__(self, flags: int) -> memoryview:
            events.append(("get", float(out[-1])))
            return memoryview(self.a)

        def __release_buffer__(self, view: memoryview) -> None:
            events.append(("release", float(out[-1])))
            view.release()

    bufsum.cumsum(Exporter(x), out=out)
    assert events == [("get", 0.0), ("release", float(n))]
    for call in [lambda e: bufsum.sum(e), lambda e: bufsum.fsum(e, threads=2), lambda e: bufsum.Accumulator().add(e),
                 lambda e: bufsum.sum(e, axis=3), lambda e: bufsum.cumsum(e, out=bytearray(8))]:
        events.clear()
        try:
            call(Exporter(x))
        except (ValueError, TypeError):
            pass
        assert [e[0] for e in events] == ["get", "release"]


def test_gil_released_during_long_sum() -> None:
    # Zero strides: a long call over no memory.
    x = np.broadcast_to(np.float64(1.0), (200_000_000,))
    assert gil_released_during(lambda: bufsum.sum(x, threads=1))
    assert gil_released_during(lambda: bufsum.fsum(x, threads=1))


def test_env_thread_count_does_not_change_bits() -> None:
    import subprocess
    import sys

    code = (
        "import numpy as np, bufsum; a = np.random.default_rng(3).standard_normal(3_000_000);"
        "print(bufsum.sum(a).hex(), bufsum.fsum(a).hex())"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**__import__("os").environ, "BUFSUM_NUM_THREADS": n}).stdout
        for n in ["1", "2", "5"]
    }
    assert len(outs) == 1


def test_many_python_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(int(n)) for n in rng.integers(1, 300_000, 32)]
    want = [(f64_bits(bufsum.sum(a)), bufsum.fsum(a)) for a in arrays]
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda a: (f64_bits(bufsum.sum(a, threads=2)), bufsum.fsum(a)), arrays * 4))
    assert got == want * 4
