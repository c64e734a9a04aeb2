"""mean, var and std against exact rational oracles (tests/stats_oracle.py), never against
bufsum itself: every correctly rounded result is compared by its bits, on the default path and
inside ``bufsum._force_exact()`` (the two must also agree bit for bit).

Covers the oracle helpers themselves, adversarial data (huge means with tiny spreads, squares
that overflow or underflow, exact ties of the final rounding, constants, infinities, n - ddof <=
0), ddof validation, integer/bool/float16/float32/complex inputs, independence of exporter,
layout and thread count, axis/out/keepdims, bufsum.dask (once it has the statistics),
hypothesis over formats x layouts x NaN patterns x ddof, and a no-panic fuzz of the new entry
points.
"""

from __future__ import annotations

import array
import ctypes
import functools
import math
import statistics
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import bufsum
from stats_oracle import (
    bits,
    exact_mean,
    exact_var,
    exact_var_by_integers,
    floor_log2,
    is_midpoint,
    oracle_mean,
    oracle_mean_complex,
    oracle_std,
    oracle_var,
    round_half_even,
    same_bits,
    sqrt_half_even,
)

MAX = sys.float_info.max
TINY = 5e-324  # 2^-1074
MIN_NORMAL = sys.float_info.min
STATS = ("mean", "var", "std")


def _show(x: Any) -> str:
    if isinstance(x, float):
        return f"{x!r} ({x.hex()})"
    return repr(x)


def assert_same(got: Any, want: Any, what: str = "") -> None:
    """Bitwise equality of floats (complex: per part); NaN equals NaN."""
    if isinstance(want, complex):
        assert isinstance(got, complex), f"{what}: got {got!r}, expected a complex"
        assert_same(got.real, want.real, what + " (real part)")
        assert_same(got.imag, want.imag, what + " (imaginary part)")
        return
    assert isinstance(got, float), f"{what}: got {type(got).__name__} {got!r}, expected a float"
    assert same_bits(got, want), f"{what}: got {_show(got)}, expected {_show(want)}"


def both_paths(call: Callable[[], Any], what: str = "") -> Any:
    """call() on the default path and inside bufsum._force_exact(); the two must agree bitwise."""
    a = call()
    with bufsum._force_exact():
        b = call()
    if isinstance(a, memoryview):
        assert isinstance(b, memoryview)
        la, lb = np.asarray(a).ravel().tolist(), np.asarray(b).ravel().tolist()
        assert len(la) == len(lb)
        for i, (x, y) in enumerate(zip(la, lb)):
            assert_same(x, y, f"{what} entry {i}: default path vs forced exact path")
        return a
    assert_same(a, b, f"{what}: default path vs forced exact path")
    return a


def run(name: str, data: Any, **kw: Any) -> Any:
    return both_paths(lambda: getattr(bufsum, name)(data, **kw), f"{name}({kw})")


