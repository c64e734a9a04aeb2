"""Type stubs for the compiled module bufsum._bufsum (shipped in the wheel, with py.typed)."""

import sys
from array import array
from typing import Any, Literal, SupportsIndex, TypeVar, Union, final, overload

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:
    from typing_extensions import Buffer

_BLOCK: int

_Axis = Union[SupportsIndex, tuple[SupportsIndex, ...]]
_NanPolicy = Literal["propagate", "omit", "raise"]
_Out = TypeVar("_Out", bound=Buffer)

@overload
def sum(
    data: Buffer, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> Any:
    """Sum of a buffer's elements: float (reproducible float64), exact int, or complex."""

@overload
def sum(
    data: Buffer, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def sum(
    data: Buffer, /, *, axis: _Axis | None = None, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def fsum(
    data: Buffer, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> Any:
    """Correctly rounded sum: float (complex for complex data), as math.fsum gives."""

@overload
def fsum(
    data: Buffer, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def fsum(
    data: Buffer, /, *, axis: _Axis | None = None, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def dot(
    x: Buffer, y: Buffer, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> Any:
    """Dot product Σ x[i]·y[i]: exact int for integers, else a reproducible float (complex per part)."""

@overload
def dot(
    x: Buffer, y: Buffer, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def dot(
    x: Buffer, y: Buffer, /, *, axis: _Axis | None = None, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def fdot(
    x: Buffer, y: Buffer, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> Any:
    """Correctly rounded dot product: the exact Σ x[i]·y[i] rounded once (complex per part)."""

@overload
def fdot(
    x: Buffer, y: Buffer, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def fdot(
    x: Buffer, y: Buffer, /, *, axis: _Axis | None = None, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def cumsum(data: Buffer, /, *, out: None = None) -> array[Any]:
    """Running totals: float64 for floats, int64 for integers, written GIL-free."""

@overload
def cumsum(data: Buffer, /, *, out: _Out) -> _Out: ...
@final
class Accumulator:
    """An exact running sum of floats, integers and real buffers; mergeable and picklable."""

    def __new__(cls) -> Accumulator: ...
    def add(self, x: float | int | Buffer, /) -> None:
        """Add a float, an int, or every element of a buffer of a real format."""

    def add_products(self, x: Buffer, y: Buffer, /) -> None:
        """Add the exact dot product Σ x[i]·y[i] of two buffers of real formats."""

    def merge(self, other: Accumulator, /) -> None:
        """Add another accumulator's exact total and count."""

    @property
    def value(self) -> float:
        """The correctly rounded total."""

    @property
    def count(self) -> int:
        """Number of elements added."""

    def __float__(self) -> float: ...
    def __copy__(self) -> Accumulator: ...
    def __deepcopy__(self, memo: Any, /) -> Accumulator: ...
    def __reduce__(self) -> tuple[Any, ...]: ...

@final
class _ResultArray:
    """Owner of axis-reduction results; use it through memoryview."""

def _kernel() -> str: ...
def _set_force_exact(on: bool, /) -> bool: ...
def _combine_chunk_sums(totals: list[float], log2_blocks: int, last_full: bool, /) -> float: ...
def _restore_accumulator(state: bytes, count: int, /) -> Accumulator: ...
