"""nan_policy on sum, fsum, dot, fdot, mean, var and std (SPEC Part 2, "NaN policy").

- 'omit': NaN elements are absent (complex: NaN in either part; dot/fdot: a pair goes when
  either element is NaN) and not counted. `sum`/`dot` keep their reproducibility: the bits of
  the function over the non-NaN elements (pairs) gathered, in C order, into one contiguous
  array — checked over many NaN patterns x layouts x exporters x chunkings x thread counts.
  The correctly rounded functions are checked against exact oracles (tests/stats_oracle.py).
- 'raise': ValueError saying how many NaN, before anything is written to `out`.
- 'propagate' (default); anything else is a ValueError; integers have no NaN; infinities are
  values, not NaN; Arrow nulls are absent whatever bits sit under them.
"""

from __future__ import annotations

import array
import functools
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import bufsum
from stats_oracle import oracle_fdot, oracle_fsum, oracle_mean, oracle_std, oracle_var, same_bits

MAX = sys.float_info.max
TINY = 5e-324
BLOCK = 2048
FUNCS = ("sum", "fsum", "dot", "fdot", "mean", "var", "std")
CR_FUNCS = ("fsum", "fdot", "mean", "var", "std")  # correctly rounded: exact oracles


def _show(x: Any) -> str:
    return f"{x!r} ({x.hex()})" if isinstance(x, float) else repr(x)


def assert_same(got: Any, want: Any, what: str = "") -> None:
    if isinstance(want, complex):
        assert isinstance(got, complex), f"{what}: got {got!r}, expected a complex"
        assert_same(got.real, want.real, what + " (real)")
        assert_same(got.imag, want.imag, what + " (imag)")
        return
    if isinstance(want, int) and not isinstance(want, bool):
        assert type(got) is int and got == want, f"{what}: got {got!r}, expected {want!r}"
        return
    assert isinstance(got, float), f"{what}: got {type(got).__name__} {got!r}, expected a float"
    assert same_bits(got, want), f"{what}: got {_show(got)}, expected {_show(want)}"


def both_paths(call: Callable[[], Any], what: str) -> Any:
    a = call()
    with bufsum._force_exact():
        b = call()
    if isinstance(a, memoryview):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), f"{what}: default vs forced exact path"
    else:
        assert_same(a, b, f"{what}: default vs forced exact path")
    return a


def isnan_elem(a: np.ndarray) -> np.ndarray:
    """Element NaN mask (complex: either part)."""
    if a.dtype.kind == "c":
        return np.isnan(a.real) | np.isnan(a.imag)
    if a.dtype.kind == "f":
        return np.isnan(a)
    return np.zeros(a.shape, dtype=bool)


def gathered(a: np.ndarray) -> np.ndarray:
    """The non-NaN elements of `a` in C order of its logical shape, one contiguous native array."""
    flat = np.asarray(a).ravel(order="C")
    kept = flat[~isnan_elem(flat)]
    return np.ascontiguousarray(kept.astype(kept.dtype.newbyteorder("=")))


def vals(a: np.ndarray) -> list[Any]:
    return np.asarray(a).ravel().tolist()


def oracle(name: str, kept: np.ndarray, kept_y: np.ndarray | None = None, ddof: int = 0) -> Any:
    """Exact oracle of a correctly rounded function over already-gathered values (cached by the
    multiset of values where the function does not depend on their order)."""
    if kept_y is None and kept.dtype.kind != "c":
        key = np.sort(np.ascontiguousarray(kept).view(f"u{kept.itemsize}")).tobytes()
        return _oracle_cached(name, kept.dtype.str, key, ddof)
    return _oracle(name, kept, kept_y, ddof)


@functools.lru_cache(maxsize=2048)
def _oracle_cached(name: str, dtype: str, key: bytes, ddof: int) -> Any:
    kept = np.frombuffer(key, dtype=f"u{np.dtype(dtype).itemsize}").view(dtype)
    return _oracle(name, kept, None, ddof)


def _oracle(name: str, kept: np.ndarray, kept_y: np.ndarray | None = None, ddof: int = 0) -> Any:
    if kept.dtype.kind == "c" or (kept_y is not None and kept_y.dtype.kind == "c"):
        if name == "fsum":
            return complex(oracle_fsum(vals(kept.real)), oracle_fsum(vals(kept.imag)))
        if name == "mean":
            return complex(oracle_mean(vals(kept.real)), oracle_mean(vals(kept.imag)))
        raise AssertionError(name)
    v = vals(kept)
    if name == "fsum":
        return oracle_fsum(v)
    if name == "fdot":
        return oracle_fdot(v, vals(kept_y))  # type: ignore[arg-type]
    if name == "mean":
        return oracle_mean(v)
    return oracle_var(v, ddof) if name == "var" else oracle_std(v, ddof)


# =============================================================================================
# NaN patterns x layouts


