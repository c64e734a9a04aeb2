"""Exactness of the exact path, against independent oracles only.

Every finite double and every integer is a whole multiple of 2^-1074, so the exact total of any
input is the Python int N with total = N * 2^-1074. The oracle here adds those ints (or computes
n * N(x) in closed form for n equal values) and rounds N half-to-even by integer arithmetic
(`round_units`), with +-inf where the rounded value overflows; it is itself checked against
`float(Fraction)`, `math.fsum` and the constants of CPython's tests. Nothing here compares bufsum
with bufsum, except the differential test (certified path == exact path, both also == oracle).

Test material: CPython's `testFsum` (Lib/test/test_math.py) and the cases of R. M. Neal's
`xsum-check.c` (values only; the tests are written here), plus generators aimed at the
internals of a superaccumulator: counts of equal values at and around every power of two from
2^9 to 2^24, in every binade from the smallest subnormal to the largest finite double, with
+, - and alternating signs; Python ints near the limits; merges of a state with itself thousands
of times; pickles of extreme states; cancellation across the whole exponent range; final
roundings that are exact ties or one unit off a tie.

`bufsum._force_exact()` (a private context manager) makes `fsum` skip its certified fast path;
the fsum/axis/Accumulator tests run with and without it (the `path` fixture). Until it exists
the forced variants are skipped, and nothing else is.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
import random
import struct
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bufsum

MAX = sys.float_info.max  # 2^1024 - 2^971
MIN_NORMAL = 2.0**-1022
TINY = 2.0**-1074  # smallest subnormal
MAX_SUBNORMAL = MIN_NORMAL - TINY
INF = math.inf
NAN = math.nan

# Ints of at most this many bits must be accepted exactly by Accumulator.add: the limit the
# binding documents in its OverflowError ("at most 2048 bits"). Beyond it OverflowError is
# allowed (and then nothing may change); a wrong value or a panic never is.
INT_BITS_ACCEPTED = 2048

FORCE_EXACT = getattr(bufsum, "_force_exact", None)
needs_switch = pytest.mark.skipif(FORCE_EXACT is None, reason="bufsum._force_exact() not on this build yet")


# --- the oracle ------------------------------------------------------------------------------


def units(x: float | int) -> int:
    """`x` (a finite float or an int) as an exact integer multiple of 2^-1074."""
    if isinstance(x, int):
        return x << 1074
    p, q = float(x).as_integer_ratio()  # q is a power of two <= 2^1074
    return p * ((1 << 1074) // q)


def round_units(n: int, lsb: int = -1074) -> float:
    """The double nearest n * 2^lsb (lsb <= -1074), ties to even; +-inf when that rounding
    overflows; an exact zero is +0.0."""
    if n == 0:
        return 0.0
    m = abs(n)
    # Keep 53 significant bits, but no bit below 2^-1074 (subnormals).
    shift = max(m.bit_length() - 53, -1074 - lsb, 0)
    q = m >> shift
    if shift:
        r = m - (q << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and q & 1):
            q += 1  # may reach 2^53: still exact as a double
    e = shift + lsb
    if q.bit_length() + e > 1024:
        mag = INF
    else:
        mag = math.ldexp(float(q), e)  # exact: q has at most 54 bits and q * 2^e is in range
    return -mag if n < 0 else mag


def exact_round(values: Iterable[float | int]) -> float:
    """The correctly rounded sum of `values` under IEEE specials: NaN for any NaN or +inf with
    -inf, else +-inf for an infinity, else `round_units` of the exact total."""
    total = 0
    pinf = ninf = nan = False
    for v in values:
        if isinstance(v, float) and not math.isfinite(v):
            nan |= math.isnan(v)
            pinf |= v == INF
            ninf |= v == -INF
        else:
            total += units(v)
    if nan or (pinf and ninf):
        return NAN
    if pinf:
        return INF
    if ninf:
        return -INF
    return round_units(total)


def expected(a: Any) -> float:
    """Oracle for an array: `math.fsum` where it returns, else the exact-int oracle."""
    vals = np.asarray(a, dtype=np.float64).ravel().tolist()
    try:
        return math.fsum(vals)
    except (OverflowError, ValueError):
        return exact_round(vals)


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def same(got: object, want: float) -> bool:
    """Bit-equal floats; NaN equals NaN; an exact zero may be +0.0 or -0.0 (its sign is checked
    against math.fsum by test_exact.py)."""
    if type(got) is not float:
        return False
    if math.isnan(want):
        return math.isnan(got)
    if want == 0.0:
        return got == 0.0
    return bits(got) == bits(want)


def check(got: object, want: float, what: object = "") -> None:
    assert same(got, want), f"{what}: got {got!r} ({_hex(got)}), want {want!r} ({_hex(want)})"


def _hex(x: object) -> str:
    return x.hex() if isinstance(x, float) else type(x).__name__


any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, TINY, -TINY, MAX_SUBNORMAL, MIN_NORMAL, MAX, -MAX, 1.0, 2 - 2.0**-52, 2.0**970, -(2.0**970), INF, -INF]
)
finite_float = st.floats(allow_nan=False, allow_infinity=False)


# --- the two paths ---------------------------------------------------------------------------


@pytest.fixture(params=["auto", "forced-exact"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs the test as is, and inside `bufsum._force_exact()`."""
    if request.param == "auto":
        yield "auto"
        return
    if FORCE_EXACT is None:
        pytest.skip("bufsum._force_exact() not on this build yet")
    with FORCE_EXACT():
        yield "forced-exact"


def acc_of(values: Sequence[float | int] | np.ndarray) -> bufsum.Accumulator:
    """An Accumulator of `values`: one buffer add for an array, else one add per element."""
    acc = bufsum.Accumulator()
    if isinstance(values, np.ndarray):
        acc.add(values)
    else:
        for v in values:
            acc.add(v)
    return acc


def merge_checked(acc: bufsum.Accumulator, other: bufsum.Accumulator) -> bool:
    """`acc.merge(other)`; an OverflowError is accepted only when the count would leave 64 bits
    (the issue allows a count that raises instead of becoming a Python int) and must leave `acc`
    unchanged. Returns whether it merged."""
    before = (acc.value, acc.count)
    want_count = acc.count + other.count
    try:
        acc.merge(other)
    except OverflowError:
        assert want_count >= 2**64, f"OverflowError merging counts {before[1]} + {other.count}"
        assert acc.count == before[1] and same(acc.value, before[0]), "a refused merge changed the state"
        return False
    assert acc.count == want_count, (acc.count, want_count)
    return True


def doubled(acc: bufsum.Accumulator, k: int, itself: bool = False) -> int:
    """Merges `acc` with a copy of itself (or itself) `k` times; returns how many merges took."""
    done = 0
    for _ in range(k):
        done += merge_checked(acc, acc if itself else copy.copy(acc))
    return done


def all_ways(values: Sequence[float], want: float, what: object = "") -> None:
    """fsum of the array (as is, reversed, big-endian, strided), Accumulator by elements and by
    buffer: each must give `want`."""
    a = np.array(values, dtype=np.float64)
    check(bufsum.fsum(a), want, (what, "fsum"))
    check(bufsum.fsum(a[::-1]), want, (what, "fsum reversed"))
    check(bufsum.fsum(a.astype(">f8")), want, (what, "fsum >f8"))
    wide = np.zeros(2 * a.size)
    wide[::2] = a
    check(bufsum.fsum(wide[::2]), want, (what, "fsum strided"))
    check(acc_of(list(values)).value, want, (what, "Accumulator.add(float) each"))
    check(acc_of(a).value, want, (what, "Accumulator.add(buffer)"))


# --- the oracle itself -----------------------------------------------------------------------


def test_oracle_rounding_agrees_with_fraction_and_constants() -> None:
    half_ulp_max = 2**970
    cases = {
        1: TINY,
        2**52 - 1: MAX_SUBNORMAL,
        2**52: MIN_NORMAL,
        units(1.0): 1.0,
        units(1.0) + units(2.0**-53): 1.0,  # tie, even stays
        units(1.0) + units(2.0**-53) + 1: 1.0 + 2.0**-52,  # just above the tie
        units(1.0 + 2.0**-52) + units(2.0**-53): 1.0 + 2.0**-51,  # tie, odd rounds up
        units(MAX): MAX,
        units(MAX) + (half_ulp_max << 1074) - 1: MAX,  # just below the tie at the top
        units(MAX) + (half_ulp_max << 1074): INF,  # tie rounds to even = 2^1024: overflow
        -(units(MAX) + (half_ulp_max << 1074)): -INF,
        2**53 + 1: 2.0**-1021,  # tie at the first binade above the subnormals: even stays
        2**53 + 3: 2.0**-1021 + 2.0**-1072,  # tie, odd rounds up
        0: 0.0,
        (1 << 5000): INF,
    }
    for n, want in cases.items():
        assert bits(round_units(n)) == bits(want), (n, want)
    rng = random.Random(1)
    for _ in range(2000):
        n = rng.getrandbits(rng.randrange(1, 2200)) * rng.choice([1, -1])
        q = Fraction(n, 1 << 1074)
        try:
            ref = float(q)  # CPython's int/int true division rounds correctly, half-even
        except OverflowError:
            ref = INF if n > 0 else -INF
        assert bits(round_units(n)) == bits(ref), n
    for _ in range(2000):  # products: units of 2^-2148
        n = rng.getrandbits(rng.randrange(1, 3300)) * rng.choice([1, -1])
        try:
            ref = float(Fraction(n, 1 << 2148))
        except OverflowError:
            ref = INF if n > 0 else -INF
        assert bits(round_units(n, -2148)) == bits(ref), n
    for _ in range(300):
        vals = [rng.uniform(-1, 1) * 2.0 ** rng.randrange(-1074, 1000) for _ in range(rng.randrange(1, 40))]
        assert bits(exact_round(vals)) == bits(math.fsum(vals)) or math.fsum(vals) == 0.0


def test_oracle_specials() -> None:
    assert math.isnan(exact_round([INF, -INF]))
    assert math.isnan(exact_round([1.0, NAN]))
    assert exact_round([MAX, MAX]) == INF and exact_round([-MAX, -MAX]) == -INF
    assert exact_round([MAX, MAX, -MAX]) == MAX
    assert exact_round([2**1100, -(2**1100), 1.5]) == 1.5


# --- CPython's testFsum vectors ---------------------------------------------------------------


