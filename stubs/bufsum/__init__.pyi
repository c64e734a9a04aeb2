"""Type stubs for bufsum (shipped in the wheel next to the package, with py.typed)."""

from contextlib import AbstractContextManager

from ._bufsum import Accumulator as Accumulator
from ._bufsum import _kernel as _kernel
from ._bufsum import _restore_accumulator as _restore_accumulator
from ._bufsum import _set_force_exact as _set_force_exact
from ._bufsum import cumsum as cumsum
from ._bufsum import dot as dot
from ._bufsum import fdot as fdot
from ._bufsum import fsum as fsum
from ._bufsum import mean as mean
from ._bufsum import std as std
from ._bufsum import sum as sum
from ._bufsum import var as var

__all__ = ["Accumulator", "cumsum", "dot", "fdot", "fsum", "mean", "std", "sum", "var"]
__version__: str

def _force_exact() -> AbstractContextManager[None]:
    """Test switch: inside, correctly rounded functions run the exact accumulator."""
