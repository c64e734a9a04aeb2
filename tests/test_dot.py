"""bufsum.dot / fdot / Accumulator.add_products against independent oracles (SPEC Part 2).

Oracles never call bufsum: exact products as Python integers scaled by 2^2148 (every product of
two float64 values or integers is a multiple of 2^-2148), rounded half-even by `round_half_even`
(integer arithmetic, itself checked against CPython's correctly rounded int/int division), exact
Python ints for integer dots, and `math.fsum` where every product is an exact float64. NumPy only
builds data. Every fdot call runs twice, normally and inside `bufsum._force_exact()`, and the two
results must have the same bits (certified == exact wherever the certificate runs).
"""

from __future__ import annotations

import array
import copy
import ctypes
import math
import pickle
import random
import struct
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from conftest import f64_bits, gil_released_during, unaligned
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bufsum

# ---------------------------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------------------------

MAX = float.fromhex("0x1.fffffffffffffp+1023")
TINY = 5e-324  # 2^-1074
SCALE = 2148  # exact products are multiples of 2^-SCALE


def round_half_even(q: Fraction) -> float:
    """The float64 nearest to `q` (ties to even), ±inf where that rounding overflows.

    Integer arithmetic only (no float division), so it is an independent oracle."""
    if q == 0:
        return 0.0
    sign = -1.0 if q < 0 else 1.0
    n, d = abs(q.numerator), q.denominator
    e = n.bit_length() - d.bit_length()  # 2^e <= q < 2^(e+1) after the fix-up
    if (n << max(0, -e)) < (d << max(0, e)):
        e -= 1
    k = max(e - 52, -1074)  # exponent of the unit in the last place
    num, den = (n, d << k) if k >= 0 else (n << -k, d)
    m, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and m & 1):
        m += 1
    if m.bit_length() + k > 1024:  # m·2^k >= 2^1024
        return sign * math.inf
    return sign * math.ldexp(m, k)


def scaled(v: Any) -> int:
    """`v · 2^1074` as an exact int (v a finite Python float, int or bool)."""
    if isinstance(v, float):
        n, d = v.as_integer_ratio()
        return n << (1074 - (d.bit_length() - 1))
    return int(v) << 1074


def _real_terms(
    x: list[Any], y: list[Any], cx: bool, cy: bool
) -> tuple[list[tuple[Any, Any, int]], list[tuple[Any, Any, int]] | None]:
    """The signed product terms (a, b, ±1) of the real part and (for complex) the imaginary part."""
    if not (cx or cy):
        return [(a, b, 1) for a, b in zip(x, y)], None
    re_t: list[tuple[Any, Any, int]] = []
    im_t: list[tuple[Any, Any, int]] = []
    for a, b in zip(x, y):
        if cx and cy:
            a, b = complex(a), complex(b)
            re_t += [(a.real, b.real, 1), (a.imag, b.imag, -1)]
            im_t += [(a.real, b.imag, 1), (a.imag, b.real, 1)]
        elif cx:
            a = complex(a)
            re_t.append((a.real, b, 1))
            im_t.append((a.imag, b, 1))
        else:
            b = complex(b)
            re_t.append((a, b.real, 1))
            im_t.append((a, b.imag, 1))
    return re_t, im_t


def _is_inf(v: Any) -> bool:
    return isinstance(v, float) and math.isinf(v)


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def exact_terms(terms: list[tuple[Any, Any, int]]) -> Fraction | float:
    """The exact Σ ±a·b as a Fraction, or NaN / ±inf by the SPEC's rules for non-finite data."""
    nan, pos, neg = False, False, False
    total = 0
    for a, b, s in terms:
        if _is_nan(a) or _is_nan(b):
            nan = True
        elif _is_inf(a) or _is_inf(b):
            if a == 0 or b == 0:
                nan = True  # inf·0
            elif (1 if a > 0 else -1) * (1 if b > 0 else -1) * s > 0:
                pos = True
            else:
                neg = True
        else:
            total += s * scaled(a) * scaled(b)
    if nan or (pos and neg):
        return math.nan
    if pos:
        return math.inf
    if neg:
        return -math.inf
    return Fraction(total, 1 << SCALE)


def exact_dot(
    x: list[Any], y: list[Any], cx: bool | None = None, cy: bool | None = None
) -> Fraction | float | tuple[Fraction | float, Fraction | float]:
    """The exact Σ x[i]·y[i] (per part for complex; `cx`/`cy` say whether x/y are complex, by
    default whether any value is)."""
    cx = any(isinstance(v, complex) for v in x) if cx is None else cx
    cy = any(isinstance(v, complex) for v in y) if cy is None else cy
    re_t, im_t = _real_terms(x, y, cx, cy)
    if im_t is None:
        return exact_terms(re_t)
    return exact_terms(re_t), exact_terms(im_t)


def _round(v: Fraction | float) -> float:
    return round_half_even(v) if isinstance(v, Fraction) else v


def oracle_fdot(x: Any, y: Any) -> float | complex:
    """The SPEC's fdot of two arrays (values taken in C order of the logical shape)."""
    e = exact_dot(values(x), values(y), np.asarray(x).dtype.kind == "c", np.asarray(y).dtype.kind == "c")
    if isinstance(e, tuple):
        return complex(_round(e[0]), _round(e[1]))
    return _round(e)


def abs_sum(x: Any, y: Any) -> float:
    """Σ|x[i]·y[i]| as a float (its own rounding is far below the 1e-12 tolerance)."""
    xs, ys = values(x), values(y)
    return float(sum(abs(complex(a)) * abs(complex(b)) for a, b in zip(xs, ys)))


def values(a: Any) -> list[Any]:
    """Python values of `a` in C order: ints for integer/bool data, floats, complex."""
    arr = np.asarray(a)
    if arr.dtype == np.bool_:
        return [int(v) for v in arr.ravel().tolist()]
    return arr.astype(arr.dtype.newbyteorder("=")).ravel().tolist()


def same(a: Any, b: Any) -> bool:
    """Bit equality of floats (NaN equals NaN), per part for complex; equality for ints."""
    if isinstance(a, complex) or isinstance(b, complex):
        return type(a) is type(b) and same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or f64_bits(a) == f64_bits(b)
    return type(a) is type(b) and a == b


def run(fn: Any, x: Any, y: Any, **kw: Any) -> Any:
    """`fn(x, y)` normally and with the exact path forced; both results must agree bit for bit."""
    got = fn(x, y, **kw)
    with bufsum._force_exact():
        forced = fn(x, y, **kw)
    if isinstance(got, memoryview):
        assert got.format == forced.format and got.shape == forced.shape
        a, b = got.tolist(), forced.tolist()
        assert all(same(p, q) for p, q in zip(np.ravel(a).tolist(), np.ravel(b).tolist())), "certified != exact"
    else:
        assert same(got, forced), f"certified {got!r} != exact {forced!r}"
    return got


def check_fdot(x: Any, y: Any, **kw: Any) -> float | complex:
    got = run(bufsum.fdot, x, y, **kw)
    want = oracle_fdot(x, y)
    assert same(got, want), f"fdot: want {want!r} ({_hex(want)}), got {got!r} ({_hex(got)})"
    return got


def _hex(v: Any) -> str:
    return v.hex() if isinstance(v, float) else repr(v)


def check_dot_accuracy(x: Any, y: Any, got: float) -> None:
    exact = exact_dot(values(x), values(y))
    assert isinstance(exact, Fraction)
    bound = Fraction(abs_sum(x, y)) * Fraction(1, 10**12) + Fraction(len(values(x))) * Fraction(TINY)
    assert abs(Fraction(got) - exact) <= bound, (got, float(exact))


