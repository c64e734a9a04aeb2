"""Exact sums of dask arrays: ``bufsum.dask.fsum(x)`` (dask is an optional extra).

Each chunk is summed exactly into an ``Accumulator`` where it lives; the accumulators (small,
picklable) travel to one task that merges them. Merging is exact and order-free, so the result
equals ``bufsum.fsum(x.compute())`` for any chunking and any scheduler — threads, processes or
``dask.distributed``.
"""

from __future__ import annotations

from typing import Any

from ._bufsum import Accumulator

__all__ = ["fsum"]


def _partial(block: Any) -> tuple[Accumulator, ...]:
    import numpy as np

    block = np.asarray(block)
    if block.dtype.kind == "c":
        parts: tuple[Any, ...] = (block.real, block.imag)
    else:
        parts = (block,)
    accs = []
    for p in parts:
        acc = Accumulator()
        acc.add(p)
        accs.append(acc)
    return tuple(accs)


def _combine(partials: list[tuple[Accumulator, ...]], is_complex: bool) -> float | complex:
    totals = [Accumulator() for _ in range(2 if is_complex else 1)]
    for accs in partials:
        for total, acc in zip(totals, accs):
            total.merge(acc)
    if is_complex:
        return complex(totals[0].value, totals[1].value)
    return totals[0].value


def fsum(x: Any) -> Any:
    """The correctly rounded sum of a dask array, as a lazy ``dask.delayed`` value.

    ``fsum(x).compute()`` equals ``bufsum.fsum(x.compute())`` bit for bit.
    """
    import dask

    blocks = x.to_delayed().ravel().tolist()
    partials = [dask.delayed(_partial, pure=True)(b) for b in blocks]
    return dask.delayed(_combine, pure=True)(partials, x.dtype.kind == "c")