def oracle(name: str, values: Sequence[Any], ddof: int = 0) -> float:
    """The oracle of `name` (cached: the statistics do not depend on the order of the values)."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        return _oracle_uncached(name, values, ddof)
    key = tuple(sorted(values))
    if name == "mean":
        return _oracle_cached("mean", key, 0)
    n = len(key)
    if n - ddof <= 0:
        return math.nan
    s2 = _cached_s2(key)  # Σ(x - m)², exact
    return round_half_even(s2 / (n - ddof)) if name == "var" else sqrt_half_even(s2 / (n - ddof))


def _oracle_uncached(name: str, values: Sequence[Any], ddof: int) -> float:
    if name == "mean":
        return oracle_mean(values)
    return oracle_var(values, ddof) if name == "var" else oracle_std(values, ddof)


@functools.lru_cache(maxsize=4096)
def _oracle_cached(name: str, values: tuple[Any, ...], ddof: int) -> float:
    return _oracle_uncached(name, values, ddof)


@functools.lru_cache(maxsize=4096)
def _cached_s2(values: tuple[Any, ...]) -> Fraction:
    return exact_var(values, 0) * len(values)


def check_all(data: Any, values: Sequence[Any], ddofs: Sequence[int] = (0, 1), what: str = "", **kw: Any) -> None:
    """mean, var(ddof) and std(ddof) of `data` equal the oracles of `values`, on both paths."""
    assert_same(run("mean", data, **kw), oracle_mean(values), f"{what} mean")
    for ddof in ddofs:
        assert_same(run("var", data, ddof=ddof, **kw), oracle_var(values, ddof), f"{what} var(ddof={ddof})")
        assert_same(run("std", data, ddof=ddof, **kw), oracle_std(values, ddof), f"{what} std(ddof={ddof})")


@contextmanager
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def values_of(a: np.ndarray) -> list[Any]:
    """The exact values of `a` in C order (Python floats/ints/bools, exact for every dtype)."""
    return np.asarray(a).ravel().tolist()


# =============================================================================================
# The oracle helpers, tested against independent references


ratios = st.builds(
    lambda n, d, sh: Fraction(n, d) * Fraction(2) ** sh,
    st.integers(-(2**120), 2**120), st.integers(1, 2**80), st.integers(-1200, 1100),
)


@settings(max_examples=400, deadline=None)
@given(ratios)
@example(Fraction(2**1024 - 2**970))  # the overflow threshold: a tie that rounds to 2^1024
@example(Fraction(2**1024 - 2**970 - 1))
@example(Fraction(1, 2**1075))
@example(Fraction(3, 2**1075))
@example(Fraction(-1, 2**1076))
def test_round_half_even_matches_cpython_true_division(q: Fraction) -> None:
    """CPython's int / int (hence float(Fraction)) is correctly rounded, ties to even; it raises
    OverflowError where the rounded value would be infinite."""
    try:
        want = q.numerator / q.denominator
    except OverflowError:
        want = math.inf if q > 0 else -math.inf
    assert_same(round_half_even(q), want, f"round_half_even({q})")


def test_round_half_even_known_values() -> None:
    one = Fraction(1)
    ulp1 = Fraction(1, 2**52)
    cases = [
        (one + ulp1 / 2, 1.0),  # tie, 1.0 has the even significand
        (one + 3 * ulp1 / 2, 1.0 + 2.0**-51),  # tie, rounds up to even
        (one + ulp1 / 2 + Fraction(1, 2**200), 1.0 + 2.0**-52),  # just past the tie
        (-(one + ulp1 / 2), -1.0),
        (Fraction(1, 2**1075), 0.0),  # half the smallest subnormal: tie to 0
        (Fraction(-1, 2**1075), -0.0),
        (Fraction(3, 2**1075), 2.0 * TINY),  # 1.5 subnormal units: tie to 2
        (Fraction(5, 2**1075), 2.0 * TINY),  # 2.5: tie to 2
        (Fraction(1, 2**1075) + Fraction(1, 2**1200), TINY),
        (Fraction(2**1024 - 2**970), math.inf),
        (Fraction(2**1024 - 2**970) - Fraction(1, 10**9), MAX),
        (-Fraction(2**1024), -math.inf),
        (Fraction(2**53 + 1), 2.0**53),
        (Fraction(2**53 + 3), 2.0**53 + 4),
        (Fraction(1, 3), 1 / 3),
        (Fraction(0), 0.0),
    ]
    for q, want in cases:
        assert_same(round_half_even(q), want, f"round_half_even({q})")
    assert is_midpoint(one + ulp1 / 2) and not is_midpoint(one + ulp1 / 4) and not is_midpoint(one)
    assert is_midpoint(Fraction(1, 2**1075)) and not is_midpoint(Fraction(1, 2**1076))
    for e in range(-1100, 1030, 7):
        q = Fraction(2) ** e
        assert floor_log2(q) == e and floor_log2(q * Fraction(3, 2)) == e and floor_log2(q * Fraction(2**40 - 1, 2**40)) == e - 1


@settings(max_examples=400, deadline=None)
@given(st.floats(min_value=0.0, allow_infinity=False, allow_nan=False))
@example(TINY)
@example(MAX)
@example(MIN_NORMAL)
@example(2.0)
def test_sqrt_half_even_matches_math_sqrt(x: float) -> None:
    """math.sqrt is IEEE correctly rounded for float inputs."""
    assert_same(sqrt_half_even(Fraction(x)), math.sqrt(x), f"sqrt_half_even({x!r})")


@settings(max_examples=300, deadline=None)
@given(st.builds(lambda n, d, sh: Fraction(n, d) * Fraction(2) ** sh,
                 st.integers(1, 2**200), st.integers(1, 2**150), st.integers(-2300, 2100)))
def test_sqrt_half_even_is_the_nearest_float(q: Fraction) -> None:
    """The result r is nearest: sqrt(q) lies between the midpoints to r's neighbours (exactly,
    by squaring), and on a midpoint r has an even significand; cross-checked with CPython's
    statistics._float_sqrt_of_frac (documented as correctly rounded) where it exists."""
    r = sqrt_half_even(q)
    if math.isinf(r):
        assert q >= Fraction(2**1024 - 2**970) ** 2
        return
    lo = (Fraction(r) + Fraction(math.nextafter(r, 0.0))) / 2 if r > 0 else Fraction(0)
    hi = (Fraction(r) + Fraction(math.nextafter(r, math.inf))) / 2
    assert lo * lo <= q <= hi * hi
    if q in (lo * lo, hi * hi):
        assert (bits(r) & 1) == 0
    ref = getattr(statistics, "_float_sqrt_of_frac", None)
    if ref is not None and r > 1e-300:
        assert_same(r, ref(q.numerator, q.denominator), f"sqrt of {q}")


def test_sqrt_half_even_known_values() -> None:
    c = 2**53 + 1
    assert_same(sqrt_half_even(Fraction(c * c)), 2.0**53)  # tie: the even neighbour
    c = 2**53 + 3
    assert_same(sqrt_half_even(Fraction(c * c)), 2.0**53 + 4)
    assert_same(sqrt_half_even(Fraction(1, 2**2150)), 0.0)  # sqrt = 2^-1075: tie to 0
    assert_same(sqrt_half_even(Fraction(9, 2**2150)), 2 * TINY)  # 1.5·2^-1074: tie to 2
    assert_same(sqrt_half_even(Fraction(9, 2**2152)), TINY)  # 0.75·2^-1074
    assert_same(sqrt_half_even(Fraction(1, 2**2149)), TINY)  # 2^-1074.5
    assert_same(sqrt_half_even(Fraction(2) ** 2048), math.inf)
    assert_same(sqrt_half_even(Fraction(MAX) ** 2), MAX)
    assert_same(sqrt_half_even(Fraction(2)), math.sqrt(2.0))


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite | st.integers(-(2**64), 2**64), min_size=2, max_size=30), st.integers(0, 1))
def test_var_oracle_by_definition_equals_integer_route_and_statistics(xs: list[Any], ddof: int) -> None:
    """The literal definition (Fractions), the integer identity used for large n, and
    statistics.(p)variance of Fractions (exact in CPython) agree."""
    want = exact_var(xs, ddof)
    assert want == exact_var_by_integers(xs, ddof)
    fr = [Fraction(x) for x in xs]
    assert want == (statistics.pvariance(fr) if ddof == 0 else statistics.variance(fr))
    assert exact_mean(xs) == statistics.mean(fr)
    big = xs * 30  # above the Fraction-route threshold
    assert exact_mean(big) == Fraction(sum(fr), len(fr))
    assert exact_var(big, ddof) == sum(((x - exact_mean(xs)) ** 2 for x in fr), Fraction(0)) * 30 / (len(big) - ddof)


# =============================================================================================
# Adversarial data families against the oracles


def _families() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240610)
    f: dict[str, np.ndarray] = {}
    n = 3000
    f["normal"] = rng.standard_normal(n)
    f["short-5"] = rng.standard_normal(5) * 1e200
    f["n255"] = rng.standard_normal(255) + 7.0
    f["n256"] = rng.standard_normal(256) + 7.0
    f["n2049"] = rng.standard_normal(2049) * 1e-3 + 1.0
    f["1e15+noise"] = 1e15 + rng.uniform(-1, 1, n)
    f["1e15+int-noise"] = 1e15 + rng.integers(-3, 4, 5000).astype(np.float64)
    f["-1e15+tiny"] = -1e15 + np.round(rng.uniform(-1, 1, n) * 8) / 8
    f["1e300+noise (squares overflow)"] = 1e300 * (1.0 + rng.standard_normal(n) * 2.0**-40)
    u300 = math.ulp(1.2345e300)
    f["1e300 constant +- ulps"] = 1.2345e300 + u300 * rng.integers(-2, 3, n).astype(np.float64)
    f["near overflow, both signs"] = MAX * rng.uniform(0.5, 1.0, n) * rng.choice([-1.0, 1.0], n)
    f["near overflow, one sign (sum overflows)"] = MAX - math.ulp(MAX) * rng.integers(0, 1000, n).astype(np.float64)
    f["max and its predecessor"] = rng.choice([MAX, math.nextafter(MAX, 0)], n)
    f["subnormal"] = rng.integers(-1000, 1000, n) * TINY
    f["subnormal positive"] = rng.integers(0, 2**20, n) * TINY
    f["spread 1e-160 (squares underflow)"] = rng.standard_normal(n) * 1e-160
    f["spread 1e-154"] = rng.standard_normal(n) * 1e-154
    f["spread 2^-537 around 1e-300"] = 1e-300 + rng.integers(-1000, 1000, n) * 2.0**-537 * 2.0**-20
    f["exponent range"] = rng.standard_normal(n) * 10.0 ** rng.uniform(-320, 307, n)
    f["exponent range, positive"] = np.abs(f["exponent range"])
    f["first block 0, then 1e300"] = np.concatenate([np.zeros(2048), 1e300 + 1e288 * rng.standard_normal(2048)])
    f["first block -0.9max, then +0.9max"] = np.concatenate([np.full(2048, -0.9 * MAX), np.full(2048, 0.9 * MAX)])
    f["first block max (its float sum overflows)"] = np.concatenate([np.full(2048, MAX), rng.choice([MAX, 0.5 * MAX], 2048)])
    f["first block tiny, then 1e15"] = np.concatenate([rng.standard_normal(2048) * 1e-300, 1e15 + rng.standard_normal(3000)])
    f["one outlier"] = np.where(np.arange(n) == 1234, MAX, 0.0)
    f["1 and 1+ulp"] = rng.choice([1.0, 1.0 + 2.0**-52], 3001)
    f["ramp"] = np.arange(4096) * 0.1
    f["big integers as floats"] = rng.integers(-(2**53), 2**53, n).astype(np.float64)
    f["cancelling pairs"] = np.concatenate([v := rng.standard_normal(1500) * 10.0 ** rng.integers(-300, 300, 1500), -v[::-1]])
    return f


FAMILIES = _families()


@pytest.mark.parametrize("name", list(FAMILIES))
def test_float64_families(name: str) -> None:
    a = FAMILIES[name]
    check_all(a, values_of(a), ddofs=(0, 1, 2, len(a) - 1), what=name)


def _int_families() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    i64 = np.iinfo(np.int64)
    u64 = np.iinfo(np.uint64)
    f = {
        "int8": rng.integers(-128, 128, 3000, dtype=np.int8),
        "uint8": rng.integers(0, 256, 3000, dtype=np.uint8),
        "int16": rng.integers(-(2**15), 2**15, 3000, dtype=np.int16),
        "uint16": rng.integers(0, 2**16, 300, dtype=np.uint16),
        "int32": rng.integers(-(2**31), 2**31, 3000, dtype=np.int32),
        "uint32": rng.integers(0, 2**32, 3000, dtype=np.uint32),
        "int64 full range": rng.integers(i64.min, i64.max, 3000, dtype=np.int64, endpoint=True),
        "uint64 full range": rng.integers(0, u64.max, 3000, dtype=np.uint64, endpoint=True),
        "int64 extremes alternating": np.array([i64.min, i64.max] * 1500, dtype=np.int64),
        "int64 max constant": np.full(5000, i64.max, dtype=np.int64),
        "int64 min constant": np.full(300, i64.min, dtype=np.int64),
        "uint64 max and 0": np.array([u64.max, 0, u64.max] * 700, dtype=np.uint64),
        "int64 2^62 + small": (2**62 + rng.integers(-5, 6, 4000)).astype(np.int64),
        "bool": rng.random(3001) < 0.3,
        "bool all true": np.ones(7, dtype=bool),
        "int64 short": np.array([3, -8, 2**60], dtype=np.int64),
    }
    return f


INT_FAMILIES = _int_families()


@pytest.mark.parametrize("name", list(INT_FAMILIES))
def test_integer_and_bool_families_are_exact(name: str) -> None:
    a = INT_FAMILIES[name]
    vals = [int(v) for v in values_of(a)]
    check_all(a, vals, ddofs=(0, 1, 3), what=name)
    # byte-swapped integers too
    if a.dtype.itemsize > 1:
        check_all(a.astype(a.dtype.newbyteorder(">")), vals, ddofs=(1,), what=name + " big-endian")


def test_float32_and_float16_inputs() -> None:
    rng = np.random.default_rng(3)
    f32 = (rng.standard_normal(3000) * 10.0 ** rng.uniform(-44, 38, 3000)).astype(np.float32)
    f32 = f32[np.isfinite(f32)]
    f32b = (1e7 + rng.integers(-8, 8, 3000)).astype(np.float32)
    raw16 = rng.integers(0, 2**16, 5000, dtype=np.uint16).view(np.float16)
    f16 = raw16[np.isfinite(raw16)]
    f16b = np.full(300, 65504.0, dtype=np.float16)  # max float16: its squares leave float16 far behind
    for what, a in [("f32", f32), ("f32 1e7+noise", f32b), ("f16 all finite patterns", f16), ("f16 max", f16b)]:
        vals = values_of(a)
        check_all(a, vals, ddofs=(0, 1), what=what)
        check_all(a.astype(a.dtype.newbyteorder(">")), vals, ddofs=(0,), what=what + " big-endian")
        check_all(a[::-1], vals[::-1], ddofs=(0,), what=what + " reversed")


# --- exact ties of the final rounding ---------------------------------------------------------


def mean_tie_data(mid: Fraction, n: int, rng: np.random.Generator) -> list[float]:
    """n floats whose exact mean is `mid` (built with Fractions): a head `hi + lo` carrying the
    sum n·mid, cancelling pairs (r, -r), zeros; shuffled."""
    s = mid * n
    hi = round_half_even(s)
    lo = round_half_even(s - Fraction(hi))
    assert Fraction(hi) + Fraction(lo) == s, "the sum n·mid needs more than two floats"
    body = [hi, lo]
    while len(body) + 2 <= n:
        r = float(rng.standard_normal()) * abs(hi)
        body += [r, -r]
    body += [0.0] * (n - len(body))
    rng.shuffle(body)
    assert exact_mean(body) == mid
    return body


def _midpoints() -> list[Fraction]:
    rng = np.random.default_rng(11)
    one, u = Fraction(1), Fraction(1, 2**52)
    mids = [one + u / 2, one + 3 * u / 2, -(one + u / 2), Fraction(2) ** 600 * (one + 5 * u / 2),
            Fraction(2) ** -1000 * (one + u / 2), Fraction(2**40) - Fraction(2**40) * u / 4]
    for e in rng.integers(-1000, 1000, 6):
        f = float(rng.uniform(1, 2)) * 2.0 ** int(e)
        mids.append(Fraction(f) + Fraction(math.ulp(f)) / 2)
    for m in mids:
        assert is_midpoint(m)
    return mids


@pytest.mark.parametrize("n", [2, 3, 7, 256, 2050, 3001])
def test_mean_exact_ties(n: int) -> None:
    rng = np.random.default_rng(n)
    for mid in _midpoints():
        data = mean_tie_data(mid, n, rng)
        want = round_half_even(mid)
        assert (bits(want) & 1) == 0  # the even neighbour
        assert_same(run("mean", np.array(data)), want, f"tie {mid} n={n}")


def test_mean_ties_at_the_edges_of_the_range() -> None:
    pmax = math.nextafter(MAX, 0)
    for k in (1, 128, 3000):
        # (max + pred(max)) / 2: the float sum overflows; the tie goes to pred(max) (even)
        a = np.array([MAX, pmax] * k)
        assert_same(run("mean", a), pmax, f"mean of max and its predecessor, k={k}")
        assert_same(run("mean", -a), -pmax)
        # subnormal halves: 2^-1075 ties to 0, 1.5·2^-1074 to 2·2^-1074, signs kept
        assert_same(run("mean", np.array([0.0, TINY] * k)), 0.0)
        assert_same(run("mean", np.array([0.0, -TINY] * k)), -0.0)
        assert_same(run("mean", np.array([TINY, 2 * TINY] * k)), 2 * TINY)
        assert_same(run("mean", np.array([0.0, 3 * TINY] * k)), 2 * TINY)
        # the odd-significand smallest normal halves into a subnormal tie
        x = math.nextafter(MIN_NORMAL, 1.0)  # (2^52 + 1)·2^-1074
        assert_same(run("mean", np.array([0.0, x] * k)), round_half_even(Fraction(x) / 2))
        # integers: (2^53 + 1) / 2 = 2^52 + 1/2 ties to 2^52; 2^54 + 2 between 2^54 and 2^54 + 4
        assert_same(run("mean", np.array([0, 2**53 + 1] * k, dtype=np.int64)), 2.0**52)
        assert_same(run("mean", np.array([2**54 + 1, 2**54 + 3] * k, dtype=np.int64)), 2.0**54)
        assert_same(run("mean", np.array([2**54 + 5, 2**54 + 7] * k, dtype=np.int64)), 2.0**54 + 8)
        assert_same(run("mean", np.array([2**64 - 1, 2**64 - 2**11 - 1] * k, dtype=np.uint64)),
                    round_half_even(Fraction(2**65 - 2**11 - 2, 2)))


def _var_tie_cs() -> list[int]:
    lo = math.isqrt(2**53) + 1  # c² >= 2^53: 54-bit odd squares, all midpoints
    cs = [c | 1 for c in (lo, lo + 2, 2**27 - 1, 100_000_001, 123_456_789)]
    for c in cs:
        assert 2**53 <= c * c < 2**54 and c % 2 == 1
    return cs


@pytest.mark.parametrize("k", [1, 128, 2048])
def test_var_exact_ties(k: int) -> None:
    """[center - c·2^j, center + c·2^j] repeated k times: the exact variance c²·4^j sits exactly
    halfway between two floats; ddof = k doubles it (still a tie)."""
    for c in _var_tie_cs():
        for center, j in [(0.0, 0), (1e15, 0), (-(2.0**49), 0), (3 * 2.0**40, 0), (0.0, -300), (0.0, -537),
                          (0.0, 100), (0.0, 480), (2.0**510, 480), (2.0**560, 530), (0.0, -50), (1e-200, -700)]:
            d = c * 2.0**j
            lo_v, hi_v = center - d, center + d
            exact_d = Fraction(c) * Fraction(2) ** j
            assert Fraction(hi_v) - Fraction(center) == exact_d == Fraction(center) - Fraction(lo_v)
            a = np.array([lo_v, hi_v] * k)
            v = exact_var(values_of(a), 0)
            assert v == exact_d**2
            if Fraction(MIN_NORMAL) <= v < Fraction(MAX):
                assert is_midpoint(v)  # a tie (below: the subnormal grid; above: overflow)
            assert_same(run("var", a), round_half_even(v), f"var tie c={c} center={center} j={j} k={k}")
            assert_same(run("var", a, ddof=k), round_half_even(2 * v), f"var tie ddof=k c={c} j={j}")
            assert_same(run("std", a), d, f"std exact c={c} j={j}")
        ints = np.array([-c, c] * k, dtype=np.int64) + 2**62
        assert_same(run("var", ints), round_half_even(Fraction(c * c)), f"int64 var tie c={c}")
        uints = np.array([-c, c] * k, dtype=np.int64).astype(np.uint64) + np.uint64(2**63)
        assert_same(run("var", uints, ddof=k), round_half_even(Fraction(2 * c * c)), f"uint64 var tie c={c}")


@pytest.mark.parametrize("k", [1, 128, 2048])
def test_std_exact_ties(k: int) -> None:
    """std = c exactly with c halfway between two floats: integers [m - c, m + c] with c a 54-bit
    odd (or such times 2^8 in uint64), and subnormal halves of floats."""
    for c in (2**53 + 1, 2**53 + 3, 2**54 - 1, 2**53 + 2**20 + 1):
        want = round_half_even(Fraction(c))
        assert is_midpoint(Fraction(c)) and (bits(want) & 1) == 0
        assert_same(run("std", np.array([-c, c] * k, dtype=np.int64)), want, f"std tie c={c}")
        assert_same(run("std", np.array([0, 2 * c] * k, dtype=np.int64)), want, f"std tie [0, 2c] c={c}")
        c8 = c << 8
        assert_same(run("std", np.array([0, 2 * c8] * k, dtype=np.uint64)), want * 256, f"uint64 std tie c={c8}")
    # floats [0, x]: std = x / 2, a subnormal tie when x has an odd last bit at 2^-1074
    for x in (TINY, 3 * TINY, 2**40 * TINY + TINY, math.nextafter(MIN_NORMAL, 1.0), 2**52 * TINY - TINY):
        want = round_half_even(Fraction(x) / 2)
        assert is_midpoint(Fraction(x) / 2)
        a = np.array([0.0, x] * k)
        assert_same(run("std", a), want, f"std tie x={x!r}")
        assert_same(run("std", -a), want)
        assert_same(run("std", a, ddof=1), oracle_std(values_of(a), 1))


# --- constants, empties, n - ddof <= 0, ddof ---------------------------------------------------


CONSTANTS = [0.0, -0.0, 1.0, -3.5, 0.1, TINY, -TINY, MIN_NORMAL, MAX, -MAX, 1e15 + 0.5, 1.2345e300, 2.0**-1000]


@pytest.mark.parametrize("n", [1, 2, 255, 256, 4099, 20000])
def test_constant_arrays_have_zero_spread(n: int) -> None:
    for c in CONSTANTS:
        a = np.full(n, c)
        # an exact 0 mean is +0.0 (the oracle's rounding of the rational 0), as fsum gives
        assert_same(run("mean", a), c if c != 0 else 0.0, f"mean of constant {c!r}")
        for ddof in (0, 1):
            want = 0.0 if n - ddof > 0 else math.nan
            assert_same(run("var", a, ddof=ddof), want, f"var of constant {c!r} n={n} ddof={ddof}")
            assert_same(run("std", a, ddof=ddof), want, f"std of constant {c!r} n={n} ddof={ddof}")
        if n >= 256:
            for t in (1, 2, 3, 4):
                assert_same(run("var", a, threads=t), 0.0)
    for dt in (np.float32, np.float16, np.int8, np.uint64, np.int64, bool):
        a = np.full(n, 1, dtype=dt)
        assert_same(run("mean", a), 1.0)
        assert_same(run("var", a), 0.0)
        assert_same(run("std", a, ddof=1), 0.0 if n > 1 else math.nan)


def test_empty_and_n_minus_ddof_at_most_zero_give_nan_without_warning() -> None:
    with no_warnings():
        for dt in (np.float64, np.float32, np.int64, np.uint8, bool):
            for n in range(4):
                a = np.arange(n).astype(dt)
                assert_same(run("mean", a), math.nan if n == 0 else oracle_mean(values_of(a)), f"mean {dt} n={n}")
                for ddof in range(6):
                    want = math.nan if n - ddof <= 0 else oracle_var(values_of(a), ddof)
                    assert_same(run("var", a, ddof=ddof), want, f"var {dt} n={n} ddof={ddof}")
                    want = math.nan if n - ddof <= 0 else oracle_std(values_of(a), ddof)
                    assert_same(run("std", a, ddof=ddof), want, f"std {dt} n={n} ddof={ddof}")
        for empty in (np.zeros((0, 3)), np.zeros((3, 0, 2)), array.array("d"), b"", memoryview(b"").cast("d")):
            for name in STATS:
                assert_same(run(name, empty), math.nan, f"{name} of empty {type(empty).__name__}")
        for name in STATS:
            kw = {} if name == "mean" else {"ddof": 0}
            got = run(name, np.zeros((2, 0)), axis=1, **kw)
            assert [bits(v) == bits(math.nan) or math.isnan(v) for v in np.asarray(got).tolist()] == [True, True]
        # huge ddof: still just n - ddof <= 0
        for ddof in (2**31, 2**63 - 1, 2**63, 2**64, 2**64 + 1, 2**100):
            assert_same(run("var", np.ones(5), ddof=ddof), math.nan, f"ddof={ddof}")
            assert_same(run("std", np.ones(5), ddof=ddof), math.nan, f"ddof={ddof}")


def test_ddof_validation() -> None:
    a = np.array([1.0, 2.0, 4.0])
    for name in ("var", "std"):
        fn = getattr(bufsum, name)
        for bad in (-1, -2, -(2**63), -(2**64), -(2**100), np.int64(-1)):
            with pytest.raises(ValueError, match="ddof"):
                fn(a, ddof=bad)
        for bad in (1.0, 0.5, "1", None, [1], 1j, Fraction(1)):
            with pytest.raises((TypeError, ValueError)):
                fn(a, ddof=bad)
        # what SupportsIndex accepts is an int
        assert_same(fn(a, ddof=np.int64(1)), oracle(name, [1.0, 2.0, 4.0], 1))
        assert_same(fn(a, ddof=np.uint8(2)), oracle(name, [1.0, 2.0, 4.0], 2))
        with pytest.raises(TypeError):
            fn(a, 1)  # ddof is keyword-only
        # a bad ddof is reported even when the data would give NaN anyway
        with pytest.raises(ValueError, match="ddof"):
            fn(np.zeros(0), ddof=-1)
    with pytest.raises(TypeError):
        bufsum.mean(a, ddof=1)  # type: ignore[call-arg]


# --- NaN and infinities ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 300, 5000])
def test_infinities_and_nan_follow_extended_real_arithmetic(n: int) -> None:
    rng = np.random.default_rng(n)
    base = rng.standard_normal(n)
    cases = {
        "+inf": [(1, math.inf)],
        "-inf": [(n - 1, -math.inf)],
        "+inf twice": [(0, math.inf), (n - 1, math.inf)],
        "+inf and -inf": [(0, math.inf), (n // 2, -math.inf)],
        "nan": [(n // 2, math.nan)],
        "nan and inf": [(0, math.inf), (n - 1, math.nan)],
        "max and +inf": [(0, MAX), (1, math.inf)],
    }
    for what, puts in cases.items():
        a = base.copy()
        for i, v in puts:
            a[i] = v
        vals = values_of(a)
        check_all(a, vals, ddofs=(0, 1), what=what)
        with np.errstate(over="ignore"):
            a32 = a.astype(np.float32)
        check_all(a32, values_of(a32), ddofs=(0,), what=what + " f32")
        assert math.isnan(run("var", a)) and math.isnan(run("std", a))
    with no_warnings():
        assert_same(run("mean", np.full(n, math.nan)), math.nan)
        assert_same(run("var", np.full(n, math.inf)), math.nan)
        assert_same(run("mean", np.full(n, -math.inf)), -math.inf)
        assert_same(run("mean", np.full(n, math.inf, dtype=np.float16)), math.inf)


# --- squares that overflow or underflow ------------------------------------------------------


def test_overflowing_squares_do_not_spoil_results() -> None:
    pmax = math.nextafter(MAX, 0)
    for k in (1, 200, 3000):
        a = np.array([-MAX, MAX] * k)
        assert_same(run("mean", a), 0.0)
        assert_same(run("var", a), math.inf)  # MAX² rounds to inf
        assert_same(run("std", a), MAX)  # exact
        assert_same(run("std", a, ddof=1), oracle_std(values_of(a), 1))
        assert_same(run("std", a, ddof=1), sqrt_half_even(Fraction(MAX) ** 2 * 2 * k / (2 * k - 1)))
        b = np.array([MAX, pmax] * k)
        spread = (Fraction(MAX) - Fraction(pmax)) / 2
        assert_same(run("var", b), round_half_even(spread**2))
        assert_same(run("std", b), round_half_even(spread))
        c = np.array([1e300, -1e300, 3e299] * k)
        check_all(c, values_of(c), ddofs=(0, 1), what=f"1e300 k={k}")
    # the exact variance just fits, a float sum of squares would not
    x = 2.0**511
    assert_same(run("var", np.array([-x, x] * 4000)), 2.0**1022)
    assert_same(run("var", np.array([-x, x] * 4000), ddof=4000), 2.0**1023)
    assert_same(run("var", np.array([-x, x] * 4000), ddof=6000), math.inf)  # 2^1024


def test_underflowing_squares_do_not_spoil_results() -> None:
    rng = np.random.default_rng(5)
    for k in (2, 200, 3000):
        a = rng.integers(-(2**30), 2**30, k) * TINY
        vals = values_of(a)
        check_all(a, vals, ddofs=(0, 1), what=f"subnormal k={k}")
        # var of these is far below the subnormals (0.0), std is not
        assert run("var", a) == 0.0
        assert run("std", a) > 0.0 or np.all(a == a[0])
        b = rng.standard_normal(k) * 2.0**-530  # squares near 2^-1060: subnormal, partly lost
        check_all(b, values_of(b), ddofs=(0, 1), what=f"2^-530 spread k={k}")
        c = 1.0 + rng.integers(-4, 5, k) * 2.0**-52  # tiny spread around 1: var ~ 2^-104
        check_all(c, values_of(c), ddofs=(0, 1), what=f"1 +- ulps k={k}")


def test_huge_mean_tiny_spread() -> None:
    rng = np.random.default_rng(6)
    for n in (10, 300, 5000):
        for center in (1e15, -1e15, 2.0**52, 1e300, -1e300, 1e-300, 1.7e308):
            u = math.ulp(center)
            a = center + u * rng.integers(-3, 4, n).astype(np.float64)
            if not np.all(np.isfinite(a)):
                continue
            check_all(a, values_of(a), ddofs=(0, 1), what=f"center {center} n={n}")
        a = 1e15 + rng.standard_normal(n) * 1e-3  # rounds to multiples of 1/8
        check_all(a, values_of(a), ddofs=(0, 3), what=f"1e15 + small noise n={n}")


def test_mean_never_overflows_where_the_exact_mean_fits() -> None:
    for n in (2, 300, 5000):
        a = np.full(n, MAX)
        assert_same(run("mean", a), MAX)
        f32max = np.finfo(np.float32).max
        assert_same(run("mean", np.full(n, f32max, dtype=np.float32)), float(f32max))
        a[::2] = math.nextafter(MAX, 0)
        assert_same(run("mean", a), oracle_mean(values_of(a)))
    i64 = np.iinfo(np.int64)
    assert_same(run("mean", np.full(5000, i64.max, dtype=np.int64)), 2.0**63)
    assert_same(run("mean", np.full(5000, np.iinfo(np.uint64).max, dtype=np.uint64)), 2.0**64)


# --- complex --------------------------------------------------------------------------------


def test_complex_mean_per_part_and_complex_var_std_refused() -> None:
    rng = np.random.default_rng(8)
    for n in (1, 3, 300, 3000):
        re = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
        im = 1e15 + rng.integers(-3, 4, n).astype(np.float64)
        z = re + 1j * im
        want = oracle_mean_complex(values_of(z))
        got = run("mean", z)
        assert isinstance(got, complex)
        assert_same(got, want, f"complex mean n={n}")
        assert_same(run("mean", z.astype(np.complex64)), oracle_mean_complex(values_of(z.astype(np.complex64))))
        assert_same(run("mean", z[::-1].copy()[::-1]), want)
        assert_same(run("mean", z.astype(">c16")), want)
        for name in ("var", "std"):
            for data in (z, z.astype(np.complex64), z.reshape(1, -1)):
                with pytest.raises(TypeError):
                    getattr(bufsum, name)(data)
                with pytest.raises(TypeError):
                    getattr(bufsum, name)(data, ddof=1, nan_policy="omit")
    # a tie in the real part, infinities in the imaginary part
    z = np.array([complex(1.0, math.inf), complex(1.0 + 2.0**-52, 0.0)] * 200)
    assert_same(run("mean", z), complex(round_half_even(Fraction(1) + Fraction(1, 2**53)), math.inf))
    assert_same(run("mean", np.zeros(0, dtype=np.complex128)), complex(math.nan, math.nan))


# --- statistics module, where it is provably exact -------------------------------------------


def test_statistics_module_agrees_where_it_is_exact() -> None:
    rng = np.random.default_rng(9)
    for n in (2, 16, 256, 4096):
        # fmean = fsum / n: exact for small integers (exact sum) over a power of two (exact division)
        a = rng.integers(-(2**40), 2**40, n).astype(np.float64) * 2.0**-20
        assert_same(run("mean", a), statistics.fmean(values_of(a)))
    for n in (2, 7, 300, 2500):
        # statistics.(p)variance computes exact Fractions and rounds once (CPython 3.11+)
        a = rng.standard_normal(n) * 10.0 ** rng.integers(-100, 100, n)
        vals = values_of(a)
        assert_same(run("var", a), statistics.pvariance(vals))
        assert_same(run("var", a, ddof=1), statistics.variance(vals))


# =============================================================================================
# Exporter, layout and thread-count independence


class OnlyDLPack:
    """A NumPy array reachable through `__dlpack__` only."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def __dlpack__(self, **kw: Any) -> Any:
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self) -> Any:
        return self.a.__dlpack_device__()


