"""fsum against math.fsum and Fraction; sum's reproducibility and accuracy; property tests over
formats x shapes x strides x byte orders x alignments."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from conftest import exact_int_sum, f64_bits, unaligned
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bufsum


def fsum_oracle(a: np.ndarray) -> float:
    return math.fsum(np.asarray(a, dtype=np.float64).ravel().tolist())


def fraction_round(vals: list[float]) -> float:
    """Correct rounding of the exact rational sum (Fraction -> float rounds half-even); ±inf
    where that rounding overflows."""
    exact = sum((Fraction(v) for v in vals), Fraction(0))
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def test_fsum_classics() -> None:
    assert bufsum.fsum(np.array([0.1] * 10)) == 1.0
    assert bufsum.fsum(np.array([1e308, 1e308, -1e308])) == 1e308  # math.fsum raises here
    with pytest.raises(OverflowError):
        math.fsum([1e308, 1e308, -1e308])
    assert bufsum.fsum(np.array([1.0, 1e100, 1.0, -1e100])) == 2.0
    assert bufsum.fsum(np.array([1e308, 1e308])) == math.inf
    assert bufsum.fsum(np.array([-1e308, -1e308])) == -math.inf
    assert math.isnan(bufsum.fsum(np.array([math.inf, -math.inf])))
    assert math.isnan(bufsum.fsum(np.array([1.0, math.nan])))
    assert bufsum.fsum(np.array([math.inf, 1e308, 1e308])) == math.inf
    assert bufsum.fsum(np.array([5e-324] * 3)) == 1.5e-323
    assert f64_bits(bufsum.fsum(np.array([-0.0]))) == f64_bits(math.fsum([-0.0]))


def test_fsum_ties_round_half_even() -> None:
    u = 2.0**-53
    for vals in ([1.0, u], [1.0 + 2 * u, u], [1.0, u, 1e-300], [-1.0, -u], [2.0**53, 1.0], [2.0**53 + 2, 1.0],
                 [1.7976931348623157e308, 2.0**969], [1.7976931348623157e308, 2.0**970]):
        want = fraction_round(vals)
        assert bufsum.fsum(np.array(vals)) == want, vals


def test_nan_and_infinities_in_sum() -> None:
    assert math.isnan(bufsum.sum(np.array([1.0, math.nan, 2.0])))
    assert math.isnan(bufsum.sum(np.array([math.inf, -math.inf])))
    assert bufsum.sum(np.array([math.inf, 1.0])) == math.inf


def ill_conditioned(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    return np.concatenate([a, -a[: n // 2], rng.standard_normal(10)])[rng.permutation(n + 10)]


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.standard_normal(100_000),
        lambda r: r.standard_normal(50_000) * 10.0 ** r.integers(-300, 300, 50_000),
        lambda r: r.standard_normal(10_000) * 5e-324 * 2**50,  # subnormals
        lambda r: np.concatenate([r.standard_normal(10_000) * 1e16, -r.standard_normal(10_000) * 1e16, [1.0]]),
    ],
)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("dt", ["<f8", ">f8"])
def test_fsum_matches_math_fsum_bitwise(make, seed: int, dt: str) -> None:  # type: ignore[no-untyped-def]
    a = make(np.random.default_rng(seed)).astype(dt)
    want = fsum_oracle(a)
    assert f64_bits(bufsum.fsum(a)) == f64_bits(want)
    assert f64_bits(bufsum.fsum(a, threads=3)) == f64_bits(want)
    assert f64_bits(bufsum.fsum(unaligned(a)[::-1])) == f64_bits(want)


def test_fsum_cancellation_over_full_exponent_range() -> None:
    a = ill_conditioned(20_000, 7)
    assert f64_bits(bufsum.fsum(a)) == f64_bits(fsum_oracle(a))


@pytest.mark.parametrize("dt", ["f4", ">f4", "f2"])
def test_fsum_narrow_floats_vs_fraction(dt: str) -> None:
    a = (np.random.default_rng(2).standard_normal(3000) * 100).astype(dt)
    vals = a.astype(np.float64).tolist()
    assert bufsum.fsum(a) == fraction_round(vals)


@pytest.mark.parametrize("dt", ["i1", "u2", "i4", "u4", "i8", "u8", ">i8"])
def test_fsum_of_integers_is_rounded_exact_int(dt: str) -> None:
    info = np.iinfo(dt)
    rng = np.random.default_rng(0)
    a = rng.integers(info.min, info.max, 5000, dtype=np.dtype(dt).newbyteorder("="), endpoint=True).astype(dt)
    got = bufsum.fsum(a)
    assert type(got) is float
    assert got == float(exact_int_sum(a))


def test_fsum_integers_beyond_53_bits_round_correctly() -> None:
    a = np.array([2**53, 1, 1], dtype=np.int64)  # exact 2**53 + 2
    assert bufsum.fsum(a) == float(2**53 + 2)
    b = np.array([2**63 - 1] * 3, dtype=np.uint64)
    assert bufsum.fsum(b) == float(3 * (2**63 - 1))


def test_fsum_complex_per_part() -> None:
    rng = np.random.default_rng(4)
    z = (rng.standard_normal(4000) * 1e10 + 1j * rng.standard_normal(4000)).astype(">c16")
    got = bufsum.fsum(z)
    assert got.real == math.fsum(z.real.tolist()) and got.imag == math.fsum(z.imag.tolist())


def test_sum_accuracy_bound_and_beats_naive() -> None:
    rng = np.random.default_rng(9)
    a = rng.standard_normal(2_000_000) + 1e3
    exact = fsum_oracle(a)
    assert abs(bufsum.sum(a) - exact) <= 1e-12 * math.fsum(np.abs(a).tolist())
    # numpy's documented example of pairwise failure on float32 data, summed in float64 here.
    ones = np.ones(10**6, dtype=np.float32) * np.float32(0.1)
    assert abs(bufsum.sum(ones) - fsum_oracle(ones)) <= 1e-12 * fsum_oracle(ones)


def test_sum_bits_independent_of_threads_layout_and_order() -> None:
    a = np.random.default_rng(11).standard_normal(1_000_003) * 1e5
    want = f64_bits(bufsum.sum(a))
    for t in range(1, 9):
        assert f64_bits(bufsum.sum(a, threads=t)) == want
    assert f64_bits(bufsum.sum(a.astype(">f8"))) == want
    assert f64_bits(bufsum.sum(unaligned(a))) == want
    rev = np.ascontiguousarray(a[::-1])
    assert f64_bits(bufsum.sum(rev[::-1])) == want
    strided = np.zeros(2 * a.size)
    strided[::2] = a
    assert f64_bits(bufsum.sum(strided[::2])) == want
    assert f64_bits(bufsum.sum(a.reshape(1, -1).T)) == want


# --- property tests ---------------------------------------------------------------------------

FORMATS = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "b1", "f2", "f4", "f8", "c8", "c16"]


@st.composite
def arrays(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """(view, its values as a contiguous native copy) over formats x shapes x strides x orders x
    alignments."""
    code = draw(st.sampled_from(FORMATS))
    order = draw(st.sampled_from(["<", ">", "="])) if code != "b1" else "|"
    dtype = np.dtype(code).newbyteorder(order) if code != "b1" else np.dtype(bool)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
    base = draw(hnp.arrays(np.dtype(code), shape, elements=_elements(code)))
    base = base.astype(dtype)
    if draw(st.booleans()):
        base = unaligned(base) if base.size else base
    view = base
    if base.ndim:
        slices = tuple(
            slice(None, None, draw(st.sampled_from([1, 2, -1, -3]))) for _ in range(base.ndim)
        )
        view = base[slices]
        if draw(st.booleans()):
            view = view.transpose(draw(st.permutations(range(view.ndim))))
    return view, np.ascontiguousarray(view).astype(dtype.newbyteorder("="))


def _elements(code: str) -> st.SearchStrategy[object]:
    k = np.dtype(code).kind
    if k == "f":
        w = np.dtype(code).itemsize * 8
        return st.floats(width=w, allow_nan=False, allow_infinity=False)  # type: ignore[arg-type]
    if k == "c":
        w = np.dtype(code).itemsize * 4
        return st.complex_numbers(allow_nan=False, allow_infinity=False, width=2 * w)  # type: ignore[arg-type]
    if k == "b":
        return st.booleans()
    info = np.iinfo(code)
    return st.integers(int(info.min), int(info.max))


@settings(max_examples=400, deadline=None)
@given(arrays())
def test_property_sum_and_fsum(pair: tuple[np.ndarray, np.ndarray]) -> None:
    view, native = pair
    k = native.dtype.kind
    if k in "iub":
        assert bufsum.sum(view) == exact_int_sum(native)
        assert bufsum.fsum(view) == float(exact_int_sum(native))
    elif k == "f":
        wide = native.astype(np.float64).ravel()
        assert f64_bits(bufsum.sum(view)) == f64_bits(bufsum.sum(wide))
        try:
            want = math.fsum(wide.tolist())
        except OverflowError:
            want = fraction_round(wide.tolist())
        assert f64_bits(bufsum.fsum(view)) == f64_bits(want)
    else:
        wide = native.astype(np.complex128).ravel()
        got = bufsum.sum(view)
        assert f64_bits(got.real) == f64_bits(bufsum.sum(np.ascontiguousarray(wide.real)))
        assert f64_bits(got.imag) == f64_bits(bufsum.sum(np.ascontiguousarray(wide.imag)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=60))
def test_property_fsum_vs_math_fsum(vals: list[float]) -> None:
    try:
        want = math.fsum(vals)
    except OverflowError:
        want = fraction_round(vals)
    assert f64_bits(bufsum.fsum(np.array(vals, dtype=np.float64))) == f64_bits(want)