def pad_cancelling(x: np.ndarray, y: np.ndarray, pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`x`, `y` plus `pairs` pairs of random products that cancel exactly, shuffled (lengthens the
    input past the certified path's minimum without changing the exact value)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(pairs) * 2.0 ** rng.integers(-40, 40, pairs)
    b = rng.standard_normal(pairs) * 2.0 ** rng.integers(-40, 40, pairs)
    xs = np.concatenate([x.astype(np.float64), a, a])
    ys = np.concatenate([y.astype(np.float64), b, -b])
    order = rng.permutation(xs.size)
    return xs[order], ys[order]


def spread_floats(rng: np.random.Generator, n: int, spread: int) -> np.ndarray:
    m = rng.uniform(1.0, 2.0, n) * rng.choice([-1.0, 1.0], n)
    return np.ldexp(m, rng.integers(-spread, spread + 1, n))


# ---------------------------------------------------------------------------------------------
# The oracle itself
# ---------------------------------------------------------------------------------------------


def test_round_half_even_matches_cpython_division_and_edges() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        num = rng.getrandbits(rng.randint(1, 200)) * rng.choice([-1, 1])
        den = 1 << rng.randint(0, 1200) if rng.random() < 0.5 else rng.getrandbits(rng.randint(1, 200)) | 1
        q = Fraction(num, den) * Fraction(2) ** rng.randint(-1100, 900)
        try:
            want = q.numerator / q.denominator  # CPython: correctly rounded
        except OverflowError:
            want = math.inf if q > 0 else -math.inf
        assert same(round_half_even(q), want), q
    # Exact ties, random normal and subnormal floats: halfway to the next float.
    for _ in range(2000):
        v = abs(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(63)))[0])
        if not math.isfinite(v) or v == MAX:
            continue
        up = math.nextafter(v, math.inf)
        mid = (Fraction(v) + Fraction(up)) / 2
        m = struct.unpack("<Q", struct.pack("<d", v))[0]
        assert round_half_even(mid) == (v if m % 2 == 0 else up)
        assert round_half_even(-mid) == -round_half_even(mid)
        assert round_half_even(mid + Fraction(1, 1 << 2200)) == up
        assert round_half_even(mid - Fraction(1, 1 << 2200)) == v
    half_ulp_max = Fraction(2) ** 970
    assert round_half_even(Fraction(MAX) + half_ulp_max) == math.inf
    assert round_half_even(-Fraction(MAX) - half_ulp_max) == -math.inf
    assert round_half_even(Fraction(MAX) + half_ulp_max - Fraction(1, 1 << 2000)) == MAX
    assert round_half_even(Fraction(2) ** 1024) == math.inf
    assert round_half_even(Fraction(1, 1 << 1075)) == 0.0  # tie with 0: even
    assert round_half_even(Fraction(3, 1 << 1075)) == 2 * TINY  # tie: even
    assert round_half_even(Fraction(1, 1 << 1075) + Fraction(1, 1 << 2148)) == TINY
    assert round_half_even(Fraction(1) + Fraction(1, 1 << 53)) == 1.0
    assert round_half_even(Fraction(0)) == 0.0


def test_exact_oracle_equals_plain_fraction_sums() -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        x = spread_floats(rng, 20, 1023).tolist() + [TINY, -MAX, 3, 2**70]
        y = spread_floats(rng, 20, 1023).tolist() + [TINY, MAX, -(2**63), 0.5]
        want = sum((Fraction(a) * Fraction(b) for a, b in zip(x, y)), Fraction(0))
        assert exact_dot(x, y) == want
    assert exact_dot([math.inf, 1.0], [0.0, 1.0]) != exact_dot([math.inf, 1.0], [0.0, 1.0])  # NaN
    assert exact_dot([math.inf, -math.inf], [1.0, -1.0]) == math.inf
    assert math.isnan(exact_dot([math.inf, math.inf], [1.0, -1.0]))  # type: ignore[arg-type]
    assert exact_dot([1 + 2j, 0.5], [3 - 1j, 2 + 4j]) == (Fraction(6), Fraction(7))
    assert exact_dot([1 + 2j], [2.0]) == (Fraction(2), Fraction(4))


