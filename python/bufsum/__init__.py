"""Sum any buffer-protocol object in Rust, with the GIL released.

- ``sum``: reproducible float64 sums (same bits for any layout, byte order, thread count or
  CPU), exact integer sums, complex sums; per-axis with ``axis=``.
- ``fsum``: the correctly rounded sum, as ``math.fsum`` gives, without its overflow failures.
- ``cumsum``: running totals written GIL-free into a new ``array.array`` or a buffer you pass.
- ``Accumulator``: an exact, mergeable, picklable running sum for streams and clusters.
"""

from ._bufsum import Accumulator, cumsum, fsum, sum, _kernel, _restore_accumulator

__all__ = ["Accumulator", "cumsum", "fsum", "sum"]
__version__ = "0.1.0"