ARRAY_CODES = {"f8": "d", "f4": "f", "i8": "q", "u8": "Q", "i4": "i", "u4": "I", "i2": "h", "u2": "H", "i1": "b", "u1": "B"}
CTYPES = {"f8": ctypes.c_double, "f4": ctypes.c_float, "i8": ctypes.c_int64, "u8": ctypes.c_uint64,
          "i4": ctypes.c_int32, "i2": ctypes.c_int16, "u1": ctypes.c_uint8}


def unaligned(a: np.ndarray) -> np.ndarray:
    raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
    v = raw[1:].view(a.dtype).reshape(a.shape)
    v[...] = a
    return v


def exporters(a: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[str, Any]]:
    """The values of 1-d `a` (any order: the statistics do not depend on it) through many
    exporters and layouts; Arrow ones with nulls interleaved (nulls are absent values)."""
    key = a.dtype.str[1:]
    n = a.size
    yield "numpy", a
    yield "reversed view", a[::-1].copy()[::-1]
    yield "strided view", np.repeat(a, 3)[::3]
    yield "negative stride", a[::-1]
    yield "fortran 2-d" if n % 2 == 0 else "fortran 2-d (1 row)", np.asfortranarray(a.reshape(2, -1) if n % 2 == 0 else a.reshape(1, -1))
    yield "3-d transposed", (a.reshape(1, 1, n).transpose(2, 0, 1))
    yield "unaligned", unaligned(a)
    if a.dtype.itemsize > 1:
        yield "byte-swapped", a.astype(a.dtype.newbyteorder(">" if sys.byteorder == "little" else "<"))
        yield "byte-swapped unaligned strided", unaligned(np.repeat(a.astype(a.dtype.newbyteorder(">")), 2))[::2]
    yield "memoryview", memoryview(a)
    yield "dlpack", OnlyDLPack(a)
    yield "dlpack strided", OnlyDLPack(np.repeat(a, 2)[::2])
    if key in ARRAY_CODES:
        yield "array.array", array.array(ARRAY_CODES[key], a.tobytes())
        yield "memoryview cast", memoryview(bytearray(a.tobytes())).cast(ARRAY_CODES[key])
    if key in CTYPES and n:
        yield "ctypes", (CTYPES[key] * n).from_buffer_copy(a.tobytes())
    try:
        import pyarrow as pa
    except ImportError:
        return
    yield "pyarrow", pa.array(a)
    # the values with nulls interleaved (null slots hold junk): nulls are absent, not counted
    m = n + n // 3 + 1
    null = np.zeros(m, dtype=bool)
    null[rng.choice(m, m - n, replace=False)] = True
    full = np.resize(a[::-1], m) if n else np.zeros(m, a.dtype)  # junk under the nulls
    full[~null] = a
    arr = pa.array(full, mask=null)
    assert arr.null_count == m - n
    yield "pyarrow with nulls", arr
    cuts = sorted({0, m, *rng.integers(0, m, 4).tolist()})
    chunks = [arr.slice(lo, hi - lo) for lo, hi in zip(cuts, cuts[1:])]
    yield "pyarrow chunked with nulls", pa.chunked_array(chunks + [pa.array([], type=arr.type)], type=arr.type)
    padded = pa.array(np.concatenate([full[:5], full]), mask=np.concatenate([np.ones(5, bool), null]))
    yield "pyarrow slice with offset", padded.slice(5)
    yield "pyarrow slice with offset (offset 3 into the bitmap)", padded.slice(2).slice(3)
    try:
        import polars as pl
    except ImportError:
        return
    if a.dtype.kind in "iuf" and key != "f2":
        yield "polars", pl.Series(a)
        yield "polars with nulls", pl.from_arrow(arr)


