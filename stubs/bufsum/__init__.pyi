"""Type stubs for bufsum (shipped in the wheel next to the package, with py.typed)."""

from ._bufsum import Accumulator as Accumulator
from ._bufsum import _kernel as _kernel
from ._bufsum import _restore_accumulator as _restore_accumulator
from ._bufsum import cumsum as cumsum
from ._bufsum import fsum as fsum
from ._bufsum import sum as sum

__all__ = ["Accumulator", "cumsum", "fsum", "sum"]
__version__: str
