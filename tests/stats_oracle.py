"""Exact oracles for mean, var and std, independent of bufsum: exact rationals (`Fraction` and
Python ints), one round-half-even rounding to float64 written out here (and tested in
test_stats.py against CPython's correctly rounded int division and `math.sqrt`), and an exact
integer square root (`math.isqrt`) for the standard deviation.

Values are Python floats or ints (exact); NaN and infinities follow the SPEC's extended-real
rules: `mean` is NaN for any NaN or for +inf with -inf, else the sign of the infinity;
`var`/`std` are NaN for any non-finite value; no values, or n - ddof <= 0, give NaN.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from fractions import Fraction
from typing import Union

Real = Union[int, float]

MIN_EXP = -1074  # exponent of the smallest subnormal
MANT = 53


def bits(x: float) -> int:
    """The IEEE-754 bit pattern of a float64 (tells -0.0 from 0.0 and NaN payloads apart)."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def same_bits(a: float, b: float) -> bool:
    """Bitwise equality, with every NaN equal to every NaN (payloads are not part of any contract)."""
    if math.isnan(a) and math.isnan(b):
        return True
    return bits(a) == bits(b)


def floor_log2(q: Fraction) -> int:
    """The integer e with 2^e <= q < 2^(e+1), for q > 0."""
    n, d = q.numerator, q.denominator
    e = n.bit_length() - d.bit_length()
    # Now q is in [2^(e-1), 2^(e+1)); one comparison settles which half.
    if (n << max(-e, 0)) < (d << max(e, 0)):
        e -= 1
    return e


def _finish(sign: int, m: int, s: int) -> float:
    """sign * m * 2^s as a float (m < 2^53 or m == 2^53, exactly representable or overflowing)."""
    try:
        r = math.ldexp(float(m), s)
    except OverflowError:
        r = math.inf
    return -r if sign < 0 else r


def round_half_even(q: Union[Fraction, int]) -> float:
    """The float64 nearest to the rational q, ties to even; +-inf when that rounding overflows
    (|q| >= 2^1024 - 2^970); a negative q that rounds to zero gives -0.0, an exact 0 gives 0.0."""
    q = Fraction(q)
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    a = abs(q)
    # Units of the result: 2^s with 53 significant bits, never below the subnormal spacing.
    s = max(floor_log2(a) - (MANT - 1), MIN_EXP)
    num = a.numerator << max(-s, 0)
    den = a.denominator << max(s, 0)
    m, r = divmod(num, den)  # a / 2^s = m + r/den
    if 2 * r > den or (2 * r == den and m % 2 == 1):
        m += 1
    return _finish(sign, m, s)


