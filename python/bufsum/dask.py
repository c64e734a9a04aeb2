"""Exact reductions of dask arrays (dask is an optional extra): ``fsum``, ``fdot``, ``mean``,
``var`` and ``std``.

Each chunk is reduced exactly where it lives into small, picklable ``Accumulator`` states (the
exact sum, and for ``var``/``std`` the exact sum of squares); one task merges them. Merging is
exact and order-free, so every result equals the in-memory function's on ``x.compute()`` bit
for bit, for any chunking and any scheduler — threads, processes or ``dask.distributed``.
"""

from __future__ import annotations

from typing import Any

from ._bufsum import Accumulator, _stat_of_sums

__all__ = ["fdot", "fsum", "mean", "std", "var"]


def _dask_array(x: Any, func: str) -> Any:
    try:
        import dask.array as da
    except ImportError as e:  # pragma: no cover - the extra is missing
        raise ImportError(f"bufsum.dask.{func}() needs dask: pip install 'dask[array]'") from e
    if not isinstance(x, da.Array):
        raise TypeError(
            f"bufsum.dask.{func}() takes a dask array, not '{type(x).__name__}'; "
            f"for in-memory data use bufsum.{func}()"
        )
    return x


def _parts(block: Any) -> tuple[Any, ...]:
    import numpy as np

    block = np.asarray(block)
    return (block.real, block.imag) if block.dtype.kind == "c" else (block,)


def _sums(block: Any, squares: bool) -> tuple[tuple[Accumulator, Accumulator | None], ...]:
    """Per real part: the exact sum (and sum of squares) of a chunk."""
    out = []
    for p in _parts(block):
        total = Accumulator()
        total.add(p)
        sq = None
        if squares:
            sq = Accumulator()
            sq.add_products(p, p)
        out.append((total, sq))
    return tuple(out)


def _products(xb: Any, yb: Any) -> tuple[Accumulator, ...]:
    """Per real part of Σ x·y (no conjugation): the exact partial dot product of two chunks."""
    import numpy as np

    xs, ys = _parts(xb), _parts(yb)
    if len(xs) == 1 and len(ys) == 1:
        acc = Accumulator()
        acc.add_products(xs[0], ys[0])
        return (acc,)
    xr, xi = (xs[0], xs[1]) if len(xs) == 2 else (xs[0], None)
    yr, yi = (ys[0], ys[1]) if len(ys) == 2 else (ys[0], None)
    re, im = Accumulator(), Accumulator()
    re.add_products(xr, yr)
    if xi is not None and yi is not None:
        re.add_products(np.negative(xi), yi)  # negation is exact
    if yi is not None:
        im.add_products(xr, yi)
    if xi is not None:
        im.add_products(xi, yr)
    return (re, im)


def _merge(parts: list[tuple[Accumulator | None, ...]], k: int) -> tuple[Accumulator, ...]:
    totals = tuple(Accumulator() for _ in range(k))
    for accs in parts:
        for total, acc in zip(totals, accs):
            if acc is not None:
                total.merge(acc)
    return totals


def _finish_sum(partials: list[tuple[tuple[Accumulator, Any], ...]], is_complex: bool) -> float | complex:
    k = 2 if is_complex else 1
    totals = _merge([tuple(t for t, _ in p) for p in partials], k)
    return complex(totals[0].value, totals[1].value) if is_complex else totals[0].value


def _finish_stat(
    partials: list[tuple[tuple[Accumulator, Any], ...]], is_complex: bool, stat: str, ddof: int
) -> float | complex:
    k = 2 if is_complex else 1
    totals = _merge([tuple(t for t, _ in p) for p in partials], k)
    if stat == "mean":
        values = [_stat_of_sums(t, t, "mean", 0) for t in totals]
        return complex(*values) if is_complex else values[0]
    squares = _merge([tuple(q for _, q in p) for p in partials], 1)
    return _stat_of_sums(totals[0], squares[0], stat, ddof)


def _finish_dot(partials: list[tuple[Accumulator, ...]], k: int) -> float | complex:
    totals = _merge(list(partials), k)
    return complex(totals[0].value, totals[1].value) if k == 2 else totals[0].value


def _chunk_sums(x: Any, squares: bool) -> list[Any]:
    import dask

    return [dask.delayed(_sums, pure=True)(b, squares) for b in x.to_delayed().ravel().tolist()]


def fsum(x: Any) -> Any:
    """The correctly rounded sum of a dask array, as a lazy ``dask.delayed`` value.

    ``fsum(x).compute()`` equals ``bufsum.fsum(x.compute())`` bit for bit.
    """
    import dask

    x = _dask_array(x, "fsum")
    return dask.delayed(_finish_sum, pure=True)(_chunk_sums(x, False), x.dtype.kind == "c")


def mean(x: Any) -> Any:
    """The correctly rounded mean of a dask array, lazily; equals ``bufsum.mean(x.compute())``."""
    import dask

    x = _dask_array(x, "mean")
    return dask.delayed(_finish_stat, pure=True)(_chunk_sums(x, False), x.dtype.kind == "c", "mean", 0)


def _spread(x: Any, stat: str, ddof: int) -> Any:
    import dask

    x = _dask_array(x, stat)
    if x.dtype.kind == "c":
        raise TypeError(f"bufsum.dask.{stat}(): complex data is not supported; accepted are real dtypes")
    if ddof < 0:
        raise ValueError(f"bufsum.dask.{stat}(): ddof must be an int >= 0, got {ddof}")
    return dask.delayed(_finish_stat, pure=True)(_chunk_sums(x, True), False, stat, ddof)


def var(x: Any, ddof: int = 0) -> Any:
    """The correctly rounded variance of a dask array, lazily; equals
    ``bufsum.var(x.compute(), ddof=ddof)``."""
    return _spread(x, "var", ddof)


def std(x: Any, ddof: int = 0) -> Any:
    """The correctly rounded standard deviation of a dask array, lazily; equals
    ``bufsum.std(x.compute(), ddof=ddof)``."""
    return _spread(x, "std", ddof)


def fdot(x: Any, y: Any) -> Any:
    """The correctly rounded dot product of two dask arrays of the same shape (chunked alike or
    not), lazily; equals ``bufsum.fdot(x.compute(), y.compute())``."""
    import dask

    x, y = _dask_array(x, "fdot"), _dask_array(y, "fdot")
    if x.shape != y.shape:
        raise ValueError(f"bufsum.dask.fdot(): x and y must have the same shape, got {x.shape} and {y.shape}")
    y = y.rechunk(x.chunks)
    pairs = zip(x.to_delayed().ravel().tolist(), y.to_delayed().ravel().tolist())
    partials = [dask.delayed(_products, pure=True)(a, b) for a, b in pairs]
    k = 2 if "c" in (x.dtype.kind, y.dtype.kind) else 1
    return dask.delayed(_finish_dot, pure=True)(partials, k)