def cpython_vectors() -> list[tuple[str, list[float], float]]:
    out = [
        ("empty", [], 0.0),
        ("zero", [0.0], 0.0),
        ("1e100 chain", [1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50], 1e-100),
        ("2^53-1", [2.0**53, -0.5, -(2.0**-54)], 2.0**53 - 1.0),
        ("2^53+2", [2.0**53, 1.0, 2.0**-100], 2.0**53 + 2.0),
        ("2^53+12", [2.0**53 + 10.0, 1.0, 2.0**-100], 2.0**53 + 12.0),
        ("2^53-3", [2.0**53 - 4.0, 0.5, 2.0**-54], 2.0**53 - 3.0),
        ("harmonic", [1.0 / n for n in range(1, 1001)], float.fromhex("0x1.df11f45f4e61ap+2")),
        ("alternating harmonic", [(-1.0) ** n / n for n in range(1, 1001)], float.fromhex("-0x1.62a2af1bd3624p-1")),
        ("1e16", [1e16, 1.0, 1e-16], 10000000000000002.0),
        ("cancel to zero", [1e16 - 2.0, 1.0 - 2.0**-53, -(1e16 - 2.0), -(1.0 - 2.0**-53)], 0.0),
        (
            "resizing partials",
            [2.0**n - 2.0 ** (n + 50) + 2.0 ** (n + 52) for n in range(-1074, 972, 2)] + [-(2.0**1022)],
            float.fromhex("0x1.5555555555555p+970"),
        ),
    ]
    terms = [1.7**i for i in range(1001)]
    out.append(("telescoping", [terms[i + 1] - terms[i] for i in range(1000)] + [-terms[1000]], -terms[0]))
    return out


@pytest.mark.parametrize("name,vals,want", cpython_vectors(), ids=[c[0] for c in cpython_vectors()])
def test_cpython_fsum_vectors(path: str, name: str, vals: list[float], want: float) -> None:
    assert bits(exact_round(vals)) == bits(want)  # the oracle agrees with CPython's constants
    all_ways(vals, want, name)


def test_cpython_fsum_vector_with_ints(path: str) -> None:
    vals: list[float | int] = [1e100, 1.0, -1e100, 1e-100, 1e50, -1, -1e50]
    check(acc_of(vals).value, 1e-100, "Accumulator with int -1")


@pytest.mark.parametrize("scale", [0, 1, -1, 60, -60, 900, -1000, 1023, -1074])
def test_cpython_vectors_scaled(path: str, scale: int) -> None:
    """The same vectors times 2^scale (terms may overflow or lose bits: the oracle is exact)."""
    for name, vals, _ in cpython_vectors():
        scaled = [scaled_by(v, scale) for v in vals]
        all_ways(scaled, exact_round(scaled), (name, scale))


def scaled_by(v: float, k: int) -> float:
    """v * 2^k, or +-MAX where that overflows (subnormal results lose bits: still valid input)."""
    try:
        return math.ldexp(v, k)
    except OverflowError:
        return math.copysign(MAX, v)


def test_cpython_random_telescoping(path: str) -> None:
    """CPython's randomized check: [7, 1e100, -7, -1e100, -9e-20, 8e-20] * 10 plus 200 terms
    gauss(0, random())**7 - s with s the running sum, shuffled."""
    rng = random.Random(20240607)
    for j in range(120):
        vals = [7.0, 1e100, -7.0, -1e100, -9e-20, 8e-20] * 10
        s = 0.0
        for _ in range(200):
            v = rng.gauss(0, rng.random()) ** 7 - s
            s += v
            vals.append(v)
        rng.shuffle(vals)
        want = exact_round(vals)
        assert bits(want) == bits(math.fsum(vals))
        a = np.array(vals)
        check(bufsum.fsum(a), want, j)
        check(acc_of(a).value, want, j)


def test_cpython_specials(path: str) -> None:
    check(bufsum.fsum(np.array([1.0, INF])), INF)
    check(bufsum.fsum(np.array([NAN, 1.0])), NAN)
    check(bufsum.fsum(np.array([1e308, 1e308])), INF)  # math.fsum raises OverflowError
    check(bufsum.fsum(np.array([INF, -INF])), NAN)  # math.fsum raises ValueError
    check(acc_of([1.0, INF]).value, INF)
    check(acc_of([1e308, 1e308]).value, INF)
    check(acc_of([INF, -INF]).value, NAN)
    acc = bufsum.Accumulator()
    try:
        acc.add(10**1000)  # 3322 bits: beyond the documented limit, OverflowError allowed
    except OverflowError:
        assert acc.count == 0 and acc.value == 0.0
    else:
        check(acc.value, INF, "add(10**1000)")


# --- xsum-check.c vectors ---------------------------------------------------------------------


def p2(k: int) -> float:
    return math.ldexp(1.0, k)


# xsum-check.c's constants, evaluated with the same double operations (pow2_N is 2^-N there).
POW2_52, POW2_128, POW2_256, POW2_1024 = p2(-52), p2(-128), p2(-256), p2(-1024)
XS_LNORMAL = 2 * ((0.5 / POW2_1024) - (0.25 / POW2_1024) * POW2_52)
XS_SNORMAL = 4 * POW2_1024
XS_LDENORM = 4 * POW2_1024 - 4 * POW2_1024 * POW2_52
XS_SDENORM = 4 * POW2_1024 * POW2_52
MANT_1_01 = 2 * ((0.5 / POW2_128) + (0.25 / POW2_128) * POW2_52)
MANT_ALL_ONES = 2 * ((0.5 / POW2_128) - (0.25 / POW2_128) * POW2_52)
assert (XS_LNORMAL, XS_SNORMAL, XS_LDENORM, XS_SDENORM) == (MAX, MIN_NORMAL, MAX_SUBNORMAL, TINY)

XSUM_ONE_TERM = [
    0.0, -0.0, -2.0, 1.0, 0.1, 3.1, 2.3e10, 3.2e-10, 123e123, 54.11e-150, 8191.99999809264955,
    MANT_1_01, MANT_ALL_ONES,
    XS_LNORMAL, XS_SNORMAL, XS_LDENORM, XS_SDENORM,
    1.23e-309, 4.57e-314, 9.7e-322, p2(-1011),
    XS_LDENORM - XS_SDENORM, XS_LDENORM - 2 * XS_SDENORM, 2 * XS_LDENORM, 2 * XS_LDENORM + 2 * XS_SDENORM,
    *[XS_SNORMAL + k * XS_SDENORM for k in (1, 2, 3, 4, 5, 6, 12345, 12345678)],
    *[2 * XS_SNORMAL + k * XS_SDENORM for k in (1, 2, 3, 4, 5, 6, 12345, 12345678)],
]  # fmt: skip

U52 = p2(-52)
XSUM_TWO_TERM: list[tuple[float, float]] = [
    (1.0, 2.0), (0.1, 12.2), (1.0, -0.0), (0.0, -0.0), (-13.1, 0.0), (12.1, -11.3), (11.3, -12.1),
    (1.234567e14, 9.87654321), (1.234567e14, -9.87654321),
    (3.1e200, 1.7e-100), (3.1e200, -1.7e-100), (1.7e-100, 3.1e200), (1.7e-100, -3.1e200),
    (1.7e-100, -3.11e180), (1.9e-90, -3.37e182),
    *[(float(f"-1.9e-{e}"), -3.37e182) for e in (100, 110, 120, 130, 140, 150, 160, 170)],
    *[(-1.9e-170, float(f"-3.37e{e}")) for e in (170, 180, 190, 200, 210, 220)],
    (1.0, U52), (1.0, U52 / 2), (1.0, U52 / 2 + U52 / 4096), (1.0, U52 / 2 + U52 * p2(-40)),
    (1.0, U52 / 2 - U52 / 4096), (1.0 + U52, U52 / 2), (1.0 + U52, U52 / 2 - U52 * U52),
    (POW2_256, MANT_ALL_ONES), (-POW2_256, -MANT_ALL_ONES), (POW2_256, -MANT_ALL_ONES),
    (MAX, 1.0), (MAX, -1.0),
    (0.99999999999999989, 8.6736173798840355e-19), (0.99999999999999989, -8.6736173798840355e-19),
    (TINY, 7.1), (TINY, -7.1), (7.1, TINY), (-7.1, TINY),
    (XS_LDENORM, TINY), (XS_LDENORM, -TINY), (TINY, TINY), (TINY, -TINY),
    (XS_LDENORM, XS_SNORMAL), (XS_SNORMAL, XS_LDENORM),
    (XS_SNORMAL, 123 * TINY), (XS_SNORMAL, 12345678 * TINY), (XS_SNORMAL, -123 * TINY),
    (XS_SNORMAL, -12345678 * TINY),
    (4.57e-314, 9.7e-322), (-4.57e-314, 9.7e-322), (9.7e-322, 4.57e-321), (9.7e-322, -4.57e-321),
    (3.57e-315, 8.7e-321), (-2.57e-315, 7.7e-321), (1.7e-316, 2.57e-320), (6.4e-321, -6.51e-321),
    (2.0, -2.0 * (1 + U52)),
    (MAX, MAX), (MAX, MAX * U52 / 2),
    (INF, 123.0), (-INF, 123.0), (INF, -INF), (NAN, 123.0), (123.0, NAN),
    *[(p2(55) + base, k + d) for d in (0.0, 1e-45, -1e-45) for base in (0.0, 8.0, 16.0, 24.0) for k in range(8)],
]  # fmt: skip
XSUM_FACTORS = [2.0**k for k in range(1, 14)] + [1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625]
XSUM_FACTORS += [-f for f in XSUM_FACTORS]

XSUM_THREE_TERM = [
    (XS_LNORMAL, TINY, -XS_LNORMAL, TINY), (-XS_LNORMAL, TINY, XS_LNORMAL, TINY),
    (TINY, XS_SNORMAL, -TINY, XS_SNORMAL), (12345.6, XS_SNORMAL, -12345.6, XS_SNORMAL),
    (12345.6, -XS_SNORMAL, -12345.6, -XS_SNORMAL), (12345.6, XS_LDENORM, -12345.6, XS_LDENORM),
    (12345.6, -XS_LDENORM, -12345.6, -XS_LDENORM),
    (2.0, -2.0 * (1 + U52), U52 / 8, -2 * U52 + U52 / 8),
    (1.0, U52 / 2, 0.0, 1.0), (1.0, U52 / 2, U52 / 4, 1 + U52),
    (1.0, 0.0, 0.0, 1.0), (-1.0, -0.0, -0.0, -1.0), (0.0, 0.0, 0.0, 0.0), (-0.0, -0.0, -0.0, 0.0),
    (1.0, 2.0, 3.0, 6.0), (12.0, 3.5, 2.0, 17.5),
    (3423.34e12, -93.431, -3432.1e11, 3080129999999906.5),
    (432457232.34, 0.3432445, -3433452433.0, -3000995200.3167553),
]  # fmt: skip