def nan_patterns(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    i = np.arange(n)
    pats = {
        "none": np.zeros(n, bool),
        "first": i == 0,
        "last": i == n - 1,
        "middle": i == n // 2,
        "every other": i % 2 == 0,
        "runs of 100": (i // 100) % 2 == 1,
        "1%": rng.random(n) < 0.01,
        "50%": rng.random(n) < 0.5,
        "99%": rng.random(n) < 0.99,
        "all": np.ones(n, bool),
        "block edges": np.isin(i, [BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK - 1, 2 * BLOCK, 3 * BLOCK + 5]),
        "first block": i < BLOCK,
        "all but one": i != n // 3,
        "tail": i >= n - 37,
    }
    return pats


def with_nans(n: int, pattern: np.ndarray, rng: np.random.Generator, dtype: str = "f8") -> np.ndarray:
    if dtype.startswith("c"):
        a = (rng.standard_normal(n) * 10.0 ** rng.integers(-20, 20, n) + 1j * (rng.standard_normal(n) * 1e15)).astype(dtype)
        which = rng.integers(0, 3, n)  # NaN in the real part, the imaginary part, or both
        re, im = a.real.copy(), a.imag.copy()
        re[pattern & (which != 1)] = np.nan
        im[pattern & (which != 0)] = np.nan
        z = np.empty(n, dtype=dtype)
        z.real, z.imag = re, im  # (re + 1j*im would smear a NaN imaginary part into the real one)
        return z
    with np.errstate(over="ignore"):  # float16 overflows to inf: a value like any other
        a = (rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n)).astype(dtype)
    a[pattern] = np.nan
    return a


def layouts(a: np.ndarray) -> Iterator[tuple[str, Any, np.ndarray]]:
    """(name, object to pass, the logical array in C order that `object` holds)."""
    n = a.size
    yield "contiguous", a, a
    yield "reversed view", a[::-1], a[::-1]
    big = np.repeat(a, 3)
    yield "strided", big[1::3], a
    if a.dtype.itemsize > 1:
        swapped = a.astype(a.dtype.newbyteorder(">" if sys.byteorder == "little" else "<"))
        yield "byte-swapped", swapped, a
    raw = np.zeros(a.nbytes + 1, np.uint8)
    un = raw[1:].view(a.dtype)
    un[...] = a
    yield "unaligned", un, a
    if n % 4 == 0 and n:
        m = a.reshape(4, -1)
        f = np.asfortranarray(m)
        yield "2-d fortran", f, m
        yield "2-d transposed", m.T, m.T
    yield "memoryview", memoryview(a), a
    code = {"f8": "d", "f4": "f"}.get(a.dtype.str[1:])
    if code:
        yield "array.array", array.array(code, a.tobytes()), a

    class OnlyDLPack:
        def __dlpack__(self, **kw: Any) -> Any:
            return a.__dlpack__(**kw)

        def __dlpack_device__(self) -> Any:
            return a.__dlpack_device__()

    yield "dlpack", OnlyDLPack(), a


def arrow_layouts(a: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[str, Any, np.ndarray]]:
    """Arrow exporters of 1-d real `a`: NaN stay NaN values; chunkings; nulls added (absent)."""
    pa = pytest.importorskip("pyarrow")
    n = a.size
    yield "pyarrow", pa.array(a), a
    for k in (2, 5, 17):
        cuts = sorted({0, n, *rng.integers(0, n + 1, k).tolist()})
        ch = pa.chunked_array([pa.array(a[lo:hi]) for lo, hi in zip(cuts, cuts[1:])] + [pa.array(a[:0])], type=pa.from_numpy_dtype(a.dtype))
        yield f"pyarrow chunked x{len(cuts) - 1}", ch, a
    # nulls inserted between the values; NaN bits under some null slots
    m = n + n // 4 + 2
    null = np.zeros(m, bool)
    null[rng.choice(m, m - n, replace=False)] = True
    full = np.full(m, np.nan, dtype=a.dtype)
    full[~null] = a
    arr = pa.array(full, mask=null)
    yield "pyarrow with nulls (NaN under nulls)", arr, a
    cuts = sorted({0, m, *rng.integers(0, m + 1, 6).tolist()})
    yield "pyarrow chunked with nulls", pa.chunked_array([arr.slice(lo, hi - lo) for lo, hi in zip(cuts, cuts[1:])], type=arr.type), a
    head = np.zeros(3, dtype=a.dtype)
    yield "pyarrow sliced (offset)", pa.array(np.concatenate([head, a]), mask=np.zeros(n + 3, bool)).slice(3), a
    try:
        import polars as pl
    except ImportError:
        return
    if a.dtype.str[1:] != "f2":
        yield "polars", pl.Series(a), a
        yield "polars with nulls", pl.from_arrow(arr), a


@pytest.mark.parametrize("dtype", ["f8", "f4", "f2"])
@pytest.mark.parametrize("n", [1, 7, 300, 3 * BLOCK + 17])
def test_omit_sum_has_the_bits_of_the_gathered_sum(dtype: str, n: int) -> None:
    rng = np.random.default_rng(n + len(dtype))
    for pname, pat in nan_patterns(n, rng).items():
        a = with_nans(n, pat, rng, dtype)
        sources = list(layouts(a)) + (list(arrow_layouts(a, rng)) if a.ndim == 1 else [])
        for lname, obj, logical in sources:
            kept = gathered(logical)
            want_sum = bufsum.sum(kept)
            for t in (None, 1, 3):
                got = bufsum.sum(obj, nan_policy="omit", threads=t)
                assert_same(got, want_sum, f"sum omit {dtype} n={n} {pname} via {lname} threads={t}")
            assert_same(both_paths(lambda: bufsum.fsum(obj, nan_policy="omit"), "fsum"), oracle("fsum", kept),
                        f"fsum omit {dtype} n={n} {pname} via {lname}")
            assert_same(both_paths(lambda: bufsum.mean(obj, nan_policy="omit"), "mean"), oracle("mean", kept),
                        f"mean omit {dtype} n={n} {pname} via {lname}")
            if lname in ("contiguous", "pyarrow chunked with nulls", "2-d fortran", "byte-swapped"):
                for ddof in (0, 1):
                    for name in ("var", "std"):
                        got = both_paths(lambda: getattr(bufsum, name)(obj, ddof=ddof, nan_policy="omit"), name)
                        assert_same(got, oracle(name, kept, ddof=ddof), f"{name} omit ddof={ddof} {dtype} n={n} {pname} via {lname}")
            nans = int(isnan_elem(logical).sum())
            for name in FUNCS:
                if name in ("dot", "fdot"):
                    continue
                if nans:
                    with pytest.raises(ValueError, match=rf"\b{nans}\b"):
                        getattr(bufsum, name)(obj, nan_policy="raise")
                else:
                    assert_same(getattr(bufsum, name)(obj, nan_policy="raise"), getattr(bufsum, name)(obj))


def test_omit_sum_large_with_threads() -> None:
    rng = np.random.default_rng(99)
    n = 100_003
    a = rng.standard_normal(n) * 10.0 ** rng.integers(-10, 10, n)
    for frac in (0.0, 0.01, 0.5):
        b = a.copy()
        b[rng.random(n) < frac] = np.nan
        kept = gathered(b)
        want = bufsum.sum(kept, threads=1)
        for t in (1, 2, 3, 4, None):
            assert_same(bufsum.sum(b, nan_policy="omit", threads=t), want, f"frac={frac} threads={t}")
            assert_same(bufsum.sum(b[::-1], nan_policy="omit", threads=t), bufsum.sum(gathered(b[::-1])), f"reversed threads={t}")
        assert_same(bufsum.mean(b, nan_policy="omit", threads=4), oracle("mean", kept))
        assert_same(bufsum.std(b, nan_policy="omit", threads=2, ddof=1), oracle("std", kept, ddof=1))


def test_omit_complex_element_is_nan_when_either_part_is() -> None:
    rng = np.random.default_rng(5)
    for n in (3, 301, 2 * BLOCK + 3):
        for pname, pat in nan_patterns(n, rng).items():
            for dt in ("c16", "c8"):
                z = with_nans(n, pat, rng, dt)
                kept = gathered(z)
                assert kept.size == n - int(pat.sum())
                for lname, obj, logical in layouts(z):
                    assert_same(bufsum.sum(obj, nan_policy="omit"), bufsum.sum(gathered(logical)), f"{dt} sum {pname} {lname}")
                assert_same(both_paths(lambda: bufsum.fsum(z, nan_policy="omit"), "fsum"), oracle("fsum", kept), f"{dt} fsum {pname}")
                assert_same(both_paths(lambda: bufsum.mean(z, nan_policy="omit"), "mean"), oracle("mean", kept), f"{dt} mean {pname}")
                nans = int(pat.sum())
                for name in ("sum", "fsum", "mean"):
                    if nans:
                        with pytest.raises(ValueError, match=rf"\b{nans}\b"):
                            getattr(bufsum, name)(z, nan_policy="raise")
                    got = getattr(bufsum, name)(z)
                    if nans:  # propagate: a NaN somewhere in the result
                        assert math.isnan(got.real) or math.isnan(got.imag)


# =============================================================================================
# dot / fdot: a pair goes when either element is NaN


def gathered_dot(gx: np.ndarray, gy: np.ndarray) -> Any:
    """The reference for dot with 'omit': dot over the gathered pairs; no pairs at all is the
    empty sum, +0.0 (test_dot_of_no_pairs_is_positive_zero checks bufsum.dot agrees)."""
    if gx.size == 0 and (gx.dtype.kind == "f" or gy.dtype.kind == "f"):
        return 0.0
    return bufsum.dot(gx, gy)


def test_dot_of_no_pairs_is_positive_zero() -> None:
    """An empty dot product is the empty sum, +0.0 (as `sum`, `fsum`, `fdot` and numpy.dot give),
    whatever the layout: the same bits for the same (empty) sequence, and the same as 'omit'
    dropping every pair."""
    cases = {
        "f8 . f8": (np.zeros(0), np.zeros(0)),
        "f8 . >f8": (np.zeros(0), np.zeros(0, ">f8")),
        "f4 . f8": (np.zeros(0, np.float32), np.zeros(0)),
        "memoryviews": (memoryview(b"").cast("d"), memoryview(b"").cast("d")),
        "2-d with an empty axis": (np.zeros((3, 0)), np.zeros((3, 0))),
        "every pair NaN, omitted": (np.array([np.nan, 1.0]), np.array([2.0, np.nan])),
    }
    for what, (x, y) in cases.items():
        for name in ("dot", "fdot"):
            for t in (None, 1, 2):
                assert_same(getattr(bufsum, name)(x, y, nan_policy="omit", threads=t), 0.0, f"{name} omit {what} threads={t}")
                if "NaN" not in what:
                    assert_same(getattr(bufsum, name)(x, y, threads=t), 0.0, f"{name} {what} threads={t}")
    got = np.asarray(bufsum.dot(np.zeros((3, 0)), np.zeros((3, 0)), axis=1))
    assert [math.copysign(1.0, v) for v in got.tolist()] == [1.0, 1.0, 1.0], f"zero-length axis gives zeros, got {got.tolist()}"


def dot_pairs(rng: np.random.Generator, n: int) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    x = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    y = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)
    pats = nan_patterns(n, rng)
    for pname, pat in pats.items():
        xs, ys = x.copy(), y.copy()
        xs[pat] = np.nan
        yield f"x {pname}", xs, ys
        ys2 = y.copy()
        ys2[np.roll(pat, 1)] = np.nan
        yield f"x {pname}, y shifted", xs, ys2
    yield "f4 with f8", x.astype(np.float32), np.where(pats["1%"], np.nan, y)
    yield "int with float", rng.integers(-1000, 1000, n), np.where(pats["every other"], np.nan, y)
    with np.errstate(over="ignore"):
        yield "f2 with f8", np.where(pats["runs of 100"], np.nan, x).astype(np.float16), y


