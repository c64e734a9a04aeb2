"""cumsum: bit-equal running totals, written GIL-free into buffers the caller built."""

from __future__ import annotations

import array
import itertools

import numpy as np
import pytest
from conftest import gil_released_during, unaligned

import bufsum


def test_float_matches_numpy_and_accumulate_bitwise() -> None:
    a = np.random.default_rng(0).standard_normal(10_007) * 1e6
    got = bufsum.cumsum(a)
    assert isinstance(got, array.array) and got.typecode == "d"
    want = np.cumsum(a, dtype=np.float64)
    assert np.array_equal(np.frombuffer(got, dtype=np.float64).view(np.uint64), want.view(np.uint64))
    assert list(got) == list(itertools.accumulate(a.tolist()))


@pytest.mark.parametrize("dt", ["f2", "f4", ">f4", ">f8"])
def test_narrow_and_big_endian_floats(dt: str) -> None:
    a = (np.random.default_rng(1).standard_normal(3000) * 100).astype(dt)
    got = np.frombuffer(bufsum.cumsum(a), dtype=np.float64)
    assert np.array_equal(got, np.cumsum(a, dtype=np.float64))


@pytest.mark.parametrize("dt", ["?", "i1", "u1", "i2", "u4", ">i8", "u8"])
def test_integers_give_int64(dt: str) -> None:
    a = np.random.default_rng(2).integers(0, 100, 1000).astype(dt)
    got = bufsum.cumsum(a)
    assert got.typecode == "q"
    assert list(got) == list(itertools.accumulate(int(v) for v in a.tolist()))


def test_into_numpy_strided_reversed_and_bytearray_outs() -> None:
    a = np.random.default_rng(3).standard_normal(500)
    want = np.cumsum(a)
    out = np.zeros(500)
    assert bufsum.cumsum(a, out=out) is out and np.array_equal(out, want)
    big = np.full(1500, -7.0)
    strided = big[::3]
    bufsum.cumsum(a, out=strided)
    assert np.array_equal(big[::3], want)
    assert np.all(big[1::3] == -7.0) and np.all(big[2::3] == -7.0)  # nothing between written
    rev = np.zeros(500)
    bufsum.cumsum(a, out=rev[::-1])
    assert np.array_equal(rev[::-1], want)
    ba = bytearray(8 * 500)
    mv = memoryview(ba).cast("d")
    assert bufsum.cumsum(a, out=mv) is mv
    assert np.array_equal(np.frombuffer(ba), want)
    arr = array.array("d", [0.0]) * 500
    bufsum.cumsum(a, out=arr)
    assert np.array_equal(np.asarray(arr), want)
    two_d = np.zeros((20, 25))
    bufsum.cumsum(a, out=two_d)
    assert np.array_equal(two_d.ravel(), want)
    be = np.zeros(500, dtype=">f8")
    bufsum.cumsum(a, out=be)
    assert np.array_equal(be, want)
    unal = unaligned(np.zeros(500))
    bufsum.cumsum(a, out=unal)
    assert np.array_equal(unal, want)


def test_in_place_same_memory() -> None:
    a = np.random.default_rng(4).standard_normal(10_000)
    want = np.cumsum(a)
    assert bufsum.cumsum(a, out=a) is a
    assert np.array_equal(a, want)
    q = np.arange(100_000, dtype=np.int64)
    bufsum.cumsum(q, out=q)
    assert np.array_equal(q, np.cumsum(np.arange(100_000)))


def assert_untouched_after(exc: type[BaseException], data: object, out: np.ndarray | bytearray) -> None:
    before = bytes(out)
    with pytest.raises(exc):
        bufsum.cumsum(data, out=out)  # type: ignore[call-overload]
    assert bytes(out) == before