@pytest.mark.parametrize("family", ["normal", "1e15+noise", "near overflow, both signs", "exponent range",
                                    "subnormal", "first block 0, then 1e300", "max and its predecessor"])
def test_every_exporter_and_layout_gives_the_oracle_bits(family: str) -> None:
    rng = np.random.default_rng(len(family))
    a = FAMILIES[family]
    vals = values_of(a)
    want = {(name, d): oracle(name, vals, d) for name in STATS for d in (0, 1)}
    for what, data in exporters(a, rng):
        for (name, d), w in want.items():
            kw = {} if name == "mean" else {"ddof": d}
            if name == "mean" and d:
                continue
            assert_same(run(name, data, **kw), w, f"{family} via {what}: {name}{kw}")


@pytest.mark.parametrize("dtype", ["f4", "f2", "i8", "u8", "i1", "u1", "i2", "i4", "?"])
def test_every_exporter_for_other_formats(dtype: str) -> None:
    rng = np.random.default_rng(1)
    if dtype[0] == "f":
        a = (rng.standard_normal(2500) * 100).astype(dtype)
    elif dtype == "?":
        a = rng.random(2500) < 0.5
    else:
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, 2500, endpoint=True, dtype=dtype)
    vals = values_of(a)
    want = [oracle("mean", vals), oracle("var", vals, 1), oracle("std", vals, 0)]
    for what, data in exporters(a, rng):
        got = [run("mean", data), run("var", data, ddof=1), run("std", data)]
        for g, w, name in zip(got, want, ("mean", "var(ddof=1)", "std")):
            assert_same(g, w, f"{dtype} via {what}: {name}")


