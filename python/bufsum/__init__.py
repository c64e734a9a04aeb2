"""Sum any buffer-protocol object in Rust, with the GIL released.

- ``sum``: reproducible float64 sums (same bits for any layout, byte order, thread count or
  CPU), exact integer sums, complex sums; per-axis with ``axis=``.
- ``fsum``: the correctly rounded sum, as ``math.fsum`` gives, without its overflow failures.
- ``dot``/``fdot``: reproducible and correctly rounded dot products of two buffers.
- ``mean``/``var``/``std``: correctly rounded statistics, ``nan_policy`` as in scipy.stats.
- ``cumsum``: running totals written GIL-free into a new ``array.array`` or a buffer you pass.
- ``Accumulator``: an exact, mergeable, picklable running sum for streams and clusters.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from ._bufsum import (
    Accumulator,
    _kernel,
    _restore_accumulator,
    _set_force_exact,
    cumsum,
    dot,
    fdot,
    fsum,
    mean,
    std,
    sum,
    var,
)

__all__ = ["Accumulator", "cumsum", "dot", "fdot", "fsum", "mean", "std", "sum", "var"]
__version__ = "0.1.0"


@contextmanager
def _force_exact() -> Iterator[None]:
    """Test switch: inside, the correctly rounded functions skip their certified fast paths and
    run the exact accumulator (process-wide). Results are identical either way; tests use this
    to run every input through both paths."""
    previous = _set_force_exact(True)
    try:
        yield
    finally:
        _set_force_exact(previous)