XSUM_TEN_TERM: list[tuple[list[float], float]] = [
    ([MAX] * 6 + [-MAX] * 4, INF),
    ([MAX] * 4 + [0.125, 0.125] + [-MAX] * 4, 0.25),
    ([TINY, 7 * TINY, -3 * TINY, 1234 * TINY, 987654321 * TINY, MIN_NORMAL,
      2 * MIN_NORMAL + 888999 * TINY, -MIN_NORMAL + TINY, -MIN_NORMAL + 3 * TINY, 7 * TINY],
     MIN_NORMAL + 988544571 * TINY),
    ([TINY, 7 * TINY, -3 * TINY, 1234 * TINY, 987654321 * TINY, MIN_NORMAL,
      3 * MIN_NORMAL + 888999 * TINY, -MIN_NORMAL + TINY, -MIN_NORMAL + 3 * TINY, 7 * TINY],
     2 * MIN_NORMAL + 988544571 * TINY),
    ([TINY, 7 * TINY, -3 * TINY, 1234 * TINY, 987654321 * TINY, MIN_NORMAL,
      3 * MIN_NORMAL + 888996 * TINY, -MIN_NORMAL + TINY, -MIN_NORMAL + 3 * TINY, 8 * TINY],
     2 * MIN_NORMAL + 988544569 * TINY),
    ([2.0 * (1 + U52), -2.0, -U52, -U52, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 0.0),
    ([10.0**k for k in range(10)], 1111111111e0),
    ([10.0**k for k in range(8)] + [0.0, 1e8], 111111111e0),
    ([1.234e88, -93.3e-23, 994.33, 1334.3, 457.34, -1.234e88, 93.3e-23, -994.33, -1334.3, -457.34], 0.0),
    ([1.0, -23.0, 456.0, -78910.0, 1112131415.0, -161718192021.0, 22232425262728.0, -2930313233343536.0,
      373839404142434445.0, -46474849505152535455.0], -46103918342424313856.0),
    ([2342423.3423, 34234.450, 945543.4, 34345.34343, 1232.343, 0.00004343, 43423.0, -342344.8343,
      -89544.3435, -34334.3], 2934978.4009734304),
    ([0.9101534, 0.9048397, 0.4036596, 0.1460245, 0.2931254, 0.9647649, 0.1125303, 0.1574193,
      0.6522300, 0.7378597], 5.2826068),
    ([428.366070546, 707.3261930632, 103.29267289, 9040.03475821, 36.2121638, 19.307901408, 1.4810709160,
      8.077159101, 1218.907244150, 778.068267017], 12341.0735011012),
    ([1.1e-322, 5.3443e-321, -9.343e-320, 3.33e-314, 4.41e-322, -8.8e-318, 3.1e-310, 4.1e-300, -4e-300,
      7e-307], 1.0000070031003328e-301),
]  # fmt: skip


def test_xsum_one_term(path: str) -> None:
    for v in XSUM_ONE_TERM:
        for x in (v, -v):
            all_ways([x], x if x != 0 else 0.0, x)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_xsum_one_term_repeated_2_to_23_times(path: str, sign: float, filled: np.ndarray) -> None:
    """xsum's REP1 test: each value added 2^23 times; the answer is v * 2^23 (exact in the oracle,
    +-inf for the largest normal)."""
    n = 1 << 23
    bad = []
    for v in XSUM_ONE_TERM:
        x = sign * v
        a = filled[:n]
        a[:] = x
        want = round_units(n * units(x))
        got = bufsum.fsum(a)
        if not same(got, want):
            bad.append((x, got, want))
    assert not bad, bad


def test_xsum_one_term_repeated_accumulator(filled: np.ndarray) -> None:
    n = 1 << 23
    bad = []
    for v in XSUM_ONE_TERM:
        a = filled[:n]
        a[:] = v
        acc = bufsum.Accumulator()
        acc.add(a)
        want = round_units(n * units(v))
        if not same(acc.value, want) or acc.count != n:
            bad.append((v, acc.value, want, acc.count))
    assert not bad, bad


def test_xsum_two_terms_with_factors(path: str) -> None:
    """Two terms: the answer is their IEEE sum (correctly rounded by definition). xsum scales
    each pair by +-2^k and also buries it between 123.4e200 and -543.2e-200 and their negatives."""
    for x, y in XSUM_TWO_TERM:
        for f in XSUM_FACTORS:
            for u, v in ((f * x, f * y),):
                want = u + v
                if want == 0.0 or not math.isfinite(want):
                    assert same(exact_round([u, v]), want) or want == 0.0
                else:
                    assert bits(exact_round([u, v])) == bits(want)
                check(bufsum.fsum(np.array([u, v])), want, (u, v))
                buried = [123.4e200, -543.2e-200, u, v, -123.4e200, 543.2e-200]
                check(bufsum.fsum(np.array(buried)), want, ("buried", u, v))
                check(acc_of(buried).value, want, ("Accumulator buried", u, v))


def test_xsum_three_terms(path: str) -> None:
    for *vals, want in XSUM_THREE_TERM:
        for s in (1.0, -1.0):
            got_vals = [s * v for v in vals]
            assert same(exact_round(got_vals), s * want)
            all_ways(got_vals, s * want, got_vals)


def test_xsum_ten_terms(path: str) -> None:
    for vals, want in XSUM_TEN_TERM:
        for s in (1.0, -1.0):
            v = [s * x for x in vals]
            assert same(exact_round(v), s * want), (v, want)
            all_ways(v, s * want, v)


def test_xsum_ten_terms_repeated_2_to_13_times(path: str) -> None:
    """xsum's REP10: each ten-term vector repeated 2^13 times (answer * 2^13), added as one
    buffer, as 2^13 buffers, and as two buffers split 9 elements in."""
    reps = 1 << 13
    for vals, want in XSUM_TEN_TERM:
        for s in (1.0, -1.0):
            v = np.array([s * x for x in vals])
            rep = np.tile(v, reps)
            total = round_units(reps * sum(units(float(x)) for x in v))
            check(bufsum.fsum(rep), total, ("fsum", vals[0]))
            one = bufsum.Accumulator()
            one.add(rep)
            two = bufsum.Accumulator()
            two.add(rep[:9])
            two.add(rep[9:])
            many = bufsum.Accumulator()
            for _ in range(reps):
                many.add(v)
            for name, acc in (("one", one), ("split at 9", two), ("2^13 adds", many)):
                check(acc.value, total, (name, vals[0]))
                assert acc.count == 10 * reps


def test_xsum_accumulator_merge_cases(path: str) -> None:
    s = 1234.5
    a, b = acc_of([3.7e20, 888.8, 4.1e20]), acc_of([s, -4.1e20, -3.7e20, -888.8])
    assert merge_checked(a, b)
    check(a.value, s, "case 0")
    # case 1: merge a three-term accumulator 1000 times, add s, then merge its negation 1000 times.
    a, b = bufsum.Accumulator(), acc_of([3.5, 888.75, 4.125])
    for _ in range(1000):
        assert merge_checked(a, b)
    a.add(s)
    b.add(np.array([-4.125, -3.5, -888.75] * 2))
    for _ in range(1000):
        assert merge_checked(a, b)
    check(a.value, s, "case 1")
    assert a.count == 1000 * 3 + 1 + 1000 * 9
    # case 8: merge with itself, then subtract twice the terms.
    a = acc_of([3.7e20, 888.8, 42.1e20, s])
    assert merge_checked(a, a)
    a.add(np.array([-42.1e20 * 2, -3.7e20 * 2, -888.8 * 2, -s]))
    check(a.value, s, "case 8")
    assert a.count == 12


@pytest.mark.parametrize("k,sign", [(1015, 1.0), (1015, -1.0), (2000, 1.0), (2000, -1.0)])
def test_xsum_doubling_to_infinity(path: str, k: int, sign: float) -> None:
    """xsum's cases 2-5: a state doubled (merged with a copy of itself) 1015 or 2000 times. The
    exact total overflows: +-inf (xsum gives NaN after 2000; bufsum's contract is +-inf)."""
    acc = acc_of([sign * 3.5, sign * 888.75, sign * 4.125])
    done = doubled(acc, k)
    check(acc.value, round_units(units(sign * 896.375) << done), done)
    if done == k:
        check(acc.value, sign * INF, k)


@pytest.mark.parametrize("k", [1015, 2000])
def test_xsum_doubling_then_cancel(path: str, k: int) -> None:
    """xsum's cases 6-7: -v and +v each doubled k times, then merged: the exact total is 0. At
    k = 1015 (totals near 2^1025, inside any exact range) it must be 0.0; at k = 2000 the states
    are beyond what an accumulator represents, and NaN (an overflow of both signs) is also
    accepted - a finite non-zero value or an infinity is not."""
    neg, pos = acc_of([-3.5, -888.75, -4.125]), acc_of([3.5, 888.75, 4.125])
    done = doubled(neg, k)
    assert doubled(pos, k) == done
    if not merge_checked(neg, pos):
        return
    if done <= 1015:
        check(neg.value, 0.0, done)
    else:
        assert neg.value == 0.0 or math.isnan(neg.value), neg.value
    assert neg.count == 6 * 2**done


def test_xsum_large_to_small_moves(path: str) -> None:
    """xsum's section of bin moves: 5000 pairs (4567, 10000) then their negatives, then s; 2048
    copies of 2345 around s and 2049 of -2345; both orders."""
    s = 1234.5
    v = [4567.0, 10000.0] * 2500 + [-4567.0, -10000.0] * 2500 + [s]
    all_ways(v, s, "pairs")
    for first, second in ((2345.0, s), (s, 2345.0)):
        v = [2345.0] * 2048 + [first, second] + [-2345.0] * 2049
        all_ways(v, s, ("2048", first))
    all_ways([s, 0.0], s)
    all_ways([s, -0.0], s)
    all_ways([5100.0, s, -5100.0], s)


# --- counts of equal values at and around the flush thresholds ------------------------------


@pytest.fixture(scope="module")
def filled() -> Iterator[np.ndarray]:
    """One 2^24 + 1 element buffer, refilled per case (allocating it per case would cost more
    than the sums)."""
    yield np.empty((1 << 24) + 1)


# Counts at and around every power of two 2^9 .. 2^20, and just past 2^21 .. 2^24 (fewer there
# to keep the file's run time modest: the large ones cost most).
SIZES = sorted({(1 << k) + d for k in range(9, 21) for d in (-1, 0, 1)} | {(1 << k) + 1 for k in range(21, 25)})
SMALL_SIZES = [n for n in SIZES if n <= (1 << 17) + 1]
# Binades from the smallest subnormal to the largest finite double: full 53-bit mantissas near
# the top of the binade (they fill a bin fastest) and powers of two.
MAGNITUDES = {
    "min-subnormal": TINY,
    "max-subnormal": MAX_SUBNORMAL,
    "min-normal": MIN_NORMAL,
    "full-2^-1022": (2 - U52) * MIN_NORMAL,
    "full-2^-1000": (2 - U52) * p2(-1000),
    "one": 1.0,
    "full-one": 2 - U52,
    "full-2^1000": (2 - U52) * p2(1000),
    "2^1023": p2(1023),
    "max": MAX,
}


def fill_pattern(a: np.ndarray, x: float, pattern: str) -> tuple[float, float]:
    """Fills `a` and returns (value at even indices, value at odd indices)."""
    if pattern == "+":
        even = odd = x
    elif pattern == "-":
        even = odd = -x
    elif pattern == "alt":  # +x, then minus the next double below x (same binade unless x = 2^k)
        even, odd = x, -float(np.nextafter(x, 0.0))
    else:  # "far": +x, then minus a full-mantissa value 40 binades away (half the elements are
        # far from each run's top binade, whichever is larger: exponent bins take them)
        even, odd = x, -math.ldexp(2 - U52, math.frexp(x)[1] - 1 + (-40 if x > 1e-290 else 40))
    a[0::2] = even
    a[1::2] = odd
    return even, odd


def pattern_total(n: int, even: float, odd: float) -> int:
    return ((n + 1) // 2) * units(even) + (n // 2) * units(odd)


@pytest.mark.parametrize("pattern", ["+", "-", "alt", "far"])
@pytest.mark.parametrize("mag", list(MAGNITUDES), ids=list(MAGNITUDES))
def test_equal_values_at_every_power_of_two_count(path: str, filled: np.ndarray, mag: str, pattern: str) -> None:
    """n in {2^k - 1, 2^k, 2^k + 1}, k = 9..24, equal values (or two alternating ones) of one
    binade: the exact total is n times the value, rounded once."""
    x = MAGNITUDES[mag]
    even, odd = fill_pattern(filled, x, pattern)
    bad = []
    for n in SIZES if pattern in ("+", "alt") else SMALL_SIZES:  # "-" mirrors "+"; "far" is costlier
        want = round_units(pattern_total(n, even, odd))
        got = bufsum.fsum(filled[:n])
        if not same(got, want):
            bad.append((n, got, want))
    assert not bad, f"{mag} {pattern}: (n, got, want) {bad[:6]} ... {len(bad)} of {len(SIZES)} wrong"


@pytest.mark.parametrize("mag", list(MAGNITUDES), ids=list(MAGNITUDES))
def test_equal_values_zero_stride_and_threads(path: str, mag: str) -> None:
    """The same counts through the gather path (a zero-stride view) and with explicit threads."""
    x = MAGNITUDES[mag]
    bad = []
    for i, n in enumerate(SIZES[::2]):
        want = round_units(n * units(x))
        threads = 1 + 2 * (i % 2)
        got = bufsum.fsum(np.broadcast_to(x, (n,)), threads=threads)
        if not same(got, want):
            bad.append((n, threads, got, want))
    assert not bad, f"{mag}: (n, threads, got, want) {bad[:6]} ... {len(bad)} wrong"


@pytest.mark.parametrize("pattern", ["+", "alt", "far"])
@pytest.mark.parametrize("mag", list(MAGNITUDES), ids=list(MAGNITUDES))
def test_equal_values_accumulator(filled: np.ndarray, mag: str, pattern: str) -> None:
    x = MAGNITUDES[mag]
    even, odd = fill_pattern(filled, x, pattern)
    bad = []
    for n in SIZES[1::3]:
        acc = bufsum.Accumulator()
        acc.add(filled[:n])
        want = round_units(pattern_total(n, even, odd))
        if not same(acc.value, want) or acc.count != n:
            bad.append((n, acc.value, want, acc.count))
    assert not bad, f"{mag} {pattern}: (n, got, want, count) {bad[:6]} ... {len(bad)} wrong"


@pytest.mark.parametrize(
    "dtype,x",
    [
        ("f4", float(np.finfo(np.float32).max)),
        ("f4", float(np.finfo(np.float32).smallest_subnormal)),
        ("f4", float(np.float32(2) - np.float32(2) ** -22)),
        (">f4", float(np.float32(1) - np.float32(2) ** -24)),
        ("f2", 65504.0),
        ("f2", float(np.finfo(np.float16).smallest_subnormal)),
        ("<f2", float(np.float16(2) - np.float16(2) ** -9)),
    ],
)
def test_equal_narrow_floats(path: str, dtype: str, x: float) -> None:
    bad = []
    for n in [2**11 - 1, 2**11, 2**14 + 1, 2**16, 2**20 + 1, 2**24]:
        a = np.full(n, x, dtype=dtype)
        assert float(a[0]) == x
        want = round_units(n * units(x))
        for got in (bufsum.fsum(a), bufsum.fsum(a[::-1])):
            if not same(got, want):
                bad.append((n, got, want))
    assert not bad, bad


def test_many_full_mantissa_binades_at_once(path: str) -> None:
    """Every binade's full-mantissa value repeated 3000 times, interleaved: every bin fills."""
    xs = np.array([(2 - U52) * p2(e) for e in range(-1022, 1024, 1)] + [MAX_SUBNORMAL])
    a = np.tile(xs, 3000)
    want = round_units(3000 * sum(units(float(x)) for x in xs))
    check(bufsum.fsum(a), want)
    check(acc_of(a).value, want)
    b = np.repeat(xs[::-1], 3000)  # the same values, one binade after another
    check(bufsum.fsum(b), want)
    check(acc_of(b).value, want)


# --- cancellation, extreme totals, ties -------------------------------------------------------


def test_issue_reproducers(path: str) -> None:
    check(bufsum.fsum(np.concatenate([[1e300], np.ones(10000), [-1e300]])), 10000.0)
    check(bufsum.fsum(np.full(10000, 1e-300)), round_units(10000 * units(1e-300)))
    check(bufsum.fsum(np.full(2**23, MIN_NORMAL)), p2(-999))
    a = bufsum.Accumulator()
    a.add(np.ones(4096))
    check(a.value, 4096.0, "Accumulator ones(4096)")
    x = np.random.default_rng(0).random(100_000)
    a = bufsum.Accumulator()
    a.add(x)
    check(a.value, math.fsum(x.tolist()), "Accumulator random(100_000)")
    check(bufsum.fsum(x), math.fsum(x.tolist()), "fsum random(100_000)")


@pytest.mark.parametrize("big", [1e300, MAX, 1e100, 2.0**600, 1e-200])
def test_cancellation_across_the_range(path: str, big: float) -> None:
    for ones in (np.ones(10000), np.full(10001, 2 - U52), np.full(5000, TINY)):
        a = np.concatenate([[big], ones, [-big]])
        want = round_units(units(float(ones[0])) * ones.size)
        check(bufsum.fsum(a), want, (big, ones[0]))
        check(acc_of(a).value, want, (big, ones[0], "Accumulator"))
        b = np.concatenate([[big, -big] * 50, ones, [-big, big] * 50])
        check(bufsum.fsum(b), want, (big, ones[0], "pairs"))


def test_cancelling_pairs_in_every_binade(path: str) -> None:
    rng = np.random.default_rng(5)
    xs = (1 + rng.random(2046)) * 2.0 ** np.arange(-1022, 1024)
    residue = [3.0 * TINY, 1.0, 1e-300]
    a = np.concatenate([xs, residue, -xs[::-1]])
    want = exact_round(residue)
    check(bufsum.fsum(a), want)
    check(bufsum.fsum(a[rng.permutation(a.size)]), want)
    check(acc_of(a).value, want)


@pytest.mark.parametrize("seed", range(3))
def test_totals_outside_the_certified_range(path: str, seed: int) -> None:
    """Exact totals far below 1e-290 or above 1e300, where the certificate declines."""
    rng = np.random.default_rng(seed)
    n = 50_000
    for scale in (1e-310, 1e-300, 1e-295, 2.0**-1070, 1e295, 1e300, 1e303):
        a = rng.standard_normal(n) * scale
        a = np.concatenate([a, np.abs(a[:1000])])
        check(bufsum.fsum(a), expected(a), scale)
    big = rng.random(n) * 1e304
    check(bufsum.fsum(big), exact_round(big.tolist()), "rounds to inf")  # math.fsum raises
    check(bufsum.fsum(-big), -exact_round(big.tolist()), "rounds to -inf")


def ill_conditioned(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n) * 10.0 ** rng.integers(-300, 300, n)
    return np.concatenate([a, -a[: n // 2], rng.standard_normal(10) * 10.0 ** rng.integers(-300, 300, 10)])[
        rng.permutation(n + 10)
    ]


@pytest.mark.parametrize("n", [1000, 100_000, 1_000_000])
def test_ill_conditioned(path: str, n: int) -> None:
    a = ill_conditioned(n, n)
    want = expected(a)
    check(bufsum.fsum(a), want)
    check(bufsum.fsum(a, threads=2), want)
    check(acc_of(a).value, want)


def tie_cases() -> list[tuple[str, list[float]]]:
    u = p2(-53)
    below = [-TINY]
    cases = [
        ("1 + half ulp (tie, even)", [1.0, u]),
        ("1 + half ulp + tiny", [1.0, u, TINY]),
        ("1 + half ulp - tiny", [1.0, u, -TINY]),
        ("odd + half ulp (tie, up)", [1.0 + 2 * u, u]),
        ("odd + half ulp - tiny", [1.0 + 2 * u, u, -TINY]),
        ("2^53 + 1", [p2(53), 1.0]),
        ("2^53 + 3", [p2(53), 3.0]),
        ("2^53 + 1 + 2^-1074", [p2(53), 1.0, TINY]),
        ("max + half ulp (tie to 2^1024: inf)", [MAX, p2(970)]),
        ("max + half ulp - tiny", [MAX, p2(970)] + below),
        ("max + two quarter ulps", [MAX, p2(969), p2(969)]),
        ("max + quarter ulps - tiny", [MAX, p2(969), p2(969)] + below),
        ("max twice minus max", [MAX, MAX, -MAX]),
        ("-max - half ulp", [-MAX, -p2(970)]),
        ("-max - half ulp + tiny", [-MAX, -p2(970), TINY]),
        ("2^-1021 + 2^-1074 (tie at the first normal binade)", [MIN_NORMAL, MIN_NORMAL, TINY]),
        ("2^-1021 + 3*2^-1074 (tie, up)", [MIN_NORMAL, MIN_NORMAL, 3 * TINY]),
        ("subnormals to the normal boundary", [MAX_SUBNORMAL, TINY]),
        ("subnormals just past the boundary", [MAX_SUBNORMAL, MAX_SUBNORMAL, 3 * TINY]),
    ]
    # Ties buried under a pair that cancels (the certificate sees a large condition number).
    cases += [(name + " buried", [1e300, *v, -1e300]) for name, v in cases[:8]]
    # Ties near the top built from many equal values: n * (2^1023 + k ulps) around 2^1024.
    return cases


@pytest.mark.parametrize("name,vals", tie_cases(), ids=[c[0] for c in tie_cases()])
def test_ties_and_near_ties(path: str, name: str, vals: list[float]) -> None:
    want = exact_round(vals)
    all_ways(vals, want, name)
    with_zeros = [0.0] * 5000 + vals + [-0.0] * 5000  # same total, past one bin chunk
    all_ways(with_zeros, want, (name, "padded"))


def test_tie_at_overflow_from_many_values(path: str) -> None:
    """n equal values plus one correction whose exact sum is MAX + half an ulp (the tie between
    MAX and 2^1024, rounding to inf), or one unit below it (MAX) or above it (inf)."""
    top = units(MAX) + (2**970 << 1074)
    for n in (2, 3, 2**11 + 1, 2**13, 2**16 + 1):
        x = round_units(top // n)
        corr_units = top - n * units(x)
        corr = round_units(corr_units)
        assert units(corr) == corr_units
        for tail, want in (([], INF), ([TINY], INF), ([-TINY], MAX)):
            assert same(round_units(top + sum(units(t) for t in tail)), want)
            for sign in (1.0, -1.0):
                a = sign * np.concatenate([np.full(n, x), [corr], tail])
                check(bufsum.fsum(a), sign * want, (n, tail, sign))
                check(acc_of(a).value, sign * want, (n, tail, sign, "Accumulator"))


def half_ulp(x: float) -> float:
    return (math.nextafter(abs(x), INF) - abs(x)) / 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.floats(1.0, 2.0, exclude_max=True),
    st.integers(-1000, 1000),
    st.sampled_from([0.0, TINY, -TINY, p2(-600), -p2(-600), p2(-200), -p2(-200)]),
    st.integers(300, 5000),
    st.integers(-250, 250),
    st.integers(0, 2**32 - 1),
)
def test_hypothesis_near_ties_behind_noise(
    path: str, mant: float, exp: int, nudge: float, n: int, spread: int, seed: int
) -> None:
    """Long inputs (past the certificate's minimum length) whose noise cancels exactly and whose
    exact total is a rounding tie, or the tie nudged by a tiny amount: the certified pass sees
    rounding errors in its compensation, and must decline rather than guess."""
    base = math.ldexp(mant, exp)
    h = half_ulp(base)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(n) * 10.0 ** rng.integers(min(0, spread), max(0, spread) + 1, n)
    a = np.concatenate([noise, -noise, [base, h, nudge]])
    a = a[rng.permutation(a.size)]
    want = round_units(units(base) + units(h) + units(nudge))
    check(bufsum.fsum(a), want, (base, nudge))
    check(bufsum.fsum(-a), -want, (base, nudge, "negated"))


def window_edge_runs(top_exp: int, seed: int, runs: int = 24, run: int = 2048) -> np.ndarray:
    """Runs of `run` elements, each with one element at the run's top binade and the rest at
    0, 30, 31, 32, 33 or 60 binades below it (the edge of a 31-binade fixed-point window and just
    past it), random signs and mantissas, and a share of far-below elements that changes from
    run to run (0 %, 20 %, 30 %, 100 %: a front end that picks its route per run from the
    previous run's spread switches back and forth)."""
    rng = np.random.default_rng(seed)
    out = []
    for r in range(runs):
        e_top = max(min(top_exp - (r % 3), 1023), -1074)
        share = [0.0, 0.2, 0.3, 1.0][r % 4]
        far = rng.random(run) < share
        below = np.where(far, rng.choice([32, 33, 60, 200], run), rng.choice([0, 30, 31], run))
        exps = np.maximum(e_top - below, -1074)
        mant = 1 + rng.random(run) * (1 - 2.0**-52)
        vals = np.ldexp(mant, exps) * rng.choice([-1.0, 1.0], run)
        vals[rng.integers(run)] = np.ldexp(2 - 2.0**-52, e_top)
        out.append(vals)
    return np.concatenate(out)


@pytest.mark.parametrize("g", [MAX, 2 - U52, (2 - U52) * p2(-990), MIN_NORMAL * p2(31), p2(-1043)])
def test_window_floor(path: str, g: float) -> None:
    """Every 1024th element a giant g (alternating signs), all others g * 2^-31 exactly: the
    most a 31-binade fixed-point window can be asked to carry per element, for 2^20 elements."""
    x = g * p2(-31)
    assert units(x) * 2**31 == units(g)
    n = 2**20 + 3
    a = np.full(n, x)
    giants = np.arange(0, n, 1024)
    a[giants] = np.where(np.arange(giants.size) % 2 == 0, g, -g)
    k = giants.size
    total = (n - k) * units(x) + (k % 2) * units(g)
    for sign in (1.0, -1.0):
        want = round_units(int(sign) * total)
        check(bufsum.fsum(sign * a), want, (g, sign))
        check(acc_of(sign * a).value, want, (g, sign, "Accumulator"))


def test_ints_just_past_the_digit_window_cancel_back() -> None:
    """Sums that cross 2^2048 and come back: the part beyond a fixed-point window must return
    exactly (a carry of one against digits of the other sign, and the like)."""
    seqs: list[list[int | float]] = [
        [2**2047, 2**2047, -(2**2047), -(2**2047) + 2],
        [2**2047, 2**2047, -(2**2047), -(2**2047), 1.5],
        [2**2048 - 1, 1, -(2**2047), -(2**2047), 0.25],
        [-(2**2047), -(2**2047), 2**2047, 2**2047 - 3, 0.5],
        [2**2048, -(2**2048) + 1, -1.0],
        [2**2049 + 5, -(2**2048), -(2**2048), -5, 1e-300],
        [2**1024 * (2**1023), -(2**2047) + 2**971, 2**1024 - 2**971 - 2**1024],
    ]
    for vals in seqs:
        acc = bufsum.Accumulator()
        added = [v for v in vals if isinstance(v, float) or add_int_checked(acc, v)]
        for v in added:
            if isinstance(v, float):
                acc.add(v)
        if len(added) == len(vals):
            check(acc.value, round_units(sum(units(v) for v in vals)), vals)
        # the same through a merge of two halves and a pickle
        a, b = bufsum.Accumulator(), bufsum.Accumulator()
        for i, v in enumerate(added):
            try:
                (a if i % 2 else b).add(v)
            except OverflowError:
                pass
        a = pickle.loads(pickle.dumps(a))
        a.merge(b)
        if len(added) == len(vals):
            check(a.value, round_units(sum(units(v) for v in vals)), (vals, "halves"))


@pytest.mark.parametrize("top_exp", [1023, 1000, 100, 0, -900, -1000, -1022, -1040, -1070])
def test_window_edges_and_route_switching(path: str, top_exp: int) -> None:
    a = window_edge_runs(top_exp, seed=top_exp & 0xFFFF, runs=16)
    total = sum(map(units, a.tolist()))
    want = round_units(total)
    check(bufsum.fsum(a), want, top_exp)
    check(bufsum.fsum(a[::-1]), want, (top_exp, "reversed"))
    check(bufsum.fsum(a[1:]), round_units(total - units(float(a[0]))), (top_exp, "offset by one"))
    check(acc_of(a).value, want, (top_exp, "Accumulator"))
    check(bufsum.fsum(a, threads=3), want, (top_exp, "threads=3"))


# --- axis reductions ---------------------------------------------------------------------------


def adversarial_columns(rows: int) -> tuple[np.ndarray, list[float]]:
    rng = np.random.default_rng(3)
    cols = [
        np.full(rows, 2 - U52),
        np.full(rows, TINY),
        np.full(rows, (2 - U52) * p2(1000)),
        np.full(rows, MAX),
        np.where(np.arange(rows) % 2 == 0, MAX_SUBNORMAL, -MIN_NORMAL),
        np.concatenate([[1e300], np.ones(rows - 2), [-1e300]]),
        rng.random(rows),
        ill_conditioned(rows - 10, 9),
    ]
    a = np.stack(cols, axis=1)
    wants = [exact_round(c.tolist()) for c in cols]
    return a, wants


@pytest.mark.parametrize("rows", [2**13 + 1, 2**16])
def test_axis_entries_exact(path: str, rows: int) -> None:
    a, wants = adversarial_columns(rows)
    for arr, axis in ((a, 0), (np.asfortranarray(a), 0), (np.ascontiguousarray(a.T), 1), (a.T, -1)):
        got = np.asarray(bufsum.fsum(arr, axis=axis))
        assert got.shape == (len(wants),)
        for j, want in enumerate(wants):
            check(float(got[j]), want, (rows, axis, j))
    out = np.empty((1, len(wants)))
    bufsum.fsum(a.astype(">f8"), axis=0, out=out, keepdims=True)
    for j, want in enumerate(wants):
        check(float(out[0, j]), want, ("out", j))


# --- Accumulator: Python ints, merges, pickles, counts ----------------------------------------


def add_int_checked(acc: bufsum.Accumulator, v: int) -> bool:
    """Adds `v`; OverflowError is accepted only beyond the documented size, and must leave the
    accumulator unchanged. Returns whether it was added."""
    before = (acc.value, acc.count)
    try:
        acc.add(v)
    except OverflowError:
        assert abs(v).bit_length() > INT_BITS_ACCEPTED, f"OverflowError for an int of {abs(v).bit_length()} bits"
        after = (acc.value, acc.count)
        assert after[1] == before[1] and same(after[0], before[0]), "a refused add changed the state"
        return False
    return True


BIG_INTS = [
    2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**127 - 1, 2**127, 2**128, 2**200 + 1,
    2**1023, 2**1024 - 2**971, 2**1024 - 2**970 - 1, 2**1024 - 2**970, 2**1024,
    2**1101, 2**1102, 2**1103 + 12345, 2**1500, 2**2000, 2**2047, 2**2048 - 1,
    2**2048, 2**5000, 10**1000, 3**4000,
]  # fmt: skip


@pytest.mark.parametrize("v", BIG_INTS + [-v for v in BIG_INTS], ids=lambda v: f"{'-' if v < 0 else ''}2^{math.log2(abs(v)):.2f}")
def test_int_alone_and_cancelled(v: int) -> None:
    acc = bufsum.Accumulator()
    if not add_int_checked(acc, v):
        return
    check(acc.value, round_units(units(v)), "alone")
    assert acc.count == 1
    acc.add(1.5)
    check(acc.value, round_units(units(v) + units(1.5)), "plus 1.5")
    acc.add(-v)
    check(acc.value, 1.5, "after -v: exact 1.5")
    acc.add(v)
    acc.add(v)
    check(acc.value, round_units(2 * units(v) + units(1.5)), "plus 2v")
    assert acc.count == 5


def test_int_pairs_from_the_issue() -> None:
    a = bufsum.Accumulator()
    a.add(2**1101)
    a.add(2**1101)
    check(a.value, INF, "2^1101 twice")
    a.add(-(2**1102))
    check(a.value, 0.0, "then -2^1102")
    a.add(-(2**1101))
    check(a.value, -INF, "then -2^1101")
    b = bufsum.Accumulator()
    b.add(2**2000)
    b.add(1.5)
    b.add(-(2**2000))
    check(b.value, 1.5, "2^2000 + 1.5 - 2^2000")
    c = bufsum.Accumulator()
    c.add(2**1024 - 2**970)  # tie between MAX and 2^1024: rounds to inf
    check(c.value, INF)
    c.add(-1)
    check(c.value, MAX)
    c.add(np.array([TINY]))
    c.add(np.array([TINY]))
    check(c.value, MAX, "still below the tie")
    c.add(1)
    check(c.value, INF, "above the tie")


def test_ints_repeated_and_mixed_with_floats() -> None:
    rng = random.Random(7)
    for _ in range(40):
        vals: list[float | int] = []
        for _ in range(rng.randrange(1, 60)):
            kind = rng.random()
            if kind < 0.4:
                vals.append(rng.choice([1, -1]) * rng.getrandbits(rng.randrange(1, INT_BITS_ACCEPTED + 1)))
            elif kind < 0.8:
                vals.append(rng.uniform(-2, 2) * 2.0 ** rng.randrange(-1074, 1024))
            else:
                vals.append(rng.choice([MAX, -MAX, TINY, -TINY, 2**1100, -(2**1100)]))
        total = sum(units(v) for v in vals)
        acc = bufsum.Accumulator()
        for v in vals:
            acc.add(v)
        check(acc.value, round_units(total), vals[:4])
        # and cancel all the ints back out: what is left is the floats' exact sum
        for v in vals:
            if isinstance(v, int):
                acc.add(-v)
        check(acc.value, exact_round([v for v in vals if isinstance(v, float)]), "ints cancelled")
    acc = bufsum.Accumulator()
    for _ in range(20000):
        acc.add(2**127 - 1)
    check(acc.value, round_units(20000 * units(2**127 - 1)))
    assert acc.count == 20000


@pytest.mark.parametrize("k", [1, 32, 63, 64, 65, 100, 200, 1000, 1014, 1015, 1016, 1100, 3000])
def test_merge_with_copy_doublings(k: int) -> None:
    """The issue's example: [3.5, 888.75, 4.125] merged with a copy of itself k times: value is
    the exact 896.375 * 2^k rounded (inf once out of range), count is 3 * 2^k exactly (or an
    OverflowError from the merge whose count would leave 64 bits, the state unchanged)."""
    acc = acc_of(np.array([3.5, 888.75, 4.125]))
    done = doubled(acc, k)
    assert acc.count == 3 * 2**done
    check(acc.value, round_units(units(896.375) << done), done)


@pytest.mark.parametrize("k", [64, 70, 1100, 3000])
def test_merge_with_itself(k: int) -> None:
    acc = acc_of([-1.25, 3.0, TINY])
    done = doubled(acc, k, itself=True)
    assert acc.count == 3 * 2**done
    check(acc.value, round_units((units(-1.25) + units(3.0) + units(TINY)) << done), done)


def test_merge_doubling_of_tiny_and_huge_states() -> None:
    tiny = acc_of([TINY])
    done = doubled(tiny, 60)
    check(tiny.value, p2(-1074 + done))
    huge = acc_of([2**2000])
    done = doubled(huge, 100)
    check(huge.value, INF)
    neg = acc_of([-MAX])
    done = doubled(neg, 70)
    check(neg.value, round_units(units(-MAX) << done))
    check(neg.value, -INF)


def extreme_states() -> dict[str, bufsum.Accumulator]:
    states: dict[str, bufsum.Accumulator] = {}
    states["empty"] = bufsum.Accumulator()
    states["tiny"] = acc_of([TINY, TINY, -TINY * 3])
    states["max-plus-half-ulp-minus-tiny"] = acc_of([MAX, p2(970), -TINY])
    states["int 2^2000 + 1.5"] = acc_of([2**2000, 1.5])
    states["+inf"] = acc_of([1.0, INF])
    states["-inf"] = acc_of([-INF, 1.0])
    states["nan"] = acc_of([INF, -INF])
    states["nan2"] = acc_of([NAN])
    d = acc_of(np.array([3.5, 888.75, 4.125]))
    doubled(d, 64)
    states["doubled 64"] = d
    e = acc_of(np.array([-3.5, -888.75, -4.125]))
    doubled(e, 1015)
    states["doubled 1015 (exact, rounds to -inf)"] = e
    f = acc_of([5e-324])
    doubled(f, 3000)
    states["doubled 3000"] = f
    g = bufsum.Accumulator()
    g.add(np.random.default_rng(0).random(100_000))
    states["random"] = g
    return states


def v1_state(n: int) -> bytes:
    """An Accumulator state as bufsum 0.1.0 pickled it (version 1): flags 0, then 68 little-endian
    i64 digits of 32 bits from 2^-1074, the interior in 0..2^32, the top digit signed."""
    digits = [(n >> (32 * i)) & 0xFFFF_FFFF for i in range(67)] + [n >> (32 * 67)]
    return bytes([1, 0]) + b"".join(d.to_bytes(8, "little", signed=True) for d in digits)


def test_version_1_pickles_still_load_exactly() -> None:
    rng = random.Random(3)
    values = [0, 1, -1, units(1.5), -units(1.5), units(MAX), -units(MAX), units(MAX) + (2**970 << 1074) - 1]
    values += [rng.choice([1, -1]) * rng.getrandbits(rng.randrange(1, 2160)) for _ in range(200)]
    for n in values:
        acc = bufsum._restore_accumulator(v1_state(n), 7)
        check(acc.value, round_units(n), n)
        assert acc.count == 7
        again = pickle.loads(pickle.dumps(acc))
        check(again.value, round_units(n), (n, "re-pickled"))
        again.add(-round_units(n) if math.isfinite(round_units(n)) else 0.0)
        check(again.value, round_units(n - units(round_units(n))) if math.isfinite(round_units(n)) else round_units(n))


def test_pickle_and_copy_of_extreme_states() -> None:
    for name, acc in extreme_states().items():
        for clone in (pickle.loads(pickle.dumps(acc)), copy.copy(acc), copy.deepcopy(acc),
                      pickle.loads(pickle.dumps(pickle.loads(pickle.dumps(acc))))):
            assert clone.count == acc.count, name
            assert same(clone.value, acc.value), (name, clone.value, acc.value)
            # the clone carries the exact state, not only its rounding: both take the same add
            for extra in (1.0, -1.0, 2**1000):
                a2, c2 = copy.copy(acc), copy.copy(clone)
                a2.add(extra)
                c2.add(extra)
                assert same(c2.value, a2.value), (name, extra)


def test_pickled_state_keeps_exactness() -> None:
    acc = acc_of([2**2000, 1.5])
    back = pickle.loads(pickle.dumps(acc))
    back.add(-(2**2000))
    check(back.value, 1.5)
    e = acc_of(np.array([-3.5, -888.75, -4.125]))
    p = acc_of(np.array([3.5, 888.75, 4.125, 0.25]))
    done = doubled(e, 1015)
    assert doubled(p, 1015) == done
    e2 = pickle.loads(pickle.dumps(e))
    if merge_checked(e2, pickle.loads(pickle.dumps(p))):
        check(e2.value, round_units(units(0.25) << done))


def test_merge_order_and_chunking_never_matter(path: str) -> None:
    rng = np.random.default_rng(11)
    a = np.concatenate([ill_conditioned(30_000, 1), np.full(20_000, 2 - U52), np.full(10_000, TINY)])
    a = a[rng.permutation(a.size)]
    want = expected(a)
    for sizes in ([1], [7, 2047, 2048, 2049], [16384, 16385], [a.size]):
        acc = bufsum.Accumulator()
        i = 0
        j = 0
        while i < a.size:
            n = sizes[j % len(sizes)]
            acc.add(a[i : i + n] if n > 1 else float(a[i]))
            i += n
            j += 1
            if sizes == [1] and i >= 3000:
                acc.add(a[i:])
                break
        check(acc.value, want, sizes)
        assert acc.count == a.size
    parts = [acc_of(c) for c in np.array_split(a, 37)]
    for order in (range(37), reversed(range(37)), rng.permutation(37)):
        total = bufsum.Accumulator()
        for i in order:
            total.merge(parts[i])
        check(total.value, want, "merge order")
    # a tree of merges
    level = [copy.copy(p) for p in parts]
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level) - 1, 2):
            level[i].merge(level[i + 1])
            nxt.append(level[i])
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    check(level[0].value, want, "tree")
    assert level[0].count == a.size


def test_integer_and_narrow_buffers_in_the_accumulator() -> None:
    """Integer buffers (exact ints) and float32/float16 buffers mixed with floats and ints."""
    n = 2**20 + 1
    parts: list[np.ndarray] = [
        np.full(n, 2**63 - 1, dtype=np.int64),
        np.full(n, -(2**63), dtype=">i8"),
        np.full(n, 2**64 - 1, dtype=np.uint64),
        np.full(n, np.finfo(np.float32).max, dtype=np.float32),
        np.full(n, np.finfo(np.float16).smallest_subnormal, dtype=np.float16),
        np.full(n, True),
    ]
    total = 0
    acc = bufsum.Accumulator()
    for p in parts:
        acc.add(p)
        total += n * units(p[0].item())
        check(acc.value, round_units(total), p.dtype)
        check(bufsum.fsum(p), round_units(n * units(p[0].item())), ("fsum", p.dtype))
    acc.add(-(2**1000))
    acc.add(2.0**1000)
    check(acc.value, round_units(total))
    assert acc.count == 6 * n + 2


# --- no state between calls -------------------------------------------------------------------


def _probe_inputs() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(13)
    return [
        ("wide exponents", rng.standard_normal(40_000) * 10.0 ** rng.integers(-300, 300, 40_000)),
        ("narrow full mantissas, tiny total", np.full(100_003, (2 - U52) * p2(-1000))),
        ("ill-conditioned", ill_conditioned(30_000, 3)),
        ("tiny", rng.standard_normal(20_000) * 1e-310),
        ("narrow 1..2", 1 + rng.random(70_001)),
        ("huge total", rng.random(30_000) * 1e303),
    ]


PROBE_SCRIPT = """
import sys, numpy as np, bufsum
sys.path.insert(0, {tests!r})
from test_exactness import _probe_inputs
for name, a in _probe_inputs():
    print(float.hex(bufsum.fsum(a)))
"""


def test_no_state_between_calls(path: str) -> None:
    """Interleaves differently shaped inputs on one thread: each result must equal the oracle
    and the bits a fresh interpreter gives for that input alone."""
    inputs = _probe_inputs()
    wants = [expected(a) for _, a in inputs]
    order = [0, 1, 2, 1, 3, 1, 4, 1, 5, 1, 0, 2, 5, 3, 4, 0, 1]
    seen: dict[int, set[int]] = {}
    for step, i in enumerate(order):
        # threads=2 also leaves per-thread state on the pool's workers for the next call
        got = bufsum.fsum(inputs[i][1], threads=1 + step % 2)
        check(got, wants[i], (inputs[i][0], "after", seen.keys()))
        seen.setdefault(i, set()).add(bits(got))
    assert all(len(s) == 1 for s in seen.values())
    if path == "auto":
        out = subprocess.run(
            [sys.executable, "-c", PROBE_SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)))],
            capture_output=True, text=True, check=True, timeout=300,
        ).stdout.split()
        for (name, _), h, want in zip(inputs, out, wants):
            assert same(float.fromhex(h), want), (name, "fresh interpreter")