def test_thread_counts_give_identical_bits() -> None:
    rng = np.random.default_rng(2)
    n = 20_000  # ten canonical blocks
    datas = {
        "wide": rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n),
        "1e15": 1e15 + rng.integers(-4, 5, n).astype(np.float64),
        "f32": rng.standard_normal(n).astype(np.float32),
        "i64": rng.integers(-(2**63), 2**63 - 1, n, dtype=np.int64),
        "overflowing squares": MAX * rng.uniform(0.5, 1, n) * rng.choice([-1.0, 1.0], n),
    }
    for what, a in datas.items():
        vals = values_of(a)
        want = {name: oracle(name, vals, 1) for name in STATS}
        for t in (1, 2, 3, 4):
            for name in STATS:
                kw = {} if name == "mean" else {"ddof": 1}
                assert_same(run(name, a, threads=t, **kw), want[name], f"{what} {name} threads={t}")
                assert_same(run(name, a[::-1], threads=t, **kw), want[name], f"{what} reversed {name} threads={t}")


def test_threads_argument_validation() -> None:
    a = np.ones(10)
    for name in STATS:
        fn = getattr(bufsum, name)
        for bad in (0, -1, -(2**70)):
            with pytest.raises(ValueError):
                fn(a, threads=bad)
        for bad in (1.5, "2"):
            with pytest.raises((TypeError, ValueError)):
                fn(a, threads=bad)