def test_errors_leave_out_untouched() -> None:
    a = np.arange(10.0)
    assert_untouched_after(ValueError, a, np.full(9, 3.0))  # wrong count
    assert_untouched_after(TypeError, a, np.full(10, 3.0, dtype=np.float32))  # wrong format
    assert_untouched_after(TypeError, a, np.full(10, 3, dtype=np.int64))  # float data, int out
    assert_untouched_after(TypeError, np.arange(10), np.full(10, 3.0))  # int data, float out
    ro = np.full(10, 3.0)
    ro.flags.writeable = False
    with pytest.raises((BufferError, TypeError)):
        bufsum.cumsum(a, out=ro)
    assert np.all(ro == 3.0)
    with pytest.raises((BufferError, TypeError)):
        bufsum.cumsum(np.arange(1, dtype=np.uint8), out=bytes(8))  # type: ignore[call-overload]
    big = np.full(20, 5.0)
    assert_untouched_after(ValueError, big[:10], big[5:15])  # partial overlap
    shifted = np.full(11, 5.0)
    assert_untouched_after(ValueError, shifted[1:], shifted[:10])
    huge = np.array([2**62, 2**62, -(2**62)], dtype=np.int64)
    assert_untouched_after(OverflowError, huge, np.full(3, 9, dtype=np.int64))
    u = np.array([2**64 - 1], dtype=np.uint64)
    assert_untouched_after(OverflowError, u, np.full(1, 9, dtype=np.int64))
    with pytest.raises(TypeError, match="complex"):
        bufsum.cumsum(np.zeros(3, complex))


def test_overflow_detected_even_when_final_total_fits() -> None:
    a = np.array([2**62, 2**62, -(2**62), -(2**62)], dtype=np.int64)  # ends at 0
    with pytest.raises(OverflowError):
        bufsum.cumsum(a)


def test_out_export_released() -> None:
    data = bytearray(b"\x01" * 16)
    out = bytearray(8 * 16)
    bufsum.cumsum(data, out=memoryview(out).cast("q"))
    out.extend(b"\x00" * 8)
    with pytest.raises(ValueError):
        bufsum.cumsum(data, out=memoryview(out).cast("q"))
    out.extend(b"\x00" * 8)
    assert len(out) == 8 * 18


def test_empty_and_zero_d() -> None:
    assert len(bufsum.cumsum(np.zeros(0))) == 0
    assert list(bufsum.cumsum(np.array(2.5))) == [2.5]


def test_gil_released_during_long_cumsum() -> None:
    x = np.broadcast_to(np.float64(1.0), (60_000_000,))
    out = np.empty(x.shape)
    assert gil_released_during(lambda: bufsum.cumsum(x, out=out))
    assert out[-1] == 60_000_000.0


# --- property tests over formats x shapes x strides x byte orders x alignments -------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_exact import arrays  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(arrays(), st.sampled_from(["<f8", ">f8", "<i8", ">i8"]), st.booleans())
def test_property_cumsum_any_layout(pair: tuple[np.ndarray, np.ndarray], out_dt: str, reverse_out: bool) -> None:
    view, native = pair
    kind = native.dtype.kind
    if kind == "c":
        with pytest.raises(TypeError):
            bufsum.cumsum(view)
        return
    flat = native.ravel()
    if kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):  # inf totals are part of the oracle
            want = np.cumsum(flat, dtype=np.float64)
    else:
        acc = list(itertools.accumulate(int(v) for v in flat.tolist()))
        if any(not -(2**63) <= v < 2**63 for v in acc):
            with pytest.raises(OverflowError):
                bufsum.cumsum(view)
            return
        want = np.array(acc, dtype=np.int64)
    got = np.asarray(bufsum.cumsum(view))
    assert np.array_equal(got.view(np.uint64), want.view(np.uint64)) if kind == "f" else np.array_equal(got, want)
    fits = (out_dt[1] == "f") == (kind == "f")
    out = np.full(flat.size, 7, dtype=out_dt)
    target = out[::-1] if reverse_out else out
    if not fits:
        before = out.tobytes()
        with pytest.raises(TypeError):
            bufsum.cumsum(view, out=target)
        assert out.tobytes() == before
        return
    assert bufsum.cumsum(view, out=target) is target
    assert np.array_equal(np.asarray(target, dtype=want.dtype), want)