# --- dask --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,chunks",
    [
        (lambda: np.ones(4096 * 9), 4096 * 9),
        (lambda: np.ones(4096 * 9), 4096),
        (lambda: np.random.default_rng(0).random(100_000), 100_000),
        (lambda: np.random.default_rng(0).random(100_000), 33_333),
        (lambda: np.random.default_rng(0).random(100_000), 4096),
        (lambda: np.full(2**17 + 1, 2 - U52), 2**16),
        (lambda: np.full(50_000, 1e-300), 7777),
        (lambda: np.concatenate([[1e300], np.ones(10_000), [-1e300]]), 2500),
        (lambda: ill_conditioned(50_000, 4), 5000),
    ],
)
def test_dask_fsum_against_the_oracle(make: Any, chunks: int) -> None:
    da = pytest.importorskip("dask.array")
    import bufsum.dask

    a = make()
    x = da.from_array(a, chunks=chunks)
    got = bufsum.dask.fsum(x).compute(scheduler="synchronous")
    check(got, expected(a), chunks)


def test_dask_fsum_2d_extreme() -> None:
    da = pytest.importorskip("dask.array")
    import bufsum.dask

    a, _ = adversarial_columns(2**13 + 1)
    x = da.from_array(a, chunks=(1000, 3))
    check(bufsum.dask.fsum(x).compute(scheduler="synchronous"), expected(a))