# =============================================================================================
# axis / out / keepdims


def _slices(a: np.ndarray, axis: Any) -> tuple[tuple[int, ...], list[list[Any]]]:
    """The reduced shape and the C-ordered list of value lists, one per output entry."""
    axes = tuple(range(a.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
    axes = tuple(ax % a.ndim for ax in axes)
    keep = [d for d in range(a.ndim) if d not in axes]
    moved = np.transpose(a, keep + list(axes))
    out_shape = tuple(a.shape[d] for d in keep)
    row = int(np.prod([a.shape[d] for d in axes], dtype=np.int64))
    flat = moved.reshape(int(np.prod(out_shape, dtype=np.int64)), row)
    return out_shape, [values_of(r) for r in flat]


def _axis_data() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(21)
    base = rng.standard_normal((3, 4, 70)) * 10.0 ** rng.integers(-200, 200, (3, 4, 70))
    base[0, 1, :] = MAX * rng.choice([-1.0, 1.0], 70)  # overflowing squares in one slice
    base[1, 2, :] = 1e15 + rng.integers(-3, 4, 70)
    base[2, 3, :5] = TINY
    return [
        ("f8", base),
        ("f8 fortran", np.asfortranarray(base)),
        ("f8 strided", np.repeat(base, 2, axis=2)[:, :, ::2]),
        ("f8 transposed copy", base.transpose(1, 0, 2).copy().transpose(1, 0, 2)),
        ("f8 reversed", base[::-1, :, ::-1].copy()[::-1, :, ::-1]),
        ("f8 big-endian", base.astype(">f8")),
        ("f4", np.where(np.abs(base) < 1e38, base, 1e38).astype(np.float32)),
        ("i8", rng.integers(-(2**63), 2**63 - 1, (3, 4, 70), dtype=np.int64)),
        ("u1", rng.integers(0, 256, (3, 4, 70)).astype(np.uint8)),
        ("with empty axis", np.zeros((3, 0, 5))),
        ("one-long axis", rng.standard_normal((3, 1, 5))),
    ]


AXES = [0, 1, 2, -1, (0, 2), (2, 0), (1, 2), (0, 1, 2), ()]


@pytest.mark.parametrize("what,a", _axis_data())
def test_axis_entries_are_the_function_of_each_slice(what: str, a: np.ndarray) -> None:
    for axis in AXES:
        shape, rows = _slices(a, axis)
        for name in STATS:
            for ddof in ((0,) if name == "mean" else (0, 1, 2)):
                kw = {} if name == "mean" else {"ddof": ddof}
                got = run(name, a, axis=axis, **kw)
                assert isinstance(got, memoryview) and got.format == "d"
                arr = np.asarray(got)
                assert arr.shape == shape, f"{what} {name} axis={axis}: shape {arr.shape} != {shape}"
                for i, (g, row) in enumerate(zip(arr.ravel().tolist(), rows)):
                    assert_same(g, oracle(name, row, ddof), f"{what} {name}{kw} axis={axis} entry {i}")
                keep = run(name, a, axis=axis, keepdims=True, **kw)
                axes = tuple(ax % a.ndim for ax in ((axis,) if isinstance(axis, int) else axis))
                kshape = tuple(1 if d in axes else s for d, s in enumerate(a.shape))
                assert np.asarray(keep).shape == kshape
                assert np.asarray(keep).ravel().tobytes() == arr.ravel().tobytes()


def test_axis_none_and_keepdims_whole() -> None:
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.1
    vals = values_of(a)
    for name in STATS:
        assert_same(run(name, a, axis=None), oracle(name, vals))
        k = run(name, a, keepdims=True)
        assert np.asarray(k).shape == (1, 1, 1)
        assert_same(np.asarray(k).item(), oracle(name, vals))
        assert_same(np.asarray(run(name, a, axis=(0, 1, 2))).item(), oracle(name, vals))


def test_axis_errors() -> None:
    a = np.zeros((2, 3))
    for name in STATS:
        fn = getattr(bufsum, name)
        for bad in (2, -3, (0, 0), (1, -1), (0, 5)):
            with pytest.raises(ValueError):
                fn(a, axis=bad)
        with pytest.raises((TypeError, ValueError)):
            fn(a, axis=1.0)


def test_out_is_written_and_returned_and_bad_out_is_untouched() -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((5, 301)) * 1e10 + 3e15
    shape, rows = _slices(a, 1)
    for name in STATS:
        fn = getattr(bufsum, name)
        want = [oracle(name, r, 1 if name != "mean" else 0) for r in rows]
        kw = {} if name == "mean" else {"ddof": 1}
        out = np.full(5, 7.0)
        assert fn(a, axis=1, out=out, **kw) is out
        for g, w in zip(out.tolist(), want):
            assert_same(g, w, f"{name} out")
        big = np.full(10, 7.0)
        strided = big[::2]
        assert fn(a, axis=1, out=strided, **kw) is strided
        assert np.array_equal(strided, out) and np.all(big[1::2] == 7.0)
        keep_out = np.full((5, 1), 7.0)
        fn(a, axis=1, keepdims=True, out=keep_out, **kw)
        assert keep_out.ravel().tobytes() == out.tobytes()
        for bad, errs in [
            (np.full(4, 7.0), (ValueError, TypeError)),
            (np.full((5, 2), 7.0), (ValueError, TypeError)),
            (np.full(6, 7.0), (ValueError, TypeError)),
            (np.full(5, 7, dtype=np.int64), (ValueError, TypeError)),
            (np.full(5, 7, dtype=np.float32), (ValueError, TypeError)),
            (np.full(5, 7, dtype=np.complex128), (ValueError, TypeError)),
        ]:
            before = bad.tobytes()
            with pytest.raises(errs):
                fn(a, axis=1, out=bad, **kw)
            assert bad.tobytes() == before, f"{name}: out changed on error"
        ro = np.full(5, 7.0)
        ro.flags.writeable = False
        with pytest.raises((BufferError, TypeError, ValueError)):
            fn(a, axis=1, out=ro, **kw)
        assert np.all(ro == 7.0)
        # nan_policy='raise' with NaN: ValueError naming the count, out untouched
        b = a.copy()
        b[1, 3] = b[4, 0] = b[4, 300] = math.nan
        out = np.full(5, 7.0)
        with pytest.raises(ValueError, match=r"\b3\b"):
            fn(b, axis=1, out=out, nan_policy="raise", **kw)
        assert np.all(out == 7.0)
        out2 = array.array("d", [7.0] * 5)
        assert fn(a, axis=1, out=out2, **kw) is out2
        for g, w in zip(out2.tolist(), want):
            assert_same(g, w)


def test_axis_empty_slices_and_ddof_give_nan_entries() -> None:
    with no_warnings():
        a = np.ones((4, 0))
        for name in STATS:
            got = np.asarray(run(name, a, axis=1))
            assert got.shape == (4,) and np.all(np.isnan(got))
            got = np.asarray(run(name, a, axis=0))
            assert got.shape == (0,)
        b = np.arange(6.0).reshape(3, 2)
        for name in ("var", "std"):
            assert np.all(np.isnan(np.asarray(run(name, b, axis=1, ddof=2))))
            got = np.asarray(run(name, b, axis=1, ddof=1)).tolist()
            for g, row in zip(got, b.tolist()):
                assert_same(g, oracle(name, row, 1))
            assert np.all(np.isnan(np.asarray(run(name, b, axis=0, ddof=3))))


def test_arrow_inputs_with_axis() -> None:
    pa = pytest.importorskip("pyarrow")
    arr = pa.chunked_array([[1.0, None, 4.0], [None], [8.5]])
    vals = [1.0, 4.0, 8.5]
    for name in STATS:
        for axis in (None, 0, -1):
            got = run(name, arr, axis=axis)
            g = np.asarray(got).item() if isinstance(got, memoryview) else got
            assert_same(g, oracle(name, vals), f"{name} axis={axis}")
        with pytest.raises((ValueError, TypeError)):
            getattr(bufsum, name)(arr, axis=1)


# =============================================================================================
# bufsum.dask (exercised once the statistics land there)

def _dask() -> Any:
    da = pytest.importorskip("dask.array")
    import bufsum.dask as bd

    return da, bd


def _computed(x: Any, **kw: Any) -> Any:
    return x.compute(**kw) if hasattr(x, "compute") else x


@pytest.mark.parametrize("name", ["mean", "var", "std"])
def test_dask_statistics_any_chunking(name: str) -> None:
    da, bd = _dask()
    if not hasattr(bd, name):
        pytest.skip(f"bufsum.dask.{name} is not on this build yet")
    rng = np.random.default_rng(30)
    a = rng.standard_normal((40, 50)) * 10.0 ** rng.integers(-200, 200, (40, 50))
    a[3, :] = MAX
    vals = values_of(a)
    ints = rng.integers(-(2**63), 2**63 - 1, 3000, dtype=np.int64)
    for chunks in [(40, 50), (7, 11), (1, 50), (40, 1)]:
        x = da.from_array(a, chunks=chunks)
        for ddof in ((0,) if name == "mean" else (0, 1, 7)):
            kw = {} if name == "mean" else {"ddof": ddof}
            assert_same(_computed(getattr(bd, name)(x, **kw)), oracle(name, vals, ddof), f"dask {name}{kw} chunks={chunks}")
    xi = da.from_array(ints, chunks=333)
    assert_same(_computed(getattr(bd, name)(xi)), oracle(name, values_of(ints)))
    assert_same(_computed(getattr(bd, name)(da.from_array(np.zeros(0), chunks=5))), math.nan)
    for special in ([math.inf, 1.0, 2.0], [math.inf, -math.inf], [math.nan, 1.0], [-MAX, MAX, MAX], [TINY, 0.0] * 3):
        xs = da.from_array(np.array(special), chunks=1)
        assert_same(_computed(getattr(bd, name)(xs)), oracle(name, special), f"dask {name} of {special}")
    if name != "mean":
        assert_same(_computed(getattr(bd, name)(xi, ddof=2**63)), math.nan)
        assert_same(_computed(getattr(bd, name)(xi, ddof=3000)), math.nan)
        with pytest.raises(ValueError):
            getattr(bd, name)(xi, ddof=-1)
        with pytest.raises(TypeError):
            getattr(bd, name)(da.from_array(np.ones(3, dtype=np.complex128)))
    with pytest.raises(TypeError):
        getattr(bd, name)(np.ones(3))  # in-memory data goes to bufsum.{name}
    if name == "mean":
        z = da.from_array(a + 1j * a[::-1], chunks=(9, 13))
        assert_same(_computed(bd.mean(z)), oracle_mean_complex(values_of(a + 1j * a[::-1])))


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])  # processes: see the distributed test
def test_dask_statistics_on_schedulers(scheduler: str) -> None:
    da, bd = _dask()
    names = [n for n in STATS if hasattr(bd, n)]
    if not names:
        pytest.skip("bufsum.dask has no statistics on this build yet")
    a = 1e15 + np.random.default_rng(31).integers(-5, 6, (30, 30)).astype(np.float64)
    x = da.from_array(a, chunks=(7, 8))
    for name in names:
        kw = {} if name == "mean" else {"ddof": 1}
        assert_same(_computed(getattr(bd, name)(x, **kw), scheduler=scheduler), oracle(name, values_of(a), 1 if kw else 0))