@pytest.mark.parametrize("n", [5, 300, 2 * BLOCK + 9])
def test_dot_omit_skips_pairs_and_has_the_gathered_bits(n: int) -> None:
    rng = np.random.default_rng(n)
    for what, x, y in dot_pairs(rng, n):
        keep = ~(isnan_elem(x) | isnan_elem(y))
        gx = np.ascontiguousarray(x[keep])
        gy = np.ascontiguousarray(y[keep])
        want = gathered_dot(gx, gy)
        variants = [
            ("contiguous", x, y),
            ("reversed views of reversed copies", x[::-1].copy()[::-1], y[::-1].copy()[::-1]),
            ("strided x, byte-swapped y", np.repeat(x, 2)[::2], y.astype(y.dtype.newbyteorder(">")) if y.dtype.itemsize > 1 else y),
        ]
        if n % 5 == 0:
            variants.append(("2-d C x, 2-d fortran y", x.reshape(5, -1), np.asfortranarray(y.reshape(5, -1))))
        for vname, vx, vy in variants:
            for t in (None, 1, 2):
                assert_same(bufsum.dot(vx, vy, nan_policy="omit", threads=t), want, f"dot omit {what} {vname} threads={t}")
        assert_same(both_paths(lambda: bufsum.fdot(x, y, nan_policy="omit"), "fdot"), oracle("fdot", gx, gy), f"fdot omit {what}")
        try:
            pa = pytest.importorskip("pyarrow")
        except pytest.skip.Exception:
            continue
        if x.dtype.kind == "f" and x.dtype.itemsize == 8:
            cx = pa.chunked_array([pa.array(x[: n // 3]), pa.array(x[n // 3:])])
            cy = pa.chunked_array([pa.array(y[: n // 2]), pa.array(y[n // 2:])])
            assert_same(bufsum.dot(cx, cy, nan_policy="omit"), want, f"dot omit {what} arrow chunked differently")
            assert_same(bufsum.fdot(cx, cy, nan_policy="omit"), oracle("fdot", gx, gy), f"fdot omit {what} arrow")


def test_dot_omit_with_arrow_nulls_and_nans() -> None:
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(8)
    n = 3000
    x = rng.standard_normal(n)
    y = rng.standard_normal(n)
    xnull = rng.random(n) < 0.1
    ynull = rng.random(n) < 0.1
    xnan = rng.random(n) < 0.05
    ynan = rng.random(n) < 0.05
    x[xnan] = np.nan
    y[ynan] = np.nan
    x[xnull] = np.nan  # NaN bits under nulls: still just absent
    ax = pa.array(x, mask=xnull)
    ay = pa.chunked_array([pa.array(y[:1000], mask=ynull[:1000]), pa.array(y[1000:], mask=ynull[1000:])])
    keep = ~(xnull | ynull | np.isnan(x) | np.isnan(y))
    want = gathered_dot(np.ascontiguousarray(x[keep]), np.ascontiguousarray(y[keep]))
    assert_same(bufsum.dot(ax, ay, nan_policy="omit"), want)
    assert_same(bufsum.fdot(ax, ay, nan_policy="omit"), oracle_fdot(vals(x[keep]), vals(y[keep])))
    nan_count = int((xnan & ~xnull).sum() + (ynan & ~ynull).sum())
    with pytest.raises(ValueError, match=r"NaN"):
        bufsum.dot(ax, ay, nan_policy="raise")
    # propagate: a non-null NaN makes it NaN
    assert math.isnan(bufsum.dot(ax, ay))
    assert nan_count > 0


def test_dot_raise_counts_nan() -> None:
    x = np.arange(10.0)
    y = np.ones(10)
    x[[1, 5]] = np.nan
    y[[7]] = np.nan  # disjoint positions: 3 NaN elements, 3 NaN pairs
    for name in ("dot", "fdot"):
        with pytest.raises(ValueError, match=r"\b3\b"):
            getattr(bufsum, name)(x, y, nan_policy="raise")
        with pytest.raises(ValueError, match=r"\b3\b"):
            getattr(bufsum, name)(x.reshape(2, 5), y.reshape(2, 5), axis=1, out=np.full(2, 7.0), nan_policy="raise")
        o = np.full(2, 7.0)
        with pytest.raises(ValueError):
            getattr(bufsum, name)(x.reshape(2, 5), y.reshape(2, 5), axis=1, out=o, nan_policy="raise")
        assert np.all(o == 7.0)
        assert_same(getattr(bufsum, name)(x, x * 0 + 1, nan_policy="omit"),
                    float(sum(v for v in x.tolist() if not math.isnan(v))))


# =============================================================================================
# raise, invalid policies, integers, infinities


def _call(name: str, a: Any, **kw: Any) -> Any:
    fn = getattr(bufsum, name)
    return fn(a, a, **kw) if name in ("dot", "fdot") else fn(a, **kw)


@pytest.mark.parametrize("name", FUNCS)
def test_invalid_policies_are_value_errors(name: str) -> None:
    for data in (np.array([1.0, 2.0]), np.array([1, 2]), np.zeros(0), np.array([np.nan])):
        for bad in ("", "Omit", "OMIT", " omit", "omit ", "ignore", "nan", "propagate\0", "raise!", "skip"):
            with pytest.raises(ValueError, match="nan_policy"):
                _call(name, data, nan_policy=bad)
        for bad in (b"omit", 1, 0, 1.5, ["omit"], ("omit",), True, object()):
            with pytest.raises((ValueError, TypeError)):
                _call(name, data, nan_policy=bad)
    # the policy is checked before anything is written to `out`
    a = np.arange(6.0).reshape(2, 3)
    out = np.full(2, 7.0)
    with pytest.raises(ValueError):
        _call(name, a, axis=1, out=out, nan_policy="bogus")
    assert np.all(out == 7.0)
    # explicit 'propagate' and None are the default
    x = np.array([1.5, np.nan, 2.0])
    d = _call(name, x)
    assert math.isnan(d.real if isinstance(d, complex) else d)
    assert same_bits(_call(name, x, nan_policy="propagate"), d)
    assert same_bits(_call(name, x, nan_policy=None), d)


@pytest.mark.parametrize("name", FUNCS)
def test_integer_data_has_no_nan(name: str) -> None:
    rng = np.random.default_rng(3)
    for dt in ("i1", "u1", "i2", ">i4", "u4", "i8", "u8", "?"):
        a = rng.integers(0, 100, 3001).astype(dt) if dt != "?" else rng.random(3001) < 0.5
        want = _call(name, a)
        for policy in ("omit", "raise", "propagate"):
            got = _call(name, a, nan_policy=policy)
            assert type(got) is type(want) and (got == want if isinstance(want, int) else same_bits(got, want)), (dt, policy)
        if name in ("sum", "dot"):
            assert isinstance(want, int)
    pa = pytest.importorskip("pyarrow")
    arr = pa.array([1, None, 3, None, 7], type=pa.int64())
    assert _call(name, arr, nan_policy="raise") == _call(name, arr, nan_policy="omit") == _call(name, arr)


def test_infinities_are_values_not_nan() -> None:
    inf = math.inf
    cases = [
        ([inf, np.nan, 1.0], inf, inf),
        ([-inf, np.nan, np.nan, 5.0], -inf, -inf),
        ([inf, -inf, np.nan], math.nan, math.nan),
        ([MAX, MAX, np.nan], inf, MAX),  # sum overflows; the mean does not
    ]
    for values, want_sum, want_mean in cases:
        a = np.array(values)
        kept = gathered(a)
        assert_same(bufsum.sum(a, nan_policy="omit"), bufsum.sum(kept))
        assert_same(bufsum.sum(a, nan_policy="omit"), want_sum)
        assert_same(bufsum.fsum(a, nan_policy="omit"), want_sum)
        assert_same(bufsum.mean(a, nan_policy="omit"), want_mean)
        for name in ("var", "std"):
            want = math.nan if any(math.isinf(v) for v in kept.tolist()) else oracle(name, kept)
            assert_same(getattr(bufsum, name)(a, nan_policy="omit"), want)
        without_nan = np.array([v for v in values if not math.isnan(v)])
        for name in FUNCS:
            _call(name, without_nan, nan_policy="raise")  # infinities alone never raise
    # a pair with inf and a NaN partner goes; inf·0 on a kept pair is NaN
    x = np.array([inf, 2.0, 3.0])
    y = np.array([np.nan, 4.0, 0.5])
    assert_same(bufsum.fdot(x, y, nan_policy="omit"), 9.5)
    assert_same(bufsum.dot(x, y, nan_policy="omit"), 9.5)
    assert math.isnan(bufsum.fdot(x, np.array([0.0, 1.0, np.nan]), nan_policy="omit"))


def test_all_nan_and_empty() -> None:
    for n in (1, 5, 300, BLOCK + 1):
        a = np.full(n, np.nan)
        assert_same(bufsum.sum(a, nan_policy="omit"), 0.0)
        assert_same(bufsum.fsum(a, nan_policy="omit"), 0.0)
        assert_same(bufsum.dot(a, a, nan_policy="omit"), 0.0)
        assert_same(bufsum.fdot(a, np.ones(n), nan_policy="omit"), 0.0)
        for name in ("mean", "var", "std"):
            assert_same(both_paths(lambda: getattr(bufsum, name)(a, nan_policy="omit"), name), math.nan)
            assert_same(getattr(bufsum, name)(a), math.nan)
            with pytest.raises(ValueError, match=rf"\b{n}\b"):
                getattr(bufsum, name)(a, nan_policy="raise")
        z = np.full(n, complex(np.nan, 1.0))
        assert_same(bufsum.sum(z, nan_policy="omit"), 0j)
        m = bufsum.mean(z, nan_policy="omit")
        assert isinstance(m, complex) and math.isnan(m.real) and math.isnan(m.imag)
    # one value left: var 0, ddof=1 NaN
    a = np.array([np.nan, 3.5, np.nan])
    assert_same(bufsum.var(a, nan_policy="omit"), 0.0)
    assert_same(bufsum.std(a, nan_policy="omit", ddof=1), math.nan)
    assert_same(bufsum.mean(a, nan_policy="omit"), 3.5)


def test_mean_divides_by_the_non_nan_count() -> None:
    a = np.array([1.0, np.nan, 2.0, np.nan, np.nan, 4.0])
    assert_same(bufsum.mean(a, nan_policy="omit"), 7.0 / 3.0)
    assert_same(bufsum.var(a, nan_policy="omit", ddof=1), oracle_var([1.0, 2.0, 4.0], 1))
    assert_same(bufsum.std(a, nan_policy="omit"), oracle_std([1.0, 2.0, 4.0], 0))
    # NaN keeps counting in a tie: (1 + (1 + 2^-52)) / 2 ties to 1.0 only if NaNs are not counted
    b = np.array([1.0, np.nan] * 200 + [1.0 + 2.0**-52] * 200)
    assert_same(both_paths(lambda: bufsum.mean(b, nan_policy="omit"), "mean"), 1.0)


# =============================================================================================
# Arrow: nulls are absent (not NaN), whatever their slots hold


def test_arrow_nan_bits_under_nulls_are_not_nan() -> None:
    pa = pytest.importorskip("pyarrow")
    n = 1000
    data = np.arange(n, dtype=np.float64) * 0.25
    null = np.zeros(n, bool)
    null[::7] = True
    data_with_junk = data.copy()
    data_with_junk[null] = np.nan
    validity = np.packbits(~null, bitorder="little").tobytes()
    arr = pa.Array.from_buffers(pa.float64(), n, [pa.py_buffer(validity), pa.py_buffer(data_with_junk.tobytes())], null_count=int(null.sum()))
    assert arr.null_count == int(null.sum())
    kept = np.ascontiguousarray(data[~null])
    for policy in ("propagate", "omit", "raise"):
        assert_same(bufsum.sum(arr, nan_policy=policy), bufsum.sum(kept), policy)
        assert_same(bufsum.fsum(arr, nan_policy=policy), oracle("fsum", kept), policy)
        assert_same(bufsum.mean(arr, nan_policy=policy), oracle("mean", kept), policy)
        assert_same(bufsum.var(arr, nan_policy=policy, ddof=1), oracle("var", kept, ddof=1), policy)
        assert_same(bufsum.dot(arr, arr, nan_policy=policy), bufsum.dot(kept, kept), policy)
    sliced = arr.slice(3, 500)
    kept_s = np.ascontiguousarray(data[3:503][~null[3:503]])
    assert_same(bufsum.sum(sliced, nan_policy="raise"), bufsum.sum(kept_s))
    # a real NaN among them is counted (and only it)
    data_with_junk[1] = np.nan
    arr2 = pa.Array.from_buffers(pa.float64(), n, [pa.py_buffer(validity), pa.py_buffer(data_with_junk.tobytes())], null_count=int(null.sum()))
    with pytest.raises(ValueError, match=r"\b1 NaN\b"):
        bufsum.sum(arr2, nan_policy="raise")
    kept2 = np.ascontiguousarray(data[~null & (np.arange(n) != 1)])
    assert_same(bufsum.sum(arr2, nan_policy="omit"), bufsum.sum(kept2))
    assert math.isnan(bufsum.sum(arr2))


def test_polars_nan_and_null() -> None:
    pl = pytest.importorskip("polars")
    s = pl.Series([1.0, None, float("nan"), 2.5, None, float("nan"), 4.0])
    kept = np.array([1.0, 2.5, 4.0])
    assert math.isnan(bufsum.sum(s)) and math.isnan(bufsum.mean(s))
    with pytest.raises(ValueError, match=r"\b2\b"):
        bufsum.mean(s, nan_policy="raise")
    assert_same(bufsum.sum(s, nan_policy="omit"), bufsum.sum(kept))
    assert_same(bufsum.mean(s, nan_policy="omit"), oracle("mean", kept))
    assert_same(bufsum.std(s, nan_policy="omit", ddof=1), oracle("std", kept, ddof=1))


# =============================================================================================
# axis + nan_policy


def _axis_rows(a: np.ndarray, axis: Any) -> tuple[tuple[int, ...], list[np.ndarray]]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(sorted(x % a.ndim for x in axes))  # a slice is in C order of its own shape
    keep = [d for d in range(a.ndim) if d not in axes]
    moved = np.transpose(a, keep + list(axes))
    shape = tuple(a.shape[d] for d in keep)
    rows = moved.reshape(int(np.prod(shape, dtype=np.int64)), int(np.prod([a.shape[d] for d in axes], dtype=np.int64)))
    return shape, list(rows)


@pytest.mark.parametrize("layout", ["C", "F", "strided", "byte-swapped"])
def test_axis_with_omit_is_the_function_of_each_gathered_slice(layout: str) -> None:
    rng = np.random.default_rng(12)
    a = rng.standard_normal((4, 6, 90)) * 10.0 ** rng.integers(-50, 50, (4, 6, 90))
    a[rng.random(a.shape) < 0.2] = np.nan
    a[0, 0, :] = np.nan  # an all-NaN slice
    a[1, 2, :-1] = np.nan  # one value left
    b = {"C": a, "F": np.asfortranarray(a), "strided": np.repeat(a, 2, axis=1)[:, ::2], "byte-swapped": a.astype(">f8")}[layout]
    y = rng.standard_normal(a.shape)
    y[rng.random(a.shape) < 0.1] = np.nan
    for axis in (0, 1, 2, -1, (0, 2), (2, 1), (0, 1, 2)):
        shape, rows = _axis_rows(a, axis)
        _, yrows = _axis_rows(y, axis)
        for name in ("sum", "fsum", "mean", "var", "std", "dot", "fdot"):
            kw = {"ddof": 1} if name in ("var", "std") else {}
            if name in ("dot", "fdot"):
                got = both_paths(lambda: getattr(bufsum, name)(b, y, axis=axis, nan_policy="omit"), name)
            else:
                got = both_paths(lambda: getattr(bufsum, name)(b, axis=axis, nan_policy="omit", **kw), name)
            arr = np.asarray(got)
            assert arr.shape == shape
            for i, (g, r, yr) in enumerate(zip(arr.ravel().tolist(), rows, yrows)):
                what = f"{name} omit axis={axis} {layout} entry {i}"
                if name == "sum":
                    assert_same(g, bufsum.sum(gathered(r)), what)
                elif name == "dot":
                    k = ~(np.isnan(r) | np.isnan(yr))
                    assert_same(g, gathered_dot(np.ascontiguousarray(r[k]), np.ascontiguousarray(yr[k])), what)
                elif name == "fdot":
                    k = ~(np.isnan(r) | np.isnan(yr))
                    assert_same(g, oracle_fdot(vals(r[k]), vals(yr[k])), what)
                else:
                    assert_same(g, oracle(name, gathered(r), ddof=kw.get("ddof", 0)), what)
        # raise: counts every NaN, writes nothing
        out = np.full(shape, 7.0)
        for name in ("sum", "fsum", "mean", "var", "std"):
            with pytest.raises(ValueError, match=rf"\b{int(np.isnan(a).sum())}\b"):
                getattr(bufsum, name)(b, axis=axis, out=out, nan_policy="raise")
            assert np.all(out == 7.0)


def test_omit_with_out_and_keepdims() -> None:
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, 2.0, np.nan]])
    for name, want in [("sum", [4.0, 0.0, 4.0]), ("mean", [2.0, math.nan, 2.0]), ("var", [1.0, math.nan, 0.0]),
                       ("std", [1.0, math.nan, 0.0]), ("fsum", [4.0, 0.0, 4.0])]:
        out = np.full((3, 1), 7.0)
        assert getattr(bufsum, name)(a, axis=1, keepdims=True, out=out, nan_policy="omit") is out
        for g, w in zip(out.ravel().tolist(), want):
            assert_same(g, w, name)


# =============================================================================================
# Hypothesis: NaN patterns x layouts x chunkings, bits of sum and dot


@st.composite
def nan_arrays(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.sampled_from([0, 1, 2, 31, 255, 256, 257, BLOCK - 1, BLOCK + 1, 2 * BLOCK + 100]))
    dt = draw(st.sampled_from(["f8", "f4", "f2", "c16"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    density = draw(st.sampled_from([0.0, 0.001, 0.1, 0.5, 0.9, 1.0]))
    pat = rng.random(n) < density
    if n and draw(st.booleans()):
        start = draw(st.integers(0, n - 1))
        pat[start: start + draw(st.integers(0, n))] = True
    return with_nans(n, pat, rng, dt)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_hypothesis_omit_bits(data: st.DataObject) -> None:
    a = data.draw(nan_arrays(), label="a")
    rng = np.random.default_rng(a.size)
    sources = list(layouts(a))
    if a.dtype.kind == "f" and a.dtype.itemsize >= 4:
        sources += list(arrow_layouts(a, rng))
    lname, obj, logical = sources[data.draw(st.integers(0, len(sources) - 1), label="layout")]
    note(f"layout: {lname}")
    threads = data.draw(st.sampled_from([None, 1, 2, 4]), label="threads")
    kept = gathered(logical)
    assert_same(bufsum.sum(obj, nan_policy="omit", threads=threads), bufsum.sum(kept), f"sum via {lname}")
    assert_same(bufsum.fsum(obj, nan_policy="omit", threads=threads), oracle("fsum", kept), f"fsum via {lname}")
    assert_same(bufsum.mean(obj, nan_policy="omit", threads=threads), oracle("mean", kept), f"mean via {lname}")
    if a.dtype.kind == "f":
        ddof = data.draw(st.integers(0, 2), label="ddof")
        assert_same(bufsum.var(obj, nan_policy="omit", ddof=ddof, threads=threads), oracle("var", kept, ddof=ddof), f"var via {lname}")
        y = np.asarray(logical).ravel().copy()[::-1].copy().reshape(np.asarray(logical).shape)
        x = np.asarray(logical)
        keep = ~(isnan_elem(x.ravel()) | isnan_elem(y.ravel()))
        gx, gy = np.ascontiguousarray(x.ravel()[keep]), np.ascontiguousarray(y.ravel()[keep])
        assert_same(bufsum.dot(x, y, nan_policy="omit", threads=threads), gathered_dot(gx, gy), f"dot {lname}")
        assert_same(bufsum.fdot(x, y, nan_policy="omit", threads=threads), oracle("fdot", gx, gy), f"fdot {lname}")


def test_complex_dot_omit() -> None:
    """A complex element is NaN when either part is; the pair goes; dot keeps the gathered bits
    and fdot is each part of the exact Σ x·y (no conjugation) rounded once."""
    rng = np.random.default_rng(17)
    for n in (9, 700):
        for pname, pat in nan_patterns(n, rng).items():
            x = with_nans(n, pat, rng, "c16")
            for y in (rng.standard_normal(n), with_nans(n, np.roll(pat, 3), rng, "c16")):
                keep = ~(isnan_elem(x) | isnan_elem(y))
                gx, gy = np.ascontiguousarray(x[keep]), np.ascontiguousarray(y[keep])
                got = bufsum.dot(x, y, nan_policy="omit")
                if gx.size:
                    assert_same(got, bufsum.dot(gx, gy), f"complex dot omit {pname}")
                else:
                    assert got == 0 and not (math.isnan(got.real) or math.isnan(got.imag))
                yc = gy.astype(np.complex128)
                re = oracle_fdot(vals(gx.real) + vals(-gx.imag), vals(yc.real) + vals(yc.imag))
                im = oracle_fdot(vals(gx.real) + vals(gx.imag), vals(yc.imag) + vals(yc.real))
                assert_same(both_paths(lambda: bufsum.fdot(x, y, nan_policy="omit"), "fdot"), complex(re, im), f"complex fdot omit {pname}")


def test_dot_zero_results_have_one_sign_whatever_the_path() -> None:
    """dot's reproducibility covers the sign of a zero result: the same pairs give the same bits
    whatever the byte order, layout, length class or thread count, and 'omit' gives the bits of
    the gathered pairs (the SPEC does not say which zero; it says one)."""
    for n in (1, 2, 300, BLOCK, BLOCK + 1, 5000):
        z = np.full(n, -0.0)
        one = np.ones(n)
        variants = {
            "native": bufsum.dot(z, one),
            "big-endian x": bufsum.dot(z.astype(">f8"), one),
            "strided x": bufsum.dot(np.repeat(z, 2)[::2], one),
            "threads=2": bufsum.dot(z, one, threads=2),
            "omit with a NaN pair appended": bufsum.dot(np.append(z, np.nan), np.append(one, 1.0), nan_policy="omit"),
        }
        signs = {k: math.copysign(1.0, v) for k, v in variants.items()}
        assert len(set(signs.values())) == 1, f"n={n}: the sign of dot's zero depends on the path: {signs}"