# --- the certified path against the exact path -------------------------------------------------


def differential_inputs() -> Iterator[tuple[str, Any]]:
    rng = np.random.default_rng(21)
    for n in (0, 1, 2, 3, 15, 16, 17, 100, 511, 2047, 2048, 2049, 16384, 16385, 100_000, 1_000_003):
        yield f"normal {n}", rng.standard_normal(n)
    for n in (1000, 100_000):
        yield f"uniform {n}", rng.random(n)
        yield f"normal*1e10+1e5 {n}", rng.standard_normal(n) * 1e10 + 1e5
        yield f"lognormal exponents {n}", rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
        yield f"float32 {n}", rng.standard_normal(n).astype(np.float32)
        yield f"float16 {n}", rng.standard_normal(n).astype(np.float16)
        yield f">f8 {n}", rng.standard_normal(n).astype(">f8")
        yield f">f4 {n}", rng.standard_normal(n).astype(">f4")
        yield f"strided {n}", rng.standard_normal(3 * n)[::3]
        yield f"reversed {n}", rng.standard_normal(n)[::-1]
        yield f"fortran {n}", np.asfortranarray(rng.standard_normal((n // 100, 100)))
        yield f"near cancellation {n}", np.concatenate([rng.standard_normal(n), -rng.standard_normal(n)])
    base = rng.standard_normal(50_000)
    yield "ties-ish", np.concatenate([base, -base, [1.0, p2(-53)]])


@needs_switch
def test_certified_equals_exact_bitwise() -> None:
    assert FORCE_EXACT is not None
    bad = []
    for name, a in differential_inputs():
        auto = bufsum.fsum(a)
        with FORCE_EXACT():
            forced = bufsum.fsum(a)
            forced_t3 = bufsum.fsum(a, threads=3)
        want = expected(a)
        if not (same(auto, want) and same(forced, want) and same(forced_t3, want) and bits(auto) == bits(forced)):
            bad.append((name, auto, forced, forced_t3, want))
    assert not bad, bad


@needs_switch
def test_force_exact_is_a_reentrant_context_manager() -> None:
    assert FORCE_EXACT is not None
    a = np.full(10_000, 0.1)
    want = expected(a)
    with FORCE_EXACT():
        with FORCE_EXACT():
            check(bufsum.fsum(a), want)
        check(bufsum.fsum(a), want)
    with pytest.raises(ZeroDivisionError):
        with FORCE_EXACT():
            1 / 0  # noqa: B018
    check(bufsum.fsum(a), want)


@needs_switch
def test_certified_equals_exact_on_axis() -> None:
    assert FORCE_EXACT is not None
    a = np.random.default_rng(8).standard_normal((300, 257)) * 10.0 ** np.random.default_rng(9).integers(-5, 5, (300, 257))
    for axis in (0, 1, (0, 1)):
        auto = np.asarray(bufsum.fsum(a, axis=axis))
        with FORCE_EXACT():
            forced = np.asarray(bufsum.fsum(a, axis=axis))
        assert auto.tobytes() == forced.tobytes(), axis


def test_complex_parts_each_exact(path: str) -> None:
    n = 2**14 + 1
    re = np.concatenate([[1e300], np.full(n, 2 - U52), [-1e300]])
    im = np.concatenate([[MAX], np.full(n, TINY), [-MAX]])
    z = re + 1j * im
    want = complex(round_units(n * units(2 - U52)), round_units(n * units(TINY)))
    for data in (z, z.astype(">c16"), np.repeat(z, 2)[::2], z[::-1]):
        got = bufsum.fsum(data)
        assert type(got) is complex
        check(got.real, want.real, "real")
        check(got.imag, want.imag, "imag")


def _omit_supported(fn: Any, *args: Any) -> bool:
    try:
        fn(*args, nan_policy="omit")
    except (TypeError, ValueError) as e:
        if "nan_policy" in str(e):
            return False
        raise
    return True


def test_nan_policy_omit_is_exact(path: str) -> None:
    """nan_policy='omit' (when the build has it): the correctly rounded sum of the other values."""
    a = np.concatenate([[1e300, NAN], np.full(5000, 2 - U52), [NAN, -1e300, p2(-53)], [NAN] * 3])
    if not _omit_supported(bufsum.fsum, a):
        pytest.skip("nan_policy='omit' not on this build yet")
    kept = a[~np.isnan(a)]
    check(bufsum.fsum(a, nan_policy="omit"), exact_round(kept.tolist()))
    if hasattr(bufsum, "fdot"):
        b = np.where(np.arange(a.size) % 7 == 0, NAN, 1.0)
        keep = ~(np.isnan(a) | np.isnan(b))
        check(bufsum.fdot(a, b, nan_policy="omit"), exact_dot(a[keep].tolist(), b[keep].tolist()))


# --- fdot and Accumulator.add_products ------------------------------------------------------

needs_fdot = pytest.mark.skipif(not hasattr(bufsum, "fdot"), reason="bufsum.fdot not on this build yet")


def exact_dot(x: Iterable[float | int], y: Iterable[float | int]) -> float:
    """Correct rounding of the exact sum of products (units of 2^-2148), with the IEEE specials
    of the products: NaN for a NaN, inf * 0 or infinities of both signs."""
    total = 0
    pinf = ninf = nan = False
    for a, b in zip(x, y):
        if isinstance(a, float) and not math.isfinite(a) or isinstance(b, float) and not math.isfinite(b):
            p = float(a) * float(b)
            nan |= math.isnan(p)
            pinf |= p == INF
            ninf |= p == -INF
        else:
            total += units(a) * units(b)
    if nan or (pinf and ninf):
        return NAN
    if pinf or ninf:
        return INF if pinf else -INF
    return round_units(total, -2148)


def fdot_cases() -> list[tuple[str, list[float], list[float]]]:
    u = p2(-53)
    big = (2 - U52) * p2(511)  # its square is just below 2^1024: products near the top
    return [
        ("tie broken up by a product below 2^-1074", [1.0, u, TINY], [1.0, 1.0, TINY]),
        ("tie broken down by a product below 2^-1074", [1.0, u, TINY], [1.0, 1.0, -TINY]),
        ("exact tie", [1.0, u], [1.0, 1.0]),
        ("odd + tie + tiny product", [1.0 + 2 * u, u, TINY], [1.0, 1.0, -TINY]),
        ("products overflow and cancel", [1e300, 1e300, 1.0], [1e300, -1e300, 0.5]),
        ("products underflow and add up", [1e-200] * 4, [1e-200, 1e-200, 1e-200, -1e-200]),
        ("squares of near-max halves", [big, big, -big], [big, big, big]),
        ("rounds to inf", [big, big], [big, big]),
        ("max + half ulp from products", [MAX, p2(485)], [1.0, p2(485)]),
        ("max + half ulp - tiny product", [MAX, p2(485), TINY], [1.0, p2(485), -TINY]),
        ("subnormal times large", [TINY, MAX_SUBNORMAL, MIN_NORMAL], [p2(1000), p2(1000), -(p2(1000))]),
        ("inf times zero", [INF, 1.0], [0.0, 1.0]),
        ("inf and -inf products", [INF, 2.0], [1.0, -INF]),
        ("inf product", [INF, 1e300], [2.0, 1e300]),
        ("nan", [NAN, 1.0], [1.0, 1.0]),
        ("empty", [], []),
    ]


@needs_fdot
@pytest.mark.parametrize("name,x,y", fdot_cases(), ids=[c[0] for c in fdot_cases()])
def test_fdot_vectors(path: str, name: str, x: list[float], y: list[float]) -> None:
    want = exact_dot(x, y)
    a, b = np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
    check(bufsum.fdot(a, b), want, name)
    check(bufsum.fdot(b, a), want, (name, "swapped"))
    check(bufsum.fdot(a[::-1], b[::-1].astype(">f8")), want, (name, "reversed, big-endian"))
    pad = np.zeros(5000)
    check(bufsum.fdot(np.concatenate([pad, a, pad]), np.concatenate([pad + 1.0, b, pad - 1.0])), want, (name, "padded"))
    acc = bufsum.Accumulator()
    acc.add_products(a, b)
    check(acc.value, want, (name, "add_products"))
    assert acc.count == len(x)


@needs_fdot
def test_fdot_cpython_vectors_against_ones_and_powers(path: str) -> None:
    for name, vals, want in cpython_vectors():
        a = np.array(vals, dtype=np.float64)
        check(bufsum.fdot(a, np.ones(a.size)), want, name)
        for k in (-600, 600):
            y = np.full(a.size, p2(k))
            check(bufsum.fdot(a, y), exact_dot(vals, y.tolist()), (name, k))


# xsum-check.c's dot_term: float values, so that products are exact in double.
XSUM_DOT_TERM = [(1.0, 1.0), (-1.0, 1.0), (0.3, 1.4), (313.5, -14.33), (0.0, 0.0), (2.0, 0.0), (0.0, 2.0),
                 (12.2, 1.1e-20), (5.5e15, -4.1)]  # fmt: skip


@needs_fdot
def test_xsum_dot_terms_repeated_2_to_13_times(path: str) -> None:
    reps = 1 << 13
    vecs = [np.array(v, dtype=np.float32).astype(np.float64) for v in XSUM_DOT_TERM]
    for vi in vecs:
        for vj in vecs:
            want = round_units(reps * (units(float(vi[0])) * units(float(vj[0])) + units(float(vi[1])) * units(float(vj[1]))), -2148)
            check(bufsum.fdot(np.tile(vi, reps), np.tile(vj, reps)), want, (vi, vj))
            check(bufsum.fdot(np.tile(vi, reps).astype(np.float32), np.tile(vj, reps)), want, (vi, vj, "float32"))


DOT_PAIRS = {
    "full-mantissa squares": (2 - U52, 2 - U52),
    "subnormal squares": (TINY, TINY),
    "near-max halves squared": ((2 - U52) * p2(511), (2 - U52) * p2(511)),
    "max times one": (MAX, 1.0),
    "tiny times huge": (MAX_SUBNORMAL, (2 - U52) * p2(1023)),
}


@needs_fdot
@pytest.mark.parametrize("name", list(DOT_PAIRS))
def test_fdot_equal_products_at_powers_of_two(path: str, name: str) -> None:
    """n equal products, n at and around 2^9 .. 2^20 and past 2^21 .. 2^22; also as the
    tie-breaker of 1 + 2^-53 (the products' sum decides the rounding even when far below
    2^-1074), and with alternating signs."""
    x, y = DOT_PAIRS[name]
    p = units(x) * units(y)
    sizes = [n for n in SIZES if n <= (1 << 22) + 1]
    bad = []
    for n in sizes:
        xs, ys = np.broadcast_to(x, (n,)), np.full(n, y)
        got = bufsum.fdot(xs, ys)
        if not same(got, round_units(n * p, -2148)):
            bad.append(("plain", n, got))
        if n < 70_000:
            tie = bufsum.fdot(np.concatenate([xs, [1.0, p2(-53)]]), np.concatenate([ys, [1.0, 1.0]]))
            want = round_units(n * p + (units(1.0) + units(p2(-53))) * units(1.0), -2148)
            if not same(tie, want):
                bad.append(("tie", n, tie, want))
            alt = np.where(np.arange(n) % 2 == 0, y, -y)
            got = bufsum.fdot(xs, alt)
            if not same(got, round_units((n % 2) * p, -2148)):
                bad.append(("alternating", n, got))
    assert not bad, (name, bad[:5], len(bad))


@needs_fdot
def test_fdot_integers_and_mixed_formats(path: str) -> None:
    n = 2**16 + 1
    i = np.full(n, 2**63 - 1, dtype=np.int64)
    j = np.full(n, -(2**63), dtype=">i8")
    f = np.full(n, 2 - U52, dtype=np.float64)
    h = np.full(n, 65504.0, dtype=np.float16)
    for a, b in ((i, i), (i, j), (i, f), (j, h), (h, h), (f.astype(np.float32), i)):
        want = round_units(n * units(a[0].item()) * units(b[0].item()), -2148)
        check(bufsum.fdot(a, b), want, (a.dtype, b.dtype))


@needs_fdot
def test_fdot_axis_entries_exact(path: str) -> None:
    rows = 4097
    x, _ = adversarial_columns(rows)
    y = np.empty_like(x)
    y[:] = np.where(np.arange(rows)[:, None] % 3 == 0, 1.0, -(2.0**-40))
    wants = [exact_dot(x[:, j].tolist(), y[:, j].tolist()) for j in range(x.shape[1])]
    got = np.asarray(bufsum.fdot(x, y, axis=0))
    for j, want in enumerate(wants):
        check(float(got[j]), want, ("axis 0", j))
    got = np.asarray(bufsum.fdot(np.ascontiguousarray(x.T), np.ascontiguousarray(y.T), axis=1))
    for j, want in enumerate(wants):
        check(float(got[j]), want, ("axis 1", j))


@needs_fdot
def test_add_products_keep_bits_below_2_to_minus_1074() -> None:
    """Products finer than any double live in the accumulator's exact state: they break a
    later tie, also after pickling, copying and merging."""
    acc = bufsum.Accumulator()
    acc.add_products(np.array([TINY, TINY, TINY]), np.array([TINY, TINY, -TINY]))  # +2^-2148
    check(acc.value, 0.0)
    for clone in (pickle.loads(pickle.dumps(acc)), copy.copy(acc), acc):
        c = copy.copy(clone)
        c.add(1.0)
        c.add(p2(-53))
        check(c.value, 1.0 + p2(-52), "tie broken upward by 2^-2148")
    other = bufsum.Accumulator()
    other.add(1.0)
    other.add(p2(-53))
    check(other.value, 1.0)
    other.merge(pickle.loads(pickle.dumps(acc)))
    check(other.value, 1.0 + p2(-52), "through a merge")
    assert other.count == 5


@needs_fdot
def test_certified_equals_exact_fdot() -> None:
    if FORCE_EXACT is None:
        pytest.skip("bufsum._force_exact() not on this build yet")
    rng = np.random.default_rng(31)
    bad = []
    for n in (0, 1, 7, 255, 256, 257, 2048, 2049, 10_000, 300_001):
        x, y = rng.standard_normal(n), rng.standard_normal(n)
        for name, a, b in (
            ("normal", x, y),
            ("float32", x.astype(np.float32), y.astype(np.float32)),
            ("mixed", x.astype(">f4"), y * 1e10),
            ("strided", np.repeat(x, 2)[::2], y[::-1]),
            ("cancelling", np.concatenate([x, x]), np.concatenate([y, -y])),
            ("int", (x * 1000).astype(np.int64), y),
        ):
            auto = bufsum.fdot(a, b)
            with FORCE_EXACT():
                forced = bufsum.fdot(a, b)
            want = exact_dot(np.asarray(a, dtype=np.float64).tolist(), np.asarray(b, dtype=np.float64).tolist()) if n < 20_000 else forced
            if not (same(auto, want) and same(forced, want) and bits(auto) == bits(forced)):
                bad.append((name, n, auto, forced, want))
    assert not bad, bad


@needs_fdot
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(any_float, any_float), max_size=30))
def test_hypothesis_fdot(path: str, pairs: list[tuple[float, float]]) -> None:
    x = [a for a, _ in pairs]
    y = [b for _, b in pairs]
    want = exact_dot(x, y)
    check(bufsum.fdot(np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)), want, "fdot")
    acc = bufsum.Accumulator()
    acc.add_products(np.array(x, dtype=np.float64), np.array(y, dtype=np.float64))
    check(acc.value, want, "add_products")