def test_dask_fdot_chunked_differently() -> None:
    da, bd = _dask()
    if not hasattr(bd, "fdot"):
        pytest.skip("bufsum.dask.fdot is not on this build yet")
    from stats_oracle import oracle_fdot

    rng = np.random.default_rng(32)
    x = rng.standard_normal(600) * 10.0 ** rng.integers(-150, 150, 600)
    y = rng.standard_normal(600) * 10.0 ** rng.integers(-150, 150, 600)
    want = oracle_fdot(values_of(x), values_of(y))
    for cx, cy in [(600, 600), (100, 333), (7, 600), (77, 64)]:
        got = _computed(bd.fdot(da.from_array(x, chunks=cx), da.from_array(y, chunks=cy)))
        assert_same(got, want, f"dask fdot chunks {cx} / {cy}")
    x2, y2 = x.reshape(30, 20), y.reshape(30, 20)
    assert_same(_computed(bd.fdot(da.from_array(x2, chunks=(7, 20)), da.from_array(y2, chunks=(30, 3)))), want)
    with pytest.raises(ValueError):
        bd.fdot(da.from_array(x), da.from_array(y[:-1]))


def test_dask_distributed_statistics() -> None:
    da, bd = _dask()
    if not hasattr(bd, "var"):
        pytest.skip("bufsum.dask.var is not on this build yet")
    distributed = pytest.importorskip("distributed")
    a = 1e300 + np.random.default_rng(33).standard_normal(5000) * 1e288
    x = da.from_array(a, chunks=700)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            for name in [n for n in STATS if hasattr(bd, n)]:
                got = client.compute(getattr(bd, name)(x)).result()
                assert_same(got, oracle(name, values_of(a)), f"distributed {name}")


# =============================================================================================
# Hypothesis: formats x layouts x NaN patterns x ddof against the oracle

FORMATS = ["f8", ">f8", "f4", "<f4", ">f4", "f2", "i1", "u1", ">i2", "i4", "u4", "i8", ">u8", "?"]

