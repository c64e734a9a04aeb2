"""Axis reductions: each entry is the whole-buffer reduction of its slice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import f64_bits

import bufsum


def test_sum_axis_matches_per_slice_bits() -> None:
    a = np.random.default_rng(0).standard_normal((7, 3000, 3)) * 1e3
    for axis in [0, 1, 2, -1, (0, 2), (1,), (0, 1, 2)]:
        got = np.asarray(bufsum.sum(a, axis=axis))
        axes = (axis,) if isinstance(axis, int) else axis
        axes = tuple(ax % 3 for ax in axes)
        kept = [ax for ax in range(3) if ax not in axes]
        moved = np.moveaxis(a, kept, list(range(len(kept))))
        flat = moved.reshape(moved.shape[: len(kept)] + (-1,))
        for idx in np.ndindex(*flat.shape[:-1]):
            assert f64_bits(float(got[idx])) == f64_bits(bufsum.sum(np.ascontiguousarray(flat[idx])))
        assert np.allclose(got, a.sum(axis=axes))


def test_fsum_axis_correctly_rounded() -> None:
    a = np.random.default_rng(1).standard_normal((40, 50)) * 10.0 ** np.random.default_rng(2).integers(-20, 20, (40, 50))
    got = np.asarray(bufsum.fsum(a, axis=0))
    assert got.dtype == np.float64 and got.shape == (50,)
    for j in range(50):
        assert got[j] == math.fsum(a[:, j].tolist())
    got1 = np.asarray(bufsum.fsum(a, axis=1, keepdims=True))
    assert got1.shape == (40, 1)
    assert [got1[i, 0] for i in range(40)] == [math.fsum(a[i].tolist()) for i in range(40)]


def test_integer_axis_gives_int64_and_overflow_error() -> None:
    a = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    mv = bufsum.sum(a, axis=(0, 2))
    assert mv.format == "q" and mv.shape == (3,)
    assert mv.tolist() == a.sum(axis=(0, 2)).tolist()
    big = np.full((2, 3), 2**62, dtype=np.int64)
    with pytest.raises(OverflowError):
        bufsum.sum(big, axis=0)
    assert bufsum.fsum(big, axis=0).format == "d"


def test_out_keepdims_and_zero_length() -> None:
    a = np.arange(12.0).reshape(3, 4)
    out = np.full(4, -1.0)
    assert bufsum.sum(a, axis=0, out=out) is out
    assert out.tolist() == [12.0, 15.0, 18.0, 21.0]
    strided_out = np.zeros(8)[::2]
    bufsum.sum(a, axis=0, out=strided_out)
    assert strided_out.tolist() == [12.0, 15.0, 18.0, 21.0]
    assert np.asarray(bufsum.sum(a, axis=1, keepdims=True)).shape == (3, 1)
    assert np.asarray(bufsum.sum(a, keepdims=True)).shape == (1, 1)
    z = np.zeros((0, 5))
    assert np.asarray(bufsum.sum(z, axis=0)).tolist() == [0.0] * 5
    assert np.asarray(bufsum.sum(z, axis=1)).shape == (0,)
    zero_d = np.asarray(bufsum.sum(a, axis=(0, 1)))
    assert zero_d.shape == () and float(zero_d) == 66.0
    with pytest.raises(ValueError):
        bufsum.sum(a, axis=0, out=np.zeros(3))
    with pytest.raises(TypeError):
        bufsum.sum(a, axis=0, out=np.zeros(4, dtype=np.float32))
    with pytest.raises(TypeError):
        bufsum.sum(np.arange(12).reshape(3, 4), axis=0, out=np.zeros(4))


def test_result_is_wrapped_by_numpy_without_copy() -> None:
    mv = bufsum.sum(np.ones((4, 5)), axis=1)
    arr = np.asarray(mv)
    assert np.shares_memory(arr, np.asarray(mv))
    arr[0] = 99.0  # writable, like numpy's own results
    assert mv[0] == 99.0


@pytest.mark.parametrize("axis", [2, -3, (0, 0), (1, -1)])
def test_bad_axes(axis: object) -> None:
    with pytest.raises(ValueError, match="axis"):
        bufsum.sum(np.zeros((2, 3)), axis=axis)  # type: ignore[call-overload]


def test_axis_type_errors() -> None:
    for axis in [1.0, "0", [0]]:
        with pytest.raises(TypeError, match="axis"):
            bufsum.sum(np.zeros((2, 3)), axis=axis)  # type: ignore[call-overload]


# --- property test: every entry is the reduction of its own slice ------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_exact import arrays  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(arrays(), st.data())
def test_property_axis_entries_equal_slice_reductions(pair: tuple[np.ndarray, np.ndarray], data: st.DataObject) -> None:
    view, native = pair
    if native.dtype.kind == "c" or view.ndim == 0:
        return
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, view.ndim - 1), min_size=1))))
    kept = [ax for ax in range(view.ndim) if ax not in axes]
    moved = np.moveaxis(native, kept, list(range(len(kept))))
    reduced_len = int(np.prod([view.shape[ax] for ax in axes]))
    flat = moved.reshape(moved.shape[: len(kept)] + (reduced_len,))
    s = np.asarray(bufsum.sum(view, axis=axes)) if native.dtype.kind == "f" else None
    f = np.asarray(bufsum.fsum(view, axis=axes))
    exact = [sum(int(v) for v in flat[idx].tolist()) for idx in np.ndindex(*flat.shape[:-1])] if s is None else []
    if s is None:
        if all(-(2**63) <= v < 2**63 for v in exact):
            q = np.asarray(bufsum.sum(view, axis=axes))
            assert q.dtype == np.int64 and q.ravel().tolist() == exact
        else:
            with pytest.raises(OverflowError):
                bufsum.sum(view, axis=axes)
    for idx in np.ndindex(*flat.shape[:-1]):
        piece = np.ascontiguousarray(flat[idx])
        assert f64_bits(float(f[idx])) == f64_bits(bufsum.fsum(piece))
        if s is not None:
            assert f64_bits(float(s[idx])) == f64_bits(bufsum.sum(piece))


def test_axis0_of_c_order_matrix_many_blocks_bits() -> None:
    # Rows beyond one canonical block and column counts beyond one tile of the row-walking path.
    a = np.random.default_rng(5).standard_normal((5000, 300)) * 1e4
    got = np.asarray(bufsum.sum(a, axis=0))
    for j in range(300):
        assert f64_bits(float(got[j])) == f64_bits(bufsum.sum(np.ascontiguousarray(a[:, j])))
    t = np.asarray(bufsum.sum(a[:, ::-1], axis=0))  # kept axis reversed: the per-slice path
    assert np.array_equal(t[::-1], got)