# --- hypothesis: random floats against the exact oracle ----------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(any_float, max_size=40))
def test_hypothesis_fsum_and_accumulator(path: str, vals: list[float]) -> None:
    want = exact_round(vals)
    a = np.array(vals, dtype=np.float64)
    check(bufsum.fsum(a), want, "fsum")
    check(bufsum.fsum(a[::-1]), want, "fsum reversed")
    check(acc_of(a).value, want, "Accumulator buffer")
    check(acc_of(vals).value, want, "Accumulator floats")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(finite_float, st.integers(1, 20_000)), min_size=1, max_size=6), st.randoms())
def test_hypothesis_runs_of_equal_values(path: str, runs: list[tuple[float, int]], rnd: random.Random) -> None:
    """Runs of one value repeated up to 20000 times (bins fill), in runs or shuffled."""
    a = np.concatenate([np.full(n, x) for x, n in runs])
    want = round_units(sum(n * units(x) for x, n in runs))
    check(bufsum.fsum(a), want, "runs")
    perm = np.random.default_rng(rnd.getrandbits(64)).permutation(a.size)
    check(bufsum.fsum(a[perm]), want, "shuffled")
    acc = bufsum.Accumulator()
    for x, n in runs:
        acc.add(np.full(n, x))
    check(acc.value, want, "Accumulator")


near_window_edge = st.builds(
    lambda k, d, s: s * (2**k + d),
    st.sampled_from([1023, 1024, 1088, 1102, 2046, 2047]),
    st.integers(-(2**70), 2**70),
    st.sampled_from([1, -1]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        finite_float
        | st.integers(-(2**INT_BITS_ACCEPTED) + 1, 2**INT_BITS_ACCEPTED - 1)
        | st.integers(-(2**130), 2**130)
        | near_window_edge,
        max_size=30,
    )
)
def test_hypothesis_accumulator_ints_and_floats(vals: list[float | int]) -> None:
    acc = bufsum.Accumulator()
    for v in vals:
        acc.add(v)
    check(acc.value, round_units(sum(units(v) for v in vals)))
    assert acc.count == len(vals)
    back = pickle.loads(pickle.dumps(acc))
    for v in vals:
        back.add(-v)
    check(back.value, 0.0, "everything cancelled")