SPECIAL = [0.0, -0.0, TINY, -TINY, MIN_NORMAL, MAX, -MAX, 1e15, 1e300, -1e300, 1.0, 1.0 + 2.0**-52, math.nan, math.inf, -math.inf]


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    fmt = draw(st.sampled_from(FORMATS))
    dt = np.dtype(fmt)
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 17, 255, 256, 300, 2049]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dt.kind == "f":
        kind = draw(st.sampled_from(["normal", "wide", "1e15", "specials", "subnormal", "huge"]))
        if kind == "normal":
            v = rng.standard_normal(n)
        elif kind == "wide":
            v = rng.standard_normal(n) * 10.0 ** rng.uniform(-320, 308, n)
        elif kind == "1e15":
            v = 1e15 + rng.integers(-3, 4, n).astype(float)
        elif kind == "subnormal":
            v = rng.integers(-50, 50, n) * TINY
        elif kind == "huge":
            v = MAX * rng.uniform(0.9, 1.0, n) * rng.choice([-1.0, 1.0], n)
        else:
            v = rng.choice(np.array(SPECIAL), n)
        with np.errstate(over="ignore"):
            a = v.astype(dt)
        pattern = draw(st.sampled_from(["none", "one", "sparse", "half", "all", "first-block", "every-other"]))
        nanmask = {
            "none": np.zeros(n, bool),
            "one": np.arange(n) == (n // 2),
            "sparse": rng.random(n) < 0.02,
            "half": rng.random(n) < 0.5,
            "all": np.ones(n, bool),
            "first-block": np.arange(n) < 2048,
            "every-other": np.arange(n) % 2 == 0,
        }[pattern]
        a[nanmask] = np.nan
    elif dt.kind == "b":
        a = rng.random(n) < 0.5
    else:
        info = np.iinfo(dt)
        a = rng.integers(info.min, info.max, n, endpoint=True, dtype=dt.newbyteorder("=")).astype(dt)
    return a


@st.composite
def layouts(draw: st.DrawFn, a: np.ndarray) -> Any:
    """Same values (a multiset: the statistics ignore order), another layout or exporter."""
    how = draw(st.sampled_from(["plain", "reversed", "strided", "2d-fortran", "unaligned", "dlpack", "memoryview", "arrow"]))
    n = a.size
    if how == "reversed":
        return a[::-1]
    if how == "strided":
        return np.repeat(a, 2)[::2]
    if how == "2d-fortran" and n % 3 == 0 and n:
        return np.asfortranarray(a.reshape(3, -1))
    if how == "unaligned":
        return unaligned(a)
    if how == "dlpack" and a.dtype.byteorder in "=|":
        return OnlyDLPack(a)
    if how == "memoryview" and a.dtype.isnative:
        return memoryview(a)
    if how == "arrow":
        try:
            import pyarrow as pa
        except ImportError:
            return a
        native = a.astype(a.dtype.newbyteorder("="))
        return pa.array(native)
    return a


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_hypothesis_formats_layouts_nan_patterns_ddof(data: st.DataObject) -> None:
    a = data.draw(arrays(), label="array")
    x = data.draw(layouts(a), label="layout")
    ddof = data.draw(st.integers(0, 3), label="ddof")
    policy = data.draw(st.sampled_from(["propagate", "omit", "raise"]), label="nan_policy")
    threads = data.draw(st.sampled_from([None, 1, 2, 3]), label="threads")
    vals = values_of(a)
    nans = sum(1 for v in vals if isinstance(v, float) and math.isnan(v))
    if policy == "omit":
        vals = [v for v in vals if not (isinstance(v, float) and math.isnan(v))]
    for name in STATS:
        kw: dict[str, Any] = {"nan_policy": policy, "threads": threads}
        if name != "mean":
            kw["ddof"] = ddof
        if policy == "raise" and nans:
            with pytest.raises(ValueError, match=rf"\b{nans}\b"):
                getattr(bufsum, name)(x, **kw)
            continue
        with no_warnings():
            got = run(name, x, **kw)
        assert_same(got, oracle(name, vals, ddof), f"{name}{kw} of {a.dtype} n={a.size}")


# =============================================================================================
# No panic from the new entry points with random arguments

ALLOWED = (TypeError, ValueError, OverflowError, BufferError, MemoryError)

junk = st.sampled_from([None, 1, -1, 0, 2**64, -(2**64), 1.5, math.nan, "x", "omit", b"d", [], (0,), (0, 0), (5,), {}, 1j, True, np.int64(-3)])
fuzz_data = st.one_of(
    st.builds(lambda v: np.array(v), st.lists(st.floats(), max_size=20)),
    st.builds(lambda v, s: np.array(v, dtype=np.float64).reshape(s) if len(v) == int(np.prod(s)) else np.array(v),
              st.lists(st.floats(), min_size=6, max_size=6), st.sampled_from([(2, 3), (3, 2), (1, 6), (6, 1, 1)])),
    st.sampled_from([b"", b"12345678", bytearray(8), memoryview(b"abc"), array.array("d", [1.0, math.nan]),
                     array.array("q", [1, 2]), np.zeros((0, 3)), np.zeros((2, 2), np.complex64), np.zeros(3, "S2"),
                     np.zeros(3, "m8"), np.array(5.0), np.zeros(4, ">f2")]),
    junk,
)
try:
    import pyarrow as _pa

    fuzz_data = fuzz_data | st.sampled_from([
        _pa.array([1.0, None, math.nan]), _pa.chunked_array([[1, None], [], [3]]), _pa.array([], type=_pa.float16()),
        _pa.array([True, None]), _pa.array(["s"]), _pa.chunked_array([], type=_pa.float64()),
        _pa.array([1.0, 2.0, 3.0]).slice(1, 1), _pa.array([None, None], type=_pa.int8()),
    ])
except ImportError:  # pragma: no cover
    pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_statistics_never_panic(data: st.DataObject) -> None:
    x = data.draw(fuzz_data, label="data")
    kw: dict[str, Any] = {}
    for key, strat in [
        ("ddof", st.integers(-5, 5) | st.integers() | junk),
        ("axis", st.sampled_from([None, 0, 1, -1, 2, -3, (0, 1), (1, 0), (0, 0), ()]) | junk),
        ("keepdims", st.booleans() | junk),
        ("nan_policy", st.sampled_from(["propagate", "omit", "raise"]) | junk),
        ("threads", st.sampled_from([None, 1, 2, 4]) | junk),
        ("out", st.sampled_from([None, np.zeros(2), np.zeros(3), np.zeros((2, 1)), np.zeros(2, np.int64), bytearray(16)]) | junk),
    ]:
        if data.draw(st.booleans(), label=f"pass {key}"):
            kw[key] = data.draw(strat, label=key)
    for name in STATS:
        args = dict(kw)
        if name == "mean":
            args.pop("ddof", None)
        for ctx in (None, bufsum._force_exact):
            try:
                if ctx is None:
                    getattr(bufsum, name)(x, **args)
                else:
                    with ctx():
                        getattr(bufsum, name)(x, **args)
            except BaseException as e:  # noqa: BLE001 - a PanicException is a BaseException
                if type(e).__name__ == "PanicException":
                    pytest.fail(f"{name}: Rust panic {e!r} for data={x!r} kwargs={args!r}")
                assert isinstance(e, ALLOWED), f"{name}: unexpected {type(e).__name__}: {e}"


# =============================================================================================
# DLPack-only formats and strides (bfloat16, float8, zero and negative strides, byte_offset)


def test_dlpack_bfloat16_float8_and_strides() -> None:
    import struct

    from producers import BFLOAT, F8_E5M2, FLOAT, DLPackProducer

    rng = np.random.default_rng(40)
    src = (rng.standard_normal(3001) * 10.0 ** rng.integers(-30, 30, 3001)).astype(np.float32).tolist()
    tops = [struct.unpack("<I", struct.pack("<f", v))[0] >> 16 for v in src]
    exact = [struct.unpack("<f", struct.pack("<I", t << 16))[0] for t in tops]
    raw = struct.pack(f"<{len(tops)}H", *tops)
    finite = [v for v in exact if math.isfinite(v)]
    assert len(finite) == len(exact)
    for name in STATS:
        assert_same(run(name, DLPackProducer(raw, BFLOAT, 16, [len(exact)])), oracle(name, exact), f"bfloat16 {name}")
    # bfloat16 with NaN: omit drops them, raise counts them
    tops_nan = list(tops)
    for i in (0, 17, 2048, 3000):
        tops_nan[i] = 0x7FC0
    raw_nan = struct.pack(f"<{len(tops)}H", *tops_nan)
    kept = [v for i, v in enumerate(exact) if i not in (0, 17, 2048, 3000)]
    for name in STATS:
        got = run(name, DLPackProducer(raw_nan, BFLOAT, 16, [len(exact)]), nan_policy="omit")
        assert_same(got, oracle(name, kept), f"bfloat16 omit {name}")
        with pytest.raises(ValueError, match=r"\b4\b"):
            getattr(bufsum, name)(DLPackProducer(raw_nan, BFLOAT, 16, [len(exact)]), nan_policy="raise")
    # float8 e5m2: every finite byte
    def e5m2(b: int) -> float:
        sign = -1.0 if b >> 7 else 1.0
        e, m = (b >> 2) & 31, b & 3
        if e == 31:
            return sign * math.inf if m == 0 else math.nan
        return sign * (m / 4 * 2.0**-14 if e == 0 else (1 + m / 4) * 2.0 ** (e - 15))

    bs = [b for b in range(256) if math.isfinite(e5m2(b))]
    v8 = [e5m2(b) for b in bs]
    for name in STATS:
        assert_same(run(name, DLPackProducer(bytes(bs), F8_E5M2, 8, [len(bs)])), oracle(name, v8), f"float8 {name}")
    # strides in elements: reversed through byte_offset, zero stride, odd 2-d strides
    x = np.arange(600, dtype=np.float64) * 1.5 + 1e15
    r = x.tobytes()
    rev = DLPackProducer(r, FLOAT, 64, [600], strides=[-1], byte_offset=599 * 8)
    zero = DLPackProducer(r, FLOAT, 64, [1000], strides=[0], byte_offset=8)
    odd = DLPackProducer(r, FLOAT, 64, [4, 50], strides=[101, 2], byte_offset=3 * 8)
    odd_vals = [x[3 + 101 * i + 2 * j] for i in range(4) for j in range(50)]
    for name in STATS:
        assert_same(run(name, rev), oracle(name, x.tolist()), f"reversed dlpack {name}")
        assert_same(run(name, zero), oracle(name, [x[1]] * 1000), f"zero-stride dlpack {name}")
        assert_same(run(name, odd), oracle(name, odd_vals), f"odd-strided dlpack {name}")
        got = np.asarray(run(name, DLPackProducer(r, FLOAT, 64, [4, 50], strides=[101, 2], byte_offset=3 * 8), axis=1))
        for g, i in zip(got.tolist(), range(4)):
            assert_same(g, oracle(name, odd_vals[50 * i: 50 * i + 50]), f"odd-strided dlpack {name} axis=1 row {i}")


def test_other_buffer_exporters() -> None:
    import mmap

    data = bytes(range(256)) * 3
    vals = list(data)
    m = mmap.mmap(-1, len(data))
    m.write(data)
    be = (ctypes.c_int32.__ctype_be__ * 5)(-7, 2**31 - 1, -(2**31), 0, 12345)  # type: ignore[attr-defined]
    for name in STATS:
        for what, obj in (("bytes", data), ("bytearray", bytearray(data)), ("mmap", m), ("memoryview", memoryview(data))):
            assert_same(run(name, obj), oracle(name, vals), f"{name} of {what}")
        assert_same(run(name, be), oracle(name, [-7, 2**31 - 1, -(2**31), 0, 12345]), f"{name} of big-endian ctypes")
    m.close()
    # a bytearray can be resized after every call, success or error (no leaked export)
    ba = bytearray(b"\x01\x02\x03\x04" * 4)
    for name in STATS:
        getattr(bufsum, name)(ba)
        with pytest.raises(ValueError):
            getattr(bufsum, name)(ba, nan_policy="nope")
        with pytest.raises((ValueError, TypeError)):
            getattr(bufsum, name)(ba, axis=3)
        ba.append(0)
        del ba[-1]


def test_gil_released_during_long_statistics() -> None:
    """Another Python thread runs in the middle of a long call (zero strides: a long call over
    no memory). No speed is compared; the values are checked too."""
    from conftest import gil_released_during

    x = np.broadcast_to(np.float64(1e15 + 0.125), (10_000_000,))
    for name in STATS:
        for kw in ({}, {"nan_policy": "omit"}):
            box: list[Any] = []
            assert gil_released_during(lambda: box.append(getattr(bufsum, name)(x, threads=1, **kw))), (name, kw)
            assert_same(box[0], 1e15 + 0.125 if name == "mean" else 0.0, f"{name}{kw}")


def test_unsupported_arrow_types_are_type_errors() -> None:
    pa = pytest.importorskip("pyarrow")
    for arr in (pa.array(["a", "b"]), pa.array([1, 2], type=pa.timestamp("s")), pa.array([[1.0], [2.0]]),
                pa.array([1, 2], type=pa.decimal128(5, 2)), pa.array(["x", "y", "x"]).dictionary_encode()):
        for name in STATS:
            with pytest.raises(TypeError):
                getattr(bufsum, name)(arr)