# ---------------------------------------------------------------------------------------------
# fdot: correct rounding
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 17, 255, 256, 257, 2047, 2048, 2049, 4097, 20_000])
@pytest.mark.parametrize("spread", [0, 8, 60, 400, 1000])
def test_fdot_random_correctly_rounded(n: int, spread: int) -> None:
    rng = np.random.default_rng(n * 1009 + spread)
    x = spread_floats(rng, n, spread // 2)
    y = spread_floats(rng, n, spread // 2)
    check_fdot(x, y)
    check_fdot(x[::-1], y[::-1])


@pytest.mark.parametrize("n, spread", [(100_000, 500), (30_000, 10)])
def test_fdot_long_inputs(n: int, spread: int) -> None:
    rng = np.random.default_rng(spread)
    x = spread_floats(rng, n, spread)
    y = spread_floats(rng, n, spread)
    check_fdot(x, y)
    # Massive cancellation: the same products with a flipped sign, plus a small residue.
    xx = np.concatenate([x, x, [1e-10]])
    yy = np.concatenate([y, -y, [3.0]])
    order = rng.permutation(xx.size)
    got = check_fdot(xx[order], yy[order])
    assert got == 1e-10 * 3.0  # the correctly rounded product


def test_fdot_float32_products_equal_math_fsum() -> None:
    # float32 · float32 products are exact float64 values: math.fsum is an independent oracle.
    rng = np.random.default_rng(11)
    for n in [1, 100, 300, 5000, 50_000]:
        x = (rng.standard_normal(n) * 2.0 ** rng.integers(-60, 60, n)).astype(np.float32)
        y = (rng.standard_normal(n) * 2.0 ** rng.integers(-60, 60, n)).astype(np.float32)
        products = [float(a) * float(b) for a, b in zip(x.tolist(), y.tolist())]
        want = math.fsum(products)
        assert same(run(bufsum.fdot, x, y), want)
        assert same(run(bufsum.fdot, x.astype(">f4"), unaligned(y)), want)
        # int32 · int16: exact products below 2^53 as well.
        xi = rng.integers(-(2**31), 2**31, n, dtype=np.int32)
        yi = rng.integers(-(2**15), 2**15, n, dtype=np.int16)
        assert same(run(bufsum.fdot, xi, yi), math.fsum(float(a) * float(b) for a, b in zip(xi.tolist(), yi.tolist())))
    if hasattr(math, "sumprod"):  # 3.12+: exact here because every product and partial is exact
        xs = [float(v) for v in range(-300, 300)]
        assert run(bufsum.fdot, np.array(xs), np.array(xs[::-1])) == math.sumprod(xs, xs[::-1])


@pytest.mark.parametrize("seed", range(6))
def test_fdot_cancellation_across_the_whole_exponent_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    # Products from 2^-2148 up to ~2^2046, most of them cancelled by their negation.
    x = np.ldexp(rng.uniform(1, 2, n), rng.integers(-1074, 1023, n))
    y = np.ldexp(rng.uniform(1, 2, n), rng.integers(-1074, 1023, n))
    keep = rng.random(n) < 0.05
    xx = np.concatenate([x, x[~keep]])
    yy = np.concatenate([y, -y[~keep]])
    order = rng.permutation(xx.size)
    check_fdot(xx[order], yy[order])
    # The survivors are tiny, the cancelled ones huge.
    small = rng.integers(-600, -300, 20)
    xs = np.concatenate([np.ldexp(1.5, small), [1e300, 1e300, 1e-170, 1e-170]])
    ys = np.concatenate([np.full(20, 0.75), [1e300, -1e300, 1e-170, -1e-170]])
    got = check_fdot(xs, ys)
    assert got != 0.0
    check_fdot(*pad_cancelling(xs, ys, 300, seed))


def test_fdot_products_that_overflow_float64() -> None:
    x = np.array([1e300, 1e300, 3.0])
    y = np.array([1e300, -1e300, 1.0])
    assert check_fdot(x, y) == 3.0
    assert check_fdot(np.array([MAX, MAX, 1.0]), np.array([2.0, -2.0, -0.5])) == -0.5
    # Overflowing products of one sign: the total overflows (not NaN).
    assert check_fdot(np.array([1e300, 1e300]), np.array([1e300, 1e300])) == math.inf
    assert check_fdot(np.array([-1e300]), np.array([1e300])) == -math.inf
    # Just below and just at the overflow threshold of the final rounding.
    half_ulp = 2.0**485  # (2^485)^2 = 2^970 = half an ulp of MAX
    assert check_fdot(np.array([MAX, half_ulp]), np.array([1.0, half_ulp])) == math.inf
    assert check_fdot(np.array([MAX, half_ulp, 1e-300]), np.array([1.0, half_ulp, -1e-300])) == MAX
    assert check_fdot(np.array([MAX, MAX, -MAX]), np.array([4.0, -3.0, 0.5])) == MAX / 2
    # Long: many overflowing products cancelling, on both paths.
    rng = np.random.default_rng(3)
    big = np.ldexp(rng.uniform(1, 2, 500), rng.integers(600, 1023, 500))
    xs, ys = np.concatenate([big, big, [7.0]]), np.concatenate([big, -big, [0.25]])
    order = rng.permutation(xs.size)
    assert check_fdot(xs[order], ys[order]) == 1.75


def test_fdot_products_that_underflow_float64() -> None:
    # 1e-200 · 1e-200 underflows to 0 in float64 but the exact total need not.
    t = 2.0**-540  # t·t = 2^-1080 = TINY / 64
    for count, want in [(64, TINY), (32, 0.0), (33, TINY), (96, 2 * TINY), (160, 2 * TINY), (161, 3 * TINY)]:
        got = check_fdot(np.full(count, t), np.full(count, t))
        assert got == want, count
        x, y = pad_cancelling(np.full(count, t), np.full(count, t), 300, count)
        assert check_fdot(x, y) == want
    check_fdot(np.full(300, 1e-200), np.full(300, 1e-200))
    assert check_fdot(np.full(3000, 1e-160), np.full(3000, 1e-160)) > 0
    # subnormal · normal and subnormal · subnormal
    assert check_fdot(np.full(4, TINY), np.full(4, 0.75)) == 3 * TINY
    assert check_fdot(np.array([TINY, 1e-310, 2.5e-320]), np.array([0.75, 3.0, -1.25])) != 0
    assert check_fdot(np.array([TINY]), np.array([TINY])) == 0.0
    assert check_fdot(np.array([-TINY]), np.array([TINY])) == 0.0
    rng = np.random.default_rng(8)
    sub = rng.integers(1, 2**52, 1000).view(np.float64) * rng.choice([-1.0, 1.0], 1000)
    norm = spread_floats(rng, 1000, 1000)
    check_fdot(sub, norm)
    check_fdot(sub, sub[::-1])
    check_fdot(sub * 2.0**1000, sub)


def tie_data(target: Fraction, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random products whose exact sum is `target` exactly (a correction as exact float products)."""
    x = spread_floats(rng, n, 30)
    y = spread_floats(rng, n, 30)
    rest = target - exact_dot(x.tolist(), y.tolist())  # type: ignore[operator]
    cx: list[float] = []
    while rest != 0:
        c = round_half_even(rest)
        cx.append(c)
        rest -= Fraction(c)
    # c = (c / 2^k) · 2^k where both factors stay normal.
    cy = [2.0 ** rng.integers(-20, 20) for _ in cx]
    cx = [c / s for c, s in zip(cx, cy)]
    xs, ys = np.concatenate([x, cx]), np.concatenate([y, cy])
    order = rng.permutation(xs.size)
    return xs[order], ys[order]


@pytest.mark.parametrize("n", [3, 300, 3000])
def test_fdot_exact_ties_of_the_final_rounding(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(12 if n < 1000 else 3):
        v = abs(float(spread_floats(rng, 1, 100)[0]))
        up = math.nextafter(v, math.inf)
        mid = (Fraction(v) + Fraction(up)) / 2
        even = v if f64_bits(v) % 2 == 0 else up
        for sign in (1, -1):
            x, y = tie_data(sign * mid, rng, n)
            assert check_fdot(x, y) == sign * even
            # A product of 2^-2148 (the smallest there is) breaks the tie.
            xt, yt = np.append(x, TINY), np.append(y, sign * TINY)
            assert check_fdot(xt, yt) == sign * up
            xt, yt = np.append(x, TINY), np.append(y, -sign * TINY)
            assert check_fdot(xt, yt) == sign * v
    # Ties with the simplest data, short and padded past the certified minimum.
    h = 2.0**-53
    for x, y, want in [
        ([1.0, h], [1.0, 1.0], 1.0),
        ([1.0, h, TINY], [1.0, 1.0, TINY], 1.0 + 2 * h),
        ([-1.0, -h, TINY], [1.0, 1.0, TINY], -1.0),
        ([1.0, 3 * h], [1.0, 1.0], 1.0 + 4 * h),
        ([2.0**-540] * 32, [2.0**-540] * 32, 0.0),
    ]:
        assert check_fdot(np.array(x), np.array(y)) == want
        assert check_fdot(*pad_cancelling(np.array(x), np.array(y), 400, 1)) == want


# ---------------------------------------------------------------------------------------------
# Integers
# ---------------------------------------------------------------------------------------------

INT_DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "?"]


def extremes(dt: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if dt == "?":
        return rng.random(n) < 0.5
    info = np.iinfo(dt)
    near = rng.integers(0, 1000, n, dtype=np.uint64)
    hi = (np.full(n, info.max, dtype=dt) - near.astype(dt)).astype(dt)
    lo = (np.full(n, info.min, dtype=dt) + near.astype(dt)).astype(dt)
    return np.where(rng.random(n) < 0.5, hi, lo).astype(dt)


@pytest.mark.parametrize("dx", INT_DTYPES)
@pytest.mark.parametrize("dy", ["i8", "u8", "i1", "?"])
def test_integer_dot_exact_and_fdot_rounded_once(dx: str, dy: str) -> None:
    rng = np.random.default_rng(abs(hash((dx, dy))) % 2**32)
    for n in [1, 5, 300, 5000]:
        x, y = extremes(dx, n, rng), extremes(dy, n, rng)
        want = sum(a * b for a, b in zip(values(x), values(y)))
        got = run(bufsum.dot, x, y)
        assert type(got) is int and got == want
        assert same(run(bufsum.dot, x.astype(np.dtype(x.dtype).newbyteorder(">")), y[::-1].copy()[::-1]), want)
        f = run(bufsum.fdot, x, y)
        assert type(f) is float and same(f, round_half_even(Fraction(want)))


def test_int64_and_uint64_near_the_limits() -> None:
    imax, imin, umax = 2**63 - 1, -(2**63), 2**64 - 1
    cases = [
        ([imax] * 3, [imax] * 3),
        ([imin] * 3, [imin] * 3),
        ([imin, imax, imin], [imax, imin, imin]),
    ]
    for xs, ys in cases:
        x, y = np.array(xs, np.int64), np.array(ys, np.int64)
        want = sum(a * b for a, b in zip(xs, ys))
        assert run(bufsum.dot, x, y) == want
        assert same(run(bufsum.fdot, x, y), round_half_even(Fraction(want)))
    u = np.array([umax] * 3, np.uint64)
    assert run(bufsum.dot, u, u) == 3 * umax * umax
    assert same(run(bufsum.fdot, u, u), round_half_even(Fraction(3 * umax * umax)))
    # A sum whose exact value cancels to something tiny next to the products.
    x = np.array([umax, umax, 1], np.uint64)
    y = np.array([imax, imin, 1], np.int64)
    assert run(bufsum.dot, x, y) == umax * imax + umax * imin + 1 == -umax + 1
    assert run(bufsum.fdot, x, y) == float(-umax + 1)
    # Ties of the final rounding made of integers: 2^64 + 2^11 is halfway between floats.
    x = np.array([2**32, 1, 1], np.uint64)
    y = np.array([2**32, 2**11, 1], np.int64)
    assert run(bufsum.fdot, x, y) == float(2**64 + 2**12)  # 2^64 + 2^11 + 1 rounds up
    assert run(bufsum.fdot, x[:2], y[:2]) == float(2**64)  # exact tie: even
    rng = np.random.default_rng(1)
    n = 4000
    a = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64, endpoint=True)
    b = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    want = sum(p * q for p, q in zip(a.tolist(), b.tolist()))
    assert run(bufsum.dot, a, b) == want
    assert same(run(bufsum.fdot, a, b), round_half_even(Fraction(want)))
    assert same(run(bufsum.fdot, a[::-3], b[::-3]), round_half_even(Fraction(sum(p * q for p, q in zip(a[::-3].tolist(), b[::-3].tolist())))))


def test_int64_beyond_2_53_times_floats_is_exact() -> None:
    # Rounding the int64 to float64 first would give 0.0 here.
    x = np.array([2**53 + 1, -(2**53)], np.int64)
    assert run(bufsum.fdot, x, np.array([1.0, 1.0])) == 1.0
    assert run(bufsum.fdot, x, np.array([3.0, 3.0])) == 3.0
    assert run(bufsum.fdot, np.array([2**63 - 1, -(2**63) + 1], np.int64), np.array([0.5, 0.5])) == 0.0
    assert run(bufsum.fdot, np.array([2**63 - 1], np.int64), np.array([1.0])) == 2.0**63
    assert run(bufsum.fdot, np.array([2**64 - 1, 2**63], np.uint64), np.array([1.0, -2.0])) == -1.0
    # 64-bit integers times floats near the ends of the range: overflowing and underflowing
    # products of integers cancel or survive exactly.
    imax, imin = 2**63 - 1, -(2**63)
    assert check_fdot(np.array([imax, imax, 3], np.int64), np.array([1e300, -1e300, 0.5])) == 1.5
    assert check_fdot(np.array([imax, imin, 3], np.int64), np.array([MAX, MAX, 0.5])) == -MAX
    check_fdot(np.array([2**64 - 1, 1], np.uint64), np.array([MAX / 2**64, -MAX]))
    check_fdot(np.array([imax, 5], np.int64), np.array([TINY, TINY]))
    assert check_fdot(np.array([imax] * 400, np.int64), np.array([1e300, -1e300] * 200)) == 0.0
    check_fdot(np.array([imin] * 400, np.int64), np.array([TINY] * 400))
    rng = np.random.default_rng(2)
    for n in [3, 300, 5000]:
        a = rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64)
        f = spread_floats(rng, n, 200)
        check_fdot(a, f)
        check_fdot(f, a.astype(">i8"))
        check_fdot(a.astype(np.uint64), spread_floats(rng, n, 100).astype(np.float32))
        # Cancelling integer·float products leave a small exact residue.
        aa, ff = np.concatenate([a, a, [2**60 + 1]]), np.concatenate([f, -f, [2.0**-60]])
        order = rng.permutation(aa.size)
        assert check_fdot(aa[order], ff[order]) == 1.0  # 1 + 2^-60 rounded


def test_bool_and_bytes_give_exact_ints() -> None:
    assert run(bufsum.dot, np.array([True, True, False]), np.array([True, True, True])) == 2
    assert type(bufsum.dot(np.array([True]), np.array([True]))) is int
    assert run(bufsum.dot, b"\xff\xff", bytearray(b"\xff\x01")) == 255 * 255 + 255
    assert run(bufsum.dot, (ctypes.c_bool * 2)(True, True), np.array([-5, 7], np.int8)) == 2
    assert type(bufsum.fdot(b"\x01", b"\x02")) is float and bufsum.fdot(b"\x01", b"\x02") == 2.0


# ---------------------------------------------------------------------------------------------
# Special values and empty inputs
# ---------------------------------------------------------------------------------------------

INF, NAN = math.inf, math.nan
SPECIALS = [
    ([INF, 1.0], [0.0, 1.0], NAN),  # inf·0
    ([0.0], [-INF], NAN),
    ([INF, INF], [1.0, -1.0], NAN),  # infinite products of opposite signs
    ([INF, -INF], [1.0, -1.0], INF),
    ([INF, 1e300], [2.0, -1e300], INF),  # an overflowing finite product is not infinite
    ([-INF, 1e308], [2.0, 1e308], -INF),
    ([NAN], [0.0], NAN),
    ([1.0, NAN], [INF, 1.0], NAN),
    ([2.0, 3.0], [NAN, 0.0], NAN),
    ([INF], [INF], INF),
    ([-INF], [INF], -INF),
    ([1e308, 1e308], [10.0, -10.0], 0.0),
]


@pytest.mark.parametrize("x, y, want", SPECIALS)
def test_fdot_special_values(x: list[float], y: list[float], want: float) -> None:
    xa, ya = np.array(x), np.array(y)
    assert same(oracle_fdot(xa, ya), want)  # the oracle reads the SPEC the same way
    check_fdot(xa, ya)
    check_fdot(ya, xa)
    # The same, long and scattered among ordinary values, on both paths.
    xl, yl = pad_cancelling(xa, ya, 500, 4)
    check_fdot(xl, yl)
    # dot: NaN where fdot gives NaN; the same infinity where no finite product overflows.
    d = run(bufsum.dot, xl, yl)
    no_overflow = all(math.isfinite(a * b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b))
    if math.isnan(want) or (math.isinf(want) and no_overflow):
        assert same(d, want)
    # as float32 and float16 (where the values fit)
    if all(abs(v) < 1e38 or not math.isfinite(v) for v in x + y):
        check_fdot(xa.astype(np.float32), ya.astype(">f4"))
    if all(abs(v) < 6e4 or not math.isfinite(v) for v in x + y):
        check_fdot(xa.astype(np.float16), ya.astype(">f2"))
        check_fdot(xa.astype(">f2"), ya)


def test_complex_special_values_per_part() -> None:
    # (inf+0j)·(1+0j): real part inf·1 - 0·0 = inf, imaginary part inf·0 + 0·1 = NaN.
    got = run(bufsum.fdot, np.array([complex(INF, 0)]), np.array([1 + 0j]))
    assert got.real == INF and math.isnan(got.imag)
    got = run(bufsum.fdot, np.array([complex(NAN, 0)]), np.array([1 + 0j]))
    assert math.isnan(got.real) and math.isnan(got.imag)
    got = run(bufsum.fdot, np.array([complex(1, NAN)]), np.array([2.0]))
    assert got.real == 2.0 and math.isnan(got.imag)


@pytest.mark.parametrize("dt", ["i8", "u8", ">i8", "i4", "u2"])
def test_integers_times_infinities(dt: str) -> None:
    # A nonzero integer times inf is an infinite product, never inf·0 (whatever the integer's
    # internal representation); zero times inf is NaN.
    for ints, floats, want in [
        ([1], [INF], INF),
        ([3, 1], [-INF, 2.0], -INF),
        ([7, 0], [INF, INF], NAN),
        ([5], [NAN], NAN),
        ([2, 2], [INF, -INF], NAN),
    ]:
        x, y = np.array(ints, dt), np.array(floats)
        assert same(oracle_fdot(x, y), want)
        check_fdot(x, y)
        check_fdot(y[::-1], x[::-1])
        check_fdot(*(np.concatenate([a, np.ones(300, a.dtype)]) for a in (x, y)))
        acc = bufsum.Accumulator()
        acc.add_products(x, y)
        assert same(acc.value, want)
        if not math.isnan(want):
            assert same(run(bufsum.dot, x, y), want)
    big = np.array([2**40, -(2**62), 2**63 - 1], np.int64)
    if dt == "i8":
        check_fdot(big, np.array([INF, -INF, 1.0]))
        check_fdot(big, np.array([INF + 0j, 1j, 1.0]))


@pytest.mark.parametrize(
    "dx, dy, want",
    [("f8", "f8", 0.0), ("f4", "i8", 0.0), ("i8", "i8", 0), ("?", "u1", 0), ("c16", "f8", 0j), ("i4", "c8", 0j)],
)
def test_empty_inputs(dx: str, dy: str, want: Any) -> None:
    for shape in [(0,), (3, 0), (0, 5, 2)]:
        x, y = np.zeros(shape, dx), np.zeros(shape, dy)
        assert same(run(bufsum.dot, x, y), want)
        f = run(bufsum.fdot, x, y)
        assert same(f, complex(want) if isinstance(want, complex) else float(want))
        assert f64_bits(f.real) == 0  # +0.0, not -0.0
    assert same(bufsum.dot(array.array("d"), array.array("i")), 0.0)
    assert same(bufsum.dot(b"", bytearray()), 0)


def test_zero_d_inputs_are_one_element() -> None:
    assert same(run(bufsum.fdot, np.array(3.0), np.array(0.1)), 0.30000000000000004)
    assert same(run(bufsum.dot, np.array(7, np.int64), np.array(-3, np.int8)), -21)
    assert same(run(bufsum.dot, np.array(2 + 1j), np.array(1j)), -1 + 2j)


# ---------------------------------------------------------------------------------------------
# dot: reproducible bits, accuracy
# ---------------------------------------------------------------------------------------------


def layouts(a: np.ndarray) -> dict[str, Any]:
    """The logical values of 1-d native `a` through many exporters, layouts and byte orders
    (1-d, and for a length divisible by 6 also 2-d and 3-d in C and Fortran order)."""
    a = np.ascontiguousarray(a)
    n = a.size
    out: dict[str, Any] = {
        "numpy": a,
        "reversed-view": np.ascontiguousarray(a[::-1])[::-1],
        "strided": np.repeat(a, 3)[::3],
        "strided-negative": np.repeat(a[::-1], 2)[::-2],
        "unaligned": unaligned(a),
        "big-endian": a.astype(a.dtype.newbyteorder(">")),
        "little-endian": a.astype(a.dtype.newbyteorder("<")),
        "memoryview": memoryview(a),
    }
    char = a.dtype.char
    if char in "bBhHiIlLqQfd":
        out["array.array"] = array.array(char, a.tobytes())
        out["memoryview-cast"] = memoryview(a.tobytes()).cast(char)
        out["memoryview-cast-bytearray"] = memoryview(bytearray(a.tobytes())).cast(char)
    ct = {"f8": ctypes.c_double, "f4": ctypes.c_float, "i8": ctypes.c_int64, "i4": ctypes.c_int32, "u1": ctypes.c_uint8}.get(a.dtype.str[1:])
    if ct is not None and n:
        out["ctypes"] = (ct * n).from_buffer_copy(a.tobytes())
        if ct is not ctypes.c_uint8:
            out["ctypes-big-endian"] = (ct.__ctype_be__ * n)(*a.tolist())
    if char == "B":
        out["bytes"] = a.tobytes()
        out["bytearray"] = bytearray(a.tobytes())
    if n % 6 == 0 and n:
        out["c-2d"] = a.reshape(n // 6, 6)
        out["fortran-2d"] = np.asfortranarray(a.reshape(n // 6, 6))
        out["fortran-2d-unaligned"] = np.asfortranarray(unaligned(a).reshape(n // 6, 6))
        out["c-2d-big-endian-strided"] = np.repeat(a.astype(a.dtype.newbyteorder(">")), 2)[::2].reshape(n // 6, 6)
        out["c-3d"] = a.reshape(2, 3, n // 6)
        out["fortran-3d-big-endian"] = np.asfortranarray(a.reshape(2, 3, n // 6)).astype(a.dtype.newbyteorder(">"))
    return out


@pytest.mark.parametrize("n", [1, 5, 2048, 6 * 1001])
@pytest.mark.parametrize("dts", [("f8", "f8"), ("f4", "f8"), ("i8", "f8"), ("u1", "f4"), ("u1", "i4"), ("c16", "f8"), ("f8", "c16")])
def test_dot_bits_equal_across_layouts_and_exporters(n: int, dts: tuple[str, str]) -> None:
    rng = np.random.default_rng(n)

    def data(dt: str) -> np.ndarray:
        if dt.startswith("u1"):
            return rng.integers(0, 256, n).astype(dt)
        if dt.startswith("i"):
            return rng.integers(-(10**6), 10**6, n).astype(dt)
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-5, 5, n)
        if dt.startswith("c"):
            v = v + 1j * rng.standard_normal(n)
        return v.astype(dt)

    x, y = data(dts[0]), data(dts[1])
    want = bufsum.dot(x, y)
    if isinstance(want, float):
        check_dot_accuracy(x, y, want)
    elif isinstance(want, int):
        assert want == sum(a * b for a, b in zip(values(x), values(y)))
    lx, ly = layouts(x), layouts(y)
    pairs = 0
    for kx, ox in lx.items():
        for ky, oy in ly.items():
            if memoryview(ox).shape == memoryview(oy).shape:
                assert same(bufsum.dot(ox, oy), want), (kx, ky)
                pairs += 1
    assert pairs >= len(lx)
    for threads in (1, 2, 3, 4):
        assert same(bufsum.dot(x, y, threads=threads), want)
        assert same(bufsum.dot(lx["strided"], ly["big-endian"], threads=threads), want)


def test_dot_bits_do_not_depend_on_threads_for_long_inputs() -> None:
    rng = np.random.default_rng(99)
    n = 240_000
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n)
    y = rng.standard_normal(n)
    want = bufsum.dot(x, y)
    fwant = run(bufsum.fdot, x, y)  # correct rounding of long inputs: test_fdot_long_inputs
    for threads in (None, 1, 2, 3, 4):
        assert same(bufsum.dot(x, y, threads=threads), want)
        assert same(bufsum.dot(x.astype(">f8"), unaligned(y), threads=threads), want)
        assert same(bufsum.dot(np.asfortranarray(x.reshape(240, 1000)), y.reshape(240, 1000), threads=threads), want)
        assert same(run(bufsum.fdot, x[::-1].copy()[::-1], y, threads=threads), fwant)


def test_dot_bits_depend_only_on_the_values() -> None:
    # The same values in formats that hold them exactly: the same bits.
    rng = np.random.default_rng(5)
    n = 5000
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)
    small = rng.integers(-100, 100, n)
    want = bufsum.dot(x, small.astype(np.float64))
    for code in "bhilqnfde":
        y = memoryview(small.astype(np.dtype(code)).tobytes()).cast(code) if code not in "e" else small.astype(np.float16)
        assert same(bufsum.dot(x, y), want), code
        assert same(bufsum.dot(y, x), want), code  # x·y = y·x for every product
    pos = np.abs(small)
    want_u = bufsum.dot(x, pos.astype(np.float64))
    for code in "BHILQN":
        assert same(bufsum.dot(x, memoryview(pos.astype(np.dtype(code)).tobytes()).cast(code)), want_u), code
    x32 = x.astype(np.float32)
    assert same(bufsum.dot(x32, small.astype(np.int16)), bufsum.dot(x32.astype(np.float64), small.astype(np.float64)))
    x16 = rng.standard_normal(n).astype(np.float16)
    assert same(bufsum.dot(x16, x32), bufsum.dot(x16.astype(np.float64), x32.astype(np.float64)))
    # A 2-d input and its C-order ravel hold the same sequence of values.
    x2, y2 = x.reshape(50, 100), small.reshape(50, 100).astype(np.float32)
    assert same(bufsum.dot(x2, y2), bufsum.dot(x, small.astype(np.float64)))
    assert same(bufsum.dot(np.asfortranarray(x2), np.asfortranarray(y2)), bufsum.dot(x, small.astype(np.float64)))
    # Complex: the same values as complex64 and complex128.
    c = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex64)
    assert same(bufsum.dot(c, x), bufsum.dot(c.astype(np.complex128), x))
    assert same(bufsum.dot(c, c.astype(">c8")), bufsum.dot(c.astype(np.complex128), c.astype(np.complex128)))


@pytest.mark.parametrize("n", [10, 1000, 10_000])
def test_dot_accuracy_bound(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-10, 10, n)
    y = rng.standard_normal(n) * 10.0 ** rng.integers(-10, 10, n)
    # Strong cancellation: half the products are the negation of the other half, plus noise.
    xx, yy = np.concatenate([x, x]), np.concatenate([y, -y * (1 + 1e-9)])
    for a, b in [(x, y), (xx, yy), (x.astype(np.float32), y), (x, (y * 1e3).astype(np.int64))]:
        check_dot_accuracy(a, b, bufsum.dot(a, b))
    c = x + 1j * y
    got = bufsum.dot(c, c[::-1])
    ex = exact_dot(values(c), values(c[::-1]))
    assert isinstance(ex, tuple)
    bound = Fraction(abs_sum(c, c[::-1])) / 10**12
    assert abs(Fraction(got.real) - ex[0]) <= bound and abs(Fraction(got.imag) - ex[1]) <= bound


# ---------------------------------------------------------------------------------------------
# Mixed formats: every pair
# ---------------------------------------------------------------------------------------------

FORMATS = ["b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "n", "N", "?", "e", "f", "d", "Zf", "Zd"]
NUMPY_OF = {"Zf": np.complex64, "Zd": np.complex128, "e": np.float16, "?": np.bool_}


def sample(code: str, n: int, rng: np.random.Generator) -> tuple[Any, np.ndarray]:
    """`n` values of format `code` (extremes included) as a buffer exporting exactly `code`."""
    dt = np.dtype(NUMPY_OF.get(code, code))
    if dt.kind in "iu":
        a = extremes(dt.str[1:], n, rng)
        a[: n // 2] = rng.integers(max(np.iinfo(dt).min, -1000), min(np.iinfo(dt).max, 1000), n // 2)
    elif dt.kind == "b":
        a = rng.random(n) < 0.5
    elif dt.kind == "f":
        lim = {2: 14, 4: 60, 8: 450}[dt.itemsize]
        a = spread_floats(rng, n, lim).astype(dt)
    else:
        lim = {8: 60, 16: 450}[dt.itemsize]
        a = (spread_floats(rng, n, lim) + 1j * spread_floats(rng, n, lim)).astype(dt)
    obj = a if code in ("Zf", "Zd", "e", "?") else memoryview(a.tobytes()).cast(code)
    assert memoryview(obj).format == code
    return obj, a


@pytest.mark.parametrize("cx", FORMATS)
def test_every_pair_of_formats(cx: str) -> None:
    rng = np.random.default_rng(FORMATS.index(cx))
    for cy in FORMATS:
        for n in [3, 300]:
            (x, xa), (y, ya) = sample(cx, n, rng), sample(cy, n, rng)
            xv, yv = values(xa), values(ya)
            exact = exact_dot(xv, yv)
            d = run(bufsum.dot, x, y)
            f = run(bufsum.fdot, x, y)
            if cx in "bBhHiIlLqQnN?" and cy in "bBhHiIlLqQnN?":
                assert type(d) is int and Fraction(d) == exact, (cx, cy)
                assert same(f, round_half_even(exact))  # type: ignore[arg-type]
            elif isinstance(exact, tuple):
                assert same(f, complex(_round(exact[0]), _round(exact[1]))), (cx, cy)
                assert type(d) is complex
                bound = Fraction(abs_sum(xa, ya)) / 10**12
                assert abs(Fraction(d.real) - exact[0]) <= bound and abs(Fraction(d.imag) - exact[1]) <= bound
            else:
                assert same(f, _round(exact)), (cx, cy, f, _round(exact))
                assert type(d) is float
                check_dot_accuracy(xa, ya, d)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("code", ["h", "I", "q", "Q", "e", "f", "d", "Zf", "Zd"])
def test_byte_orders_against_the_oracle(order: str, code: str) -> None:
    rng = np.random.default_rng(7)
    others = [
        sample("d", 300, rng)[1],
        sample("d", 300, rng)[1].astype(">f8"),
        rng.integers(-(2**62), 2**62, 300).astype("<i8"),
        rng.integers(0, 2**63, 300).astype(">u8"),
        sample("Zd", 300, rng)[1].astype(">c16"),
        rng.random(300) < 0.5,
    ]
    for y in others:
        x = sample(code, 300, rng)[1]
        x = x.astype(x.dtype.newbyteorder(order))
        check_fdot(x, y)
        check_fdot(y[::-1], x[::-1])


# ---------------------------------------------------------------------------------------------
# Complex
# ---------------------------------------------------------------------------------------------


def test_complex_without_conjugation() -> None:
    x = np.array([1 + 2j, 0.5])
    y = np.array([3 - 1j, 2 + 4j])
    assert check_fdot(x, y) == 6 + 7j  # conjugating x would give (1-2j)(3-1j) + ... = 2-3j
    assert run(bufsum.dot, x, y) == 6 + 7j
    assert check_fdot(x, np.array([2.0, -1.0])) == 1.5 + 4j
    assert check_fdot(np.array([2, -1], np.int64), x.astype(np.complex64)) == 1.5 + 4j
    assert type(bufsum.dot(np.array([1, 2]), np.array([1j, 1j]))) is complex
    rng = np.random.default_rng(4)
    for n in [1, 50, 300, 5000]:
        c1 = spread_floats(rng, n, 300) + 1j * spread_floats(rng, n, 300)
        c2 = spread_floats(rng, n, 300) + 1j * spread_floats(rng, n, 300)
        check_fdot(c1, c2)
        check_fdot((c1 * 2.0**-250).astype(np.complex64), c2[::-1])
        check_fdot(c1, spread_floats(rng, n, 300))
        check_fdot(rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64), c2.astype(">c16"))
    # Each part correctly rounded, even where the two parts cancel differently.
    a = np.array([1e300 + 1e-300j, 1e300 + 1e-300j, 1.0 + 0j])
    b = np.array([1e300 + 0j, -1e300 + 0j, 0.5 + 0.25j])
    assert check_fdot(a, b) == 0.5 + 0.25j


# ---------------------------------------------------------------------------------------------
# Argument errors
# ---------------------------------------------------------------------------------------------


def _names_shape(msg: str, shape: tuple[int, ...]) -> bool:
    as_list = "[" + ", ".join(map(str, shape)) + "]"
    return as_list in msg or str(shape) in msg


@pytest.mark.parametrize("fn", [bufsum.dot, bufsum.fdot])
@pytest.mark.parametrize("sx, sy", [((3,), (4,)), ((6,), (2, 3)), ((2, 7), (7, 2)), ((1, 3), (3,)), ((), (1,)), ((0,), (0, 0))])
def test_shapes_must_match(fn: Any, sx: tuple[int, ...], sy: tuple[int, ...]) -> None:
    with pytest.raises(ValueError) as e:
        fn(np.zeros(sx), np.zeros(sy))
    assert _names_shape(str(e.value), sx) and _names_shape(str(e.value), sy), str(e.value)
    with pytest.raises(ValueError):
        fn(np.zeros(sx), np.zeros(sy), axis=0 if sx and sy else None)
    acc = bufsum.Accumulator()
    with pytest.raises(ValueError):
        acc.add_products(np.zeros(sx), np.zeros(sy))


@pytest.mark.parametrize("fn", [bufsum.dot, bufsum.fdot])
def test_non_buffers_raise_type_error_naming_the_type(fn: Any) -> None:
    for bad in [[1.0, 2.0], 3, "ab", None, 2.5, {1: 2}]:
        with pytest.raises(TypeError, match=type(bad).__name__):
            fn(bad, np.zeros(2))
        with pytest.raises(TypeError, match=type(bad).__name__):
            fn(np.zeros(2), bad)
    with pytest.raises(TypeError, match="'y'"):
        fn(np.zeros(2), [1.0, 2.0])


@pytest.mark.parametrize("fn", [bufsum.dot, bufsum.fdot])
def test_unsupported_formats_raise_type_error_naming_the_format(fn: Any) -> None:
    bads = [
        memoryview(b"ab").cast("c"),
        np.array(["a", "b"]),
        np.array([None, None]),
        np.zeros(2, dtype=[("a", "f8"), ("b", "f8")]).reshape(2),
        memoryview(bytes(16)).cast("P"),
    ]
    for bad in bads:
        fmt = memoryview(bad).format
        n = len(bad)
        for args in [(bad, np.zeros(n)), (np.zeros(n), bad)]:
            with pytest.raises(TypeError) as e:
                fn(*args)
            assert fmt in str(e.value), (fmt, str(e.value))


@pytest.mark.parametrize("fn", [bufsum.dot, bufsum.fdot])
def test_nan_policy_and_threads_arguments(fn: Any) -> None:
    x = np.array([1.0, 2.0])
    assert fn(x, x, nan_policy="propagate") == 5.0
    for bad in ["bogus", "", "PROPAGATE", 1]:
        with pytest.raises(ValueError):
            fn(x, x, nan_policy=bad)
    for bad in [0, -1]:
        with pytest.raises(ValueError):
            fn(x, x, threads=bad)
    with pytest.raises(TypeError):
        fn(x, x, threads="2")
    with pytest.raises(TypeError):
        fn(x)  # y is required
    with pytest.raises(TypeError):
        fn(x=x, y=x)  # positional only


# ---------------------------------------------------------------------------------------------
# axis / out / keepdims
# ---------------------------------------------------------------------------------------------


def slice_pairs(x: np.ndarray, y: np.ndarray, axes: tuple[int, ...]) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[int, ...]]:
    """The 1-d slice pairs (reduced axes in C order) of every kept index, and the kept shape."""
    nd = x.ndim
    axes = tuple(sorted(a % nd for a in axes))
    kept = [i for i in range(nd) if i not in axes]
    xt = np.transpose(x, kept + list(axes))
    yt = np.transpose(y, kept + list(axes))
    kept_shape = tuple(x.shape[i] for i in kept)
    red = int(np.prod([x.shape[i] for i in axes]))
    xs = np.ascontiguousarray(xt).reshape(*kept_shape, red)
    ys = np.ascontiguousarray(yt).reshape(*kept_shape, red)
    pairs = [(xs[idx], ys[idx]) for idx in np.ndindex(*kept_shape)]
    return pairs, kept_shape


def check_axis(x: np.ndarray, y: np.ndarray, axis: Any, keepdims: bool = False, threads: int | None = None) -> None:
    axes = tuple(range(x.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    pairs, kept = slice_pairs(x, y, axes)
    norm = {a % x.ndim for a in axes}
    want_shape = tuple(1 if i in norm else n for i, n in enumerate(x.shape)) if keepdims else kept
    int_dot = x.dtype.kind in "iub" and y.dtype.kind in "iub"
    for fn in (bufsum.dot, bufsum.fdot):
        if axis is None and not keepdims:
            # The whole reduction: a number; with out, a 0-d out holds it.
            whole = run(fn, x, y, axis=None, threads=threads)
            assert same(whole, fn(np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel()))
            out0 = np.full((), 5, dtype=np.int64 if (fn is bufsum.dot and int_dot) else np.float64)
            assert fn(x, y, out=out0) is out0 and same(out0.tolist(), whole)
            continue
        got = run(fn, x, y, axis=axis, keepdims=keepdims, threads=threads)
        assert isinstance(got, memoryview)
        assert got.shape == want_shape
        assert got.format == ("q" if (fn is bufsum.dot and int_dot) else "d")
        flat = np.asarray(got).ravel().tolist()
        for (sx, sy), v in zip(pairs, flat):
            if fn is bufsum.fdot:
                assert same(v, oracle_fdot(sx, sy))
            elif int_dot:
                assert v == sum(a * b for a, b in zip(values(sx), values(sy)))
            else:
                assert same(v, bufsum.dot(np.ascontiguousarray(sx), np.ascontiguousarray(sy)))
        # With out: the same values, written into out, which is returned.
        out = np.full(want_shape, 12345, dtype=np.int64 if got.format == "q" else np.float64)
        res = fn(x, y, axis=axis, keepdims=keepdims, out=out, threads=threads)
        assert res is out
        assert all(same(a, b) for a, b in zip(out.ravel().tolist(), flat))


@pytest.mark.parametrize("dts", [("f8", "f8"), ("f4", ">f8"), ("i8", "u1"), ("i2", "f8"), ("?", "i4"), ("u8", "f2")])
def test_axis_entries_equal_the_function_of_each_slice(dts: tuple[str, str]) -> None:
    rng = np.random.default_rng(21)
    shape = (4, 5, 70)

    def data(dt: str) -> np.ndarray:
        k = np.dtype(dt).kind
        if k == "b":
            return rng.random(shape) < 0.5
        if k in "iu":
            info = np.iinfo(dt)
            return rng.integers(max(info.min, -(2**20)), min(info.max, 2**20), shape).astype(dt)
        return spread_floats(rng, int(np.prod(shape)), 14 if dt == "f2" else 30).reshape(shape).astype(dt)

    x, y = data(dts[0]), data(dts[1])
    yf = np.asfortranarray(y)
    for axis in [0, 1, 2, -1, (0, 2), (2, 0), (0, 1, 2), None]:
        check_axis(x, yf, axis)
        check_axis(x[:, ::-1], y[:, ::-1], axis, keepdims=True, threads=2)


def test_empty_axis_tuple_gives_the_products() -> None:
    # axis=() reduces nothing: each entry is the dot of one pair, the product itself.
    x = np.array([[1e300, 3.0, 0.1], [TINY, -2.5, 7.0]])
    y = np.array([[1e10, 0.1, 0.1], [0.5, 4.0, -1e-300]])
    got = run(bufsum.fdot, x, y, axis=())
    assert got.shape == (2, 3) and got.format == "d"
    assert np.asarray(got).ravel().tolist() == [a * b for a, b in zip(x.ravel().tolist(), y.ravel().tolist())]
    xi, yi = np.array([[2**31, -3]], np.int64), np.array([[2**30, 7]], np.int32)
    assert run(bufsum.dot, xi, yi, axis=()).tolist() == [[2**61, -21]]
    with pytest.raises(OverflowError):
        bufsum.dot(np.array([2**40], np.int64), np.array([2**30], np.int64), axis=())


def test_broadcast_zero_stride_inputs() -> None:
    rng = np.random.default_rng(6)
    y = spread_floats(rng, 3000, 300)
    x = np.broadcast_to(np.float64(0.1), y.shape)
    check_fdot(x, y)
    check_fdot(y, x)
    assert same(bufsum.dot(x, y), bufsum.dot(np.full(3000, 0.1), y))
    xi = np.broadcast_to(np.int64(2**62 + 1), (5000,))
    assert run(bufsum.dot, xi, xi) == 5000 * (2**62 + 1) ** 2
    check_fdot(xi, np.broadcast_to(np.float64(-1.5), (5000,)))
    m = np.broadcast_to(np.arange(4.0), (300, 4))
    check_axis(m, np.ones((300, 4)), 0)


def test_axis_long_slices_are_correctly_rounded_on_both_paths() -> None:
    rng = np.random.default_rng(2)
    x = spread_floats(rng, 3 * 5000, 600).reshape(3, 5000)
    y = spread_floats(rng, 3 * 5000, 600).reshape(3, 5000)
    check_axis(x, y, 1)
    check_axis(x.T, y.T, 0)
    check_axis(np.asfortranarray(x), y.astype(">f8"), -1, keepdims=True)


def test_integer_axis_dot_overflow_and_zero_length() -> None:
    x = np.full((2, 3), 2**62, np.int64)
    y = np.full((2, 3), 4, np.int8)
    with pytest.raises(OverflowError):
        bufsum.dot(x, y, axis=1)
    out = np.full(2, -7, np.int64)
    with pytest.raises(OverflowError):
        bufsum.dot(x, y, axis=1, out=out)
    assert out.tolist() == [-7, -7]
    # One entry fits, the other does not: nothing written.
    y2 = np.array([[1, 1, -2], [4, 4, 4]], np.int8)
    with pytest.raises(OverflowError):
        bufsum.dot(x, y2, axis=1, out=out)
    assert out.tolist() == [-7, -7]
    # Exactly at the int64 limits fits.
    xm = np.array([[2**62, 2**62 - 1], [-(2**62), -(2**62)]], np.int64)
    ym = np.array([[1, 1], [1, 1]], np.int64)
    assert bufsum.dot(xm, ym, axis=1).tolist() == [2**63 - 1, -(2**63)]
    # fdot of the same has no int64 limit.
    assert bufsum.fdot(x, y, axis=1).tolist() == [float(3 * 2**64)] * 2
    # Zero-length reduced axis: zeros.
    for dx, dy, fmt, zero in [("f8", "f8", "d", 0.0), ("i4", "i8", "q", 0), ("f4", "i2", "d", 0.0)]:
        e = np.zeros((3, 0, 2), dx), np.zeros((3, 0, 2), dy)
        r = bufsum.dot(*e, axis=1)
        assert r.format == fmt and r.shape == (3, 2) and np.asarray(r).ravel().tolist() == [zero] * 6
        r = bufsum.fdot(*e, axis=(1,), keepdims=True)
        assert r.format == "d" and r.shape == (3, 1, 2) and np.asarray(r).ravel().tolist() == [0.0] * 6
        r = bufsum.dot(*e, axis=0)
        assert r.shape == (0, 2)


def test_out_errors_leave_out_untouched() -> None:
    x = np.arange(12.0).reshape(3, 4)
    y = np.ones((3, 4))
    for bad, exc in [
        (np.full(4, 9.0), ValueError),  # wrong shape
        (np.full((3, 1), 9.0), ValueError),  # keepdims shape without keepdims
        (np.full(3, 9, np.int64), TypeError),  # wrong format for a float result
        (np.full(3, 9.0, np.float32), TypeError),
    ]:
        before = bad.copy()
        with pytest.raises(exc):
            bufsum.fdot(x, y, axis=1, out=bad)
        with pytest.raises(exc):
            bufsum.dot(x, y, axis=1, out=bad)
        assert np.array_equal(bad, before)
    xi = np.arange(12).reshape(3, 4)
    bad = np.full(3, 9.0)
    with pytest.raises(TypeError):
        bufsum.dot(xi, xi, axis=1, out=bad)  # integer dot needs int64 out
    assert bad.tolist() == [9.0] * 3
    ro = np.full(3, 9.0)
    ro.flags.writeable = False
    with pytest.raises((BufferError, TypeError)):
        bufsum.fdot(x, y, axis=1, out=ro)
    assert ro.tolist() == [9.0] * 3
    for axis in [2, -3, (0, 0), (1, -1)]:
        with pytest.raises(ValueError):
            bufsum.dot(x, y, axis=axis)
    ok = np.full(3, 9.0)
    assert bufsum.fdot(xi, xi, axis=1, out=ok) is ok and ok.tolist() == [14.0, 126.0, 366.0]
    strided_out = np.full(6, -1.0)[::2]
    bufsum.fdot(x, y, axis=1, out=strided_out)
    assert strided_out.tolist() == [6.0, 22.0, 38.0]


def test_axis_with_complex_is_not_a_silent_wrong_answer() -> None:
    # The SPEC gives 'd'/'q' results only; complex data must not come back as its real part.
    c = np.ones((2, 3), complex) * (1 + 1j)
    try:
        r = bufsum.fdot(c, c, axis=1)
    except TypeError:
        return
    assert np.asarray(r).tolist() == [6j, 6j]


# ---------------------------------------------------------------------------------------------
# Accumulator.add_products
# ---------------------------------------------------------------------------------------------


def test_add_products_streams_merges_and_pickles() -> None:
    rng = np.random.default_rng(12)
    n = 7000
    x = spread_floats(rng, n, 700)
    y = spread_floats(rng, n, 700)
    exact = exact_dot(x.tolist(), y.tolist())
    assert isinstance(exact, Fraction)
    cuts = sorted(rng.choice(np.arange(1, n), 6, replace=False).tolist())
    bounds = [0, *cuts, n]
    accs = []
    for a, b in zip(bounds, bounds[1:]):
        acc = bufsum.Accumulator()
        acc.add_products(x[a:b], y[a:b])
        accs.append(acc)
    total = bufsum.Accumulator()
    for acc in reversed(accs):
        total.merge(pickle.loads(pickle.dumps(acc)))
    assert same(total.value, round_half_even(exact))
    assert total.count == n
    one = bufsum.Accumulator()
    one.add_products(x, y)
    assert same(one.value, total.value) and one.count == n
    assert same(float(copy.deepcopy(one)), one.value)
    # Streaming through a pickle in the middle keeps everything exact.
    s = bufsum.Accumulator()
    s.add_products(x[:100], y[:100])
    s = pickle.loads(pickle.dumps(s))
    s.add_products(x[100:], y[100:])
    assert same(s.value, round_half_even(exact)) and s.count == n
    # Products and plain values mix: Σ x·y + Σ z.
    z = spread_floats(rng, 50, 100)
    s.add(z)
    s.add(1e-300)
    s.add(2**70)
    want = exact + sum((Fraction(v) for v in z.tolist()), Fraction(0)) + Fraction(1e-300) + 2**70
    assert same(s.value, round_half_even(want))
    assert s.count == n + 50 + 2


def test_add_products_exact_on_hard_inputs() -> None:
    acc = bufsum.Accumulator()
    acc.add_products(np.array([1e300, 1e300]), np.array([1e300, -1e300]))  # overflowing
    acc.add_products(np.array([2.0**-540] * 33), np.array([2.0**-540] * 33))  # underflowing
    assert acc.value == TINY and acc.count == 35
    acc.add_products(np.array([2**63 - 1, -(2**63)], np.int64), np.array([2**64 - 1, 3], np.uint64))
    want = Fraction(33, 1 << 1080) + (2**63 - 1) * (2**64 - 1) - 3 * 2**63
    assert acc.value == round_half_even(want) and acc.count == 37
    acc2 = bufsum.Accumulator()
    acc2.add_products(np.array([2**53 + 1], np.int64), np.array([1.0]))
    acc2.add(-(2.0**53))
    assert acc2.value == 1.0
    b = bufsum.Accumulator()
    b.add_products(np.arange(12, dtype=np.int8).reshape(3, 4), np.ones((3, 4), np.bool_))
    assert b.value == 66.0 and b.count == 12
    e = bufsum.Accumulator()
    e.add_products(np.zeros(0), np.zeros(0))
    assert e.value == 0.0 and e.count == 0
    for acc_ in (acc, acc2, b):
        assert same(pickle.loads(pickle.dumps(acc_)).value, acc_.value)


def test_add_products_errors_leave_the_accumulator_unchanged() -> None:
    acc = bufsum.Accumulator()
    acc.add_products(np.array([1.5]), np.array([2.0]))
    for args, exc in [
        ((np.array([1j]), np.array([1.0])), TypeError),
        ((np.array([1.0]), np.array([1j], np.complex64)), TypeError),
        ((np.zeros(2), np.zeros(3)), ValueError),
        (([1.0], np.zeros(1)), TypeError),
        ((np.zeros(1), np.array(["a"])), TypeError),
    ]:
        with pytest.raises(exc):
            acc.add_products(*args)
        assert acc.value == 3.0 and acc.count == 1
    with pytest.raises(TypeError):
        acc.add_products(np.zeros(1))  # type: ignore[call-arg]


def test_add_products_specials_follow_fdot() -> None:
    for x, y, want in SPECIALS:
        acc = bufsum.Accumulator()
        acc.add_products(np.array(x), np.array(y))
        assert same(acc.value, want), (x, y)


# ---------------------------------------------------------------------------------------------
# Hypothesis: formats × shapes × strides × byte orders × alignments, for both inputs
# ---------------------------------------------------------------------------------------------

H_DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "?", "f2", "f4", "f8", "c8", "c16"]


@st.composite
def laid_out(draw: Any, shape: tuple[int, ...]) -> Any:
    """An array of `shape` with a drawn format, byte order, layout and alignment."""
    dt = np.dtype(draw(st.sampled_from(H_DTYPES)))
    if dt.itemsize > 1 and dt.kind != "b":
        dt = dt.newbyteorder(draw(st.sampled_from(["<", ">", "="])))
    if dt.kind in "fc":
        base = hnp.arrays(dt, shape, elements=hnp.from_dtype(dt, allow_nan=False, allow_infinity=False, allow_subnormal=True))
    else:
        base = hnp.arrays(dt, shape)
    a = draw(base)
    how = draw(st.sampled_from(["c", "fortran", "reversed", "strided", "unaligned", "transposed"]))
    if how == "fortran" and a.ndim:
        a = np.asfortranarray(a)
    elif how == "reversed" and a.ndim:
        a = np.flip(np.flip(a).copy())
    elif how == "strided" and a.ndim:
        big = np.zeros(a.shape[:-1] + (a.shape[-1] * 3,), a.dtype)
        big[..., ::3] = a
        a = big[..., ::3]
    elif how == "unaligned":
        a = unaligned(a) if a.ndim else a
    elif how == "transposed" and a.ndim >= 2:
        a = np.ascontiguousarray(a.T).T
    kind = draw(st.sampled_from(["numpy", "memoryview"]))
    return memoryview(a) if kind == "memoryview" and a.dtype.kind != "c" else a


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_hypothesis_fdot_and_dot_against_the_oracle(data: Any) -> None:
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
    x = data.draw(laid_out(shape))
    y = data.draw(laid_out(shape))
    xa, ya = np.asarray(x), np.asarray(y)
    check_fdot(x, y)
    d = run(bufsum.dot, x, y)
    ints = xa.dtype.kind in "iub" and ya.dtype.kind in "iub"
    if ints:
        assert type(d) is int and d == sum(a * b for a, b in zip(values(xa), values(ya)))
    else:
        # Bits depend only on the values: the same as contiguous native float64/complex128 copies.
        kind = np.complex128 if "c" in (xa.dtype.kind, ya.dtype.kind) else np.float64
        nx = np.ascontiguousarray(xa.astype(xa.dtype.newbyteorder("=")))
        ny = np.ascontiguousarray(ya.astype(ya.dtype.newbyteorder("=")))
        exactly_f64 = lambda a: a.dtype.kind in "fcb" or a.dtype.itemsize < 8  # noqa: E731
        if exactly_f64(nx) and exactly_f64(ny):
            cx = nx.astype(kind if nx.dtype.kind == "c" else np.float64)
            cy = ny.astype(kind if ny.dtype.kind == "c" else np.float64)
            assert same(bufsum.dot(cx, cy), d)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_hypothesis_long_inputs_with_both_paths(data: Any) -> None:
    n = data.draw(st.integers(256, 3000))
    x = data.draw(laid_out((n,)))
    y = data.draw(laid_out((n,)))
    check_fdot(x, y)
    if np.asarray(x).dtype.kind != "c" and np.asarray(y).dtype.kind != "c":
        acc = bufsum.Accumulator()
        acc.add_products(x, y)
        assert same(acc.value, oracle_fdot(np.asarray(x), np.asarray(y))) and acc.count == n


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False)), max_size=40),
    st.integers(0, 300),
)
def test_hypothesis_extreme_floats(pairs: list[tuple[float, float]], pad: int) -> None:
    x = np.array([p[0] for p in pairs], np.float64)
    y = np.array([p[1] for p in pairs], np.float64)
    check_fdot(x, y)
    check_fdot(*pad_cancelling(x, y, pad, pad))


# ---------------------------------------------------------------------------------------------
# GIL and buffer exports
# ---------------------------------------------------------------------------------------------


def test_gil_released_for_large_inputs() -> None:
    x = np.broadcast_to(np.float64(1.5), (50_000_000,))
    y = np.broadcast_to(np.float64(0.1), (50_000_000,))
    assert gil_released_during(lambda: bufsum.dot(x, y, threads=1))
    assert gil_released_during(lambda: bufsum.fdot(x, y, threads=1))
    x2, y2 = x.reshape(50, 1_000_000), y.reshape(50, 1_000_000)
    assert gil_released_during(lambda: bufsum.fdot(x2, y2, axis=1, threads=1))
    acc = bufsum.Accumulator()
    xs, ys = x[:10_000_000], y[:10_000_000]
    assert gil_released_during(lambda: acc.add_products(xs, ys))


def _resizable(b: bytearray) -> bool:
    try:
        b.extend(b"\x00" * 8)
        del b[-8:]
        return True
    except BufferError:
        return False


def test_no_buffer_export_leaks() -> None:
    bx, by = bytearray(b"\x01\x02\x03"), bytearray(b"\x04\x05\x06")
    assert bufsum.dot(bx, by) == 32
    assert bufsum.fdot(bx, bx) == 14.0  # the same object as both inputs
    acc = bufsum.Accumulator()
    acc.add_products(bx, by)
    assert _resizable(bx) and _resizable(by)
    # Errors after x (or both) were exported.
    short = bytearray(b"\x01\x02")
    for call in [
        lambda: bufsum.dot(bx, short),
        lambda: bufsum.fdot(bx, np.array(["a", "b", "c"])),
        lambda: bufsum.fdot(bx, [1, 2, 3]),
        lambda: bufsum.dot(bx, by, nan_policy="bogus"),
        lambda: bufsum.dot(bx, by, threads=0),
        lambda: bufsum.dot(bx, by, axis=3),
        lambda: bufsum.dot(bx, by, axis=0, out=np.zeros(2)),
        lambda: acc.add_products(bx, short),
        lambda: acc.add_products(bx, np.array([1j, 1j, 1j])),
    ]:
        with pytest.raises((TypeError, ValueError)):
            call()
        assert _resizable(bx) and _resizable(by) and _resizable(short)
    # An OverflowError of an integer axis dot, with memoryview inputs over bytearrays.
    raw = bytearray(struct.pack("<4q", 2**62, 2**62, 2**62, 2**62))
    m = memoryview(raw).cast("q", (2, 2))
    out_raw = bytearray(16)
    out = memoryview(out_raw).cast("q")
    with pytest.raises(OverflowError):
        bufsum.dot(m, m, axis=1, out=out)
    m.release()  # fails with BufferError if bufsum still held an export of m
    out.release()
    assert _resizable(raw) and _resizable(out_raw) and out_raw == bytearray(16)
    # Successful axis reductions into an out over a bytearray.
    out_raw2 = bytearray(16)
    out2 = memoryview(out_raw2).cast("d")
    assert bufsum.fdot(np.ones((2, 3)), np.ones((2, 3)), axis=1, out=out2) is out2
    out2.release()
    assert _resizable(out_raw2) and struct.unpack("<2d", out_raw2) == (3.0, 3.0)