def sqrt_half_even(q: Union[Fraction, int]) -> float:
    """The float64 nearest to sqrt(q) for a rational q >= 0, ties to even (+inf if it overflows).

    With 2^s the unit of the result, t = q / 4^s; floor(sqrt(t)) = isqrt(floor(t)), and sqrt(t)
    lies above, at or below the midpoint s0 + 1/2 as t compares with (s0 + 1/2)^2, exactly.
    """
    q = Fraction(q)
    if q < 0:
        raise ValueError("sqrt of a negative rational")
    if q == 0:
        return 0.0
    e = floor_log2(q) // 2  # 2^e <= sqrt(q) < 2^(e+1)
    s = max(e - (MANT - 1), MIN_EXP)
    t = q / Fraction(4) ** s if s >= 0 else q * 4 ** (-s)
    s0 = math.isqrt(t.numerator // t.denominator)
    mid = Fraction(4 * s0 * s0 + 4 * s0 + 1, 4)  # (s0 + 1/2)^2
    if t > mid or (t == mid and s0 % 2 == 1):
        s0 += 1
    return _finish(1, s0, s)


def is_midpoint(q: Fraction) -> bool:
    """Whether q lies exactly halfway between two adjacent floats (a tie of the rounding)."""
    a = abs(Fraction(q))
    if a == 0:
        return False
    s = max(floor_log2(a) - (MANT - 1), MIN_EXP)
    scaled = a / Fraction(2) ** s
    return scaled.denominator == 2


# --- the statistics, by their definitions ---------------------------------------------------


def _nonfinite(values: Sequence[Real]) -> tuple[bool, bool, bool]:
    nan = pos = neg = False
    for v in values:
        if isinstance(v, float):
            if math.isnan(v):
                nan = True
            elif v == math.inf:
                pos = True
            elif v == -math.inf:
                neg = True
    return nan, pos, neg


def exact_mean(values: Sequence[Real]) -> Fraction:
    """Σx / n exactly (finite, non-empty values): Fractions for modest n, exact integers on one
    common scale for large n (checked equal in test_stats.py)."""
    n = len(values)
    if n <= 400:
        return Fraction(sum(Fraction(v) for v in values), n)
    xs, k = scaled_ints(values)
    return Fraction(sum(xs), n << k)


def scaled_ints(values: Sequence[Real]) -> tuple[list[int], int]:
    """Integers X and one k with x = X / 2^k for every (finite) value x."""
    ratios = [Fraction(v) for v in values]
    k = max((r.denominator for r in ratios), default=1).bit_length() - 1  # powers of two
    return [r.numerator << (k - (r.denominator.bit_length() - 1)) for r in ratios], k


def exact_var(values: Sequence[Real], ddof: int) -> Fraction:
    """Σ(x - m)² / (n - ddof) exactly, m the exact mean (finite values, n - ddof > 0).

    Literally the definition for modest n; for large n the same rational through exact integers
    (x = X / 2^k with one common k: n·Σ(x - m)² = n·ΣX² - (ΣX)², over 4^k), which
    test_stats.py checks equal to the definition."""
    n = len(values)
    if n <= 400:
        fr = [Fraction(v) for v in values]
        m = Fraction(sum(fr), n)
        return sum(((x - m) ** 2 for x in fr), Fraction(0)) / (n - ddof)
    return exact_var_by_integers(values, ddof)


def exact_var_by_integers(values: Sequence[Real], ddof: int) -> Fraction:
    n = len(values)
    xs, k = scaled_ints(values)
    s1 = sum(xs)
    s2 = sum(x * x for x in xs)
    return Fraction(n * s2 - s1 * s1, n * (n - ddof) * 4**k)


def oracle_mean(values: Sequence[Real]) -> float:
    """The correctly rounded mean, with the SPEC's rules for NaN, infinities and no values."""
    if len(values) == 0:
        return math.nan
    nan, pos, neg = _nonfinite(values)
    if nan or (pos and neg):
        return math.nan
    if pos:
        return math.inf
    if neg:
        return -math.inf
    return round_half_even(exact_mean(values))


def oracle_mean_complex(values: Sequence[complex]) -> complex:
    return complex(oracle_mean([v.real for v in values]), oracle_mean([v.imag for v in values]))


def oracle_var(values: Sequence[Real], ddof: int = 0) -> float:
    n = len(values)
    if n - ddof <= 0 or any(isinstance(v, float) and not math.isfinite(v) for v in values):
        return math.nan
    return round_half_even(exact_var(values, ddof))


def oracle_std(values: Sequence[Real], ddof: int = 0) -> float:
    n = len(values)
    if n - ddof <= 0 or any(isinstance(v, float) and not math.isfinite(v) for v in values):
        return math.nan
    return sqrt_half_even(exact_var(values, ddof))


def oracle_fsum(values: Sequence[Real]) -> float:
    """The correctly rounded sum (0.0 for no values), NaN for NaN or +inf with -inf."""
    nan, pos, neg = _nonfinite(values)
    if nan or (pos and neg):
        return math.nan
    if pos or neg:
        return math.inf if pos else -math.inf
    return round_half_even(exact_sum(values))


def exact_sum(values: Sequence[Real]) -> Fraction:
    """Σx exactly (finite values): Fractions for modest n, one common scale for large n."""
    if len(values) <= 400:
        return sum((Fraction(v) for v in values), Fraction(0))
    xs, k = scaled_ints(values)
    return Fraction(sum(xs), 1 << k)


def oracle_fdot(xs: Sequence[Real], ys: Sequence[Real]) -> float:
    """The correctly rounded Σ x·y: NaN for any NaN, inf·0, or infinite products of both signs."""
    inf_signs = set()
    total = Fraction(0)
    for x, y in zip(xs, ys):
        if (isinstance(x, float) and math.isnan(x)) or (isinstance(y, float) and math.isnan(y)):
            return math.nan
        if (isinstance(x, float) and math.isinf(x)) or (isinstance(y, float) and math.isinf(y)):
            if x == 0 or y == 0:
                return math.nan
            inf_signs.add((x > 0) == (y > 0))
            continue
        total += Fraction(x) * Fraction(y)
    if len(inf_signs) == 2:
        return math.nan
    if inf_signs:
        return math.inf if inf_signs.pop() else -math.inf
    return round_half_even(total)
