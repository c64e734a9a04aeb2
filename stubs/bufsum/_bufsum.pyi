"""Type stubs for the compiled module bufsum._bufsum (shipped in the wheel, with py.typed)."""

import sys
from array import array
from collections.abc import Sequence
from typing import Any, Literal, Protocol, SupportsIndex, TypeVar, Union, final, overload

if sys.version_info >= (3, 12):
    from collections.abc import Buffer
else:
    from typing_extensions import Buffer

_BLOCK: int

# The inputs every reading argument takes: the buffer protocol, Arrow arrays and streams (the
# Arrow PyCapsule interface) and DLPack tensors. NumPy's stubs declare `__buffer__` only on
# 3.12+, so on 3.11 its arrays type-check through `__dlpack__`.
class _ArrowArray(Protocol):
    def __arrow_c_array__(self, requested_schema: Any = None, /) -> object: ...

class _ArrowStream(Protocol):
    def __arrow_c_stream__(self, requested_schema: Any = None, /) -> object: ...

class _DLPack(Protocol):
    def __dlpack__(self, /) -> object: ...

_Input = Union[Buffer, _ArrowArray, _ArrowStream, _DLPack]

# Arrays whose elements read back as Python ints, floats or complex numbers (NumPy arrays and
# anything else with an `item()` of that type): they pick the result type of `sum`/`fsum`.
class _IntItems(Protocol):
    def item(self, /) -> int: ...

class _FloatItems(Protocol):
    def item(self, /) -> float: ...

class _ComplexItems(Protocol):
    def item(self, /) -> complex: ...

_Axis = Union[SupportsIndex, tuple[SupportsIndex, ...]]
_NanPolicy = Literal["propagate", "omit", "raise"]
# `out` is a writable buffer; NumPy arrays on 3.11 are known to type checkers by `__dlpack__`.
_Out = TypeVar("_Out", bound=Union[Buffer, _DLPack])

# Whole reductions: the result type follows the input's element type where the type says it
# (Arrow types are never complex); else a union.
@overload
def sum(
    data: Union[array[int], bytes, bytearray], /, *, axis: None = None, out: None = None,
    keepdims: Literal[False] = False, nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> int:
    """Sum of the elements: float (reproducible float64), exact int, or complex."""

@overload
def sum(
    data: array[float], /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float: ...
@overload
def sum(
    data: Union[_ArrowArray, _ArrowStream], /, *, axis: None = None, out: None = None,
    keepdims: Literal[False] = False, nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> int | float: ...
@overload
def sum(  # type: ignore[overload-overlap]  # an int item is also a float (and complex) item
    data: _IntItems, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> int: ...
@overload
def sum(  # type: ignore[overload-overlap]  # a float item is also a complex item
    data: _FloatItems, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float: ...
@overload
def sum(
    data: _ComplexItems, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> complex: ...
@overload
def sum(
    data: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> int | float | complex: ...
@overload
def sum(
    data: _Input, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False, nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None
) -> _Out: ...
@overload
def sum(
    data: _Input, /, *, axis: _Axis, out: None = None, keepdims: bool = False, nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None
) -> memoryview: ...
@overload
def sum(
    data: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[True], nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None
) -> memoryview: ...
@overload
def fsum(  # type: ignore[overload-overlap]  # a float item is also a complex item
    data: Union[array[int], array[float], bytes, bytearray, _FloatItems, _ArrowArray, _ArrowStream], /, *,
    axis: None = None, out: None = None, keepdims: Literal[False] = False, nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float:
    """Correctly rounded sum: float (complex for complex data), as math.fsum gives."""

@overload
def fsum(
    data: _ComplexItems, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> complex: ...
@overload
def fsum(
    data: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float | complex: ...
@overload
def fsum(
    data: _Input, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False, nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None
) -> _Out: ...
@overload
def fsum(
    data: _Input, /, *, axis: _Axis, out: None = None, keepdims: bool = False, nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None
) -> memoryview: ...
@overload
def fsum(
    data: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[True], nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None
) -> memoryview: ...
_Real = Union[array[int], array[float], bytes, bytearray, _FloatItems, _ArrowArray, _ArrowStream]

@overload
def dot(  # type: ignore[overload-overlap]  # array[int] is also a real input
    x: Union[array[int], bytes, bytearray], y: Union[array[int], bytes, bytearray], /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> int:
    """Dot product Σ x[i]·y[i]: exact int for integers, else a reproducible float (complex per part)."""

@overload
def dot(  # type: ignore[overload-overlap]  # an int item is also a float (and complex) item
    x: _IntItems, y: _IntItems, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> int: ...
@overload
def dot(  # type: ignore[overload-overlap]  # a float item is also a complex item
    x: _Real, y: _Real, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float: ...
@overload
def dot(
    x: _Input, y: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> int | float | complex: ...
@overload
def dot(
    x: _Input, y: _Input, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def dot(
    x: _Input, y: _Input, /, *, axis: _Axis, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def dot(
    x: _Input, y: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[True],
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def fdot(  # type: ignore[overload-overlap]  # a float item is also a complex item
    x: _Real, y: _Real, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float:
    """Correctly rounded dot product: the exact Σ x[i]·y[i] rounded once (complex per part)."""

@overload
def fdot(
    x: _Input, y: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float | complex: ...
@overload
def fdot(
    x: _Input, y: _Input, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def fdot(
    x: _Input, y: _Input, /, *, axis: _Axis, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def fdot(
    x: _Input, y: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[True],
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def mean(  # type: ignore[overload-overlap]  # a float item is also a complex item
    data: _Real, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float:
    """Correctly rounded mean: the exact sum over the count (complex: each part)."""

@overload
def mean(
    data: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float | complex: ...
@overload
def mean(
    data: _Input, /, *, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def mean(
    data: _Input, /, *, axis: _Axis, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def mean(
    data: _Input, /, *, axis: None = None, out: None = None, keepdims: Literal[True],
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def var(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float:
    """Correctly rounded variance Σ(x - m)² / (n - ddof), m the exact mean."""

@overload
def var(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def var(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: _Axis, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def var(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: None = None, out: None = None, keepdims: Literal[True],
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def std(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: None = None, out: None = None, keepdims: Literal[False] = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> float:
    """Correctly rounded standard deviation: the square root of the exact variance."""

@overload
def std(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: _Axis | None = None, out: _Out, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> _Out: ...
@overload
def std(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: _Axis, out: None = None, keepdims: bool = False,
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def std(
    data: _Input, /, *, ddof: SupportsIndex = 0, axis: None = None, out: None = None, keepdims: Literal[True],
    nan_policy: _NanPolicy | None = None, threads: SupportsIndex | None = None,
) -> memoryview: ...
@overload
def cumsum(data: _Input, /, *, out: None = None) -> array[Any]:
    """Running totals: float64 for floats, int64 for integers, written GIL-free."""

@overload
def cumsum(data: _Input, /, *, out: _Out) -> _Out: ...
@final
class Accumulator:
    """An exact running sum of floats, integers and real buffers; mergeable and picklable."""

    def __new__(cls) -> Accumulator: ...
    def add(self, x: float | int | _Input, /) -> None:
        """Add a float, an int, or every element (nulls skipped) of a real-typed input."""

    def add_products(self, x: _Input, y: _Input, /) -> None:
        """Add the exact dot product Σ x[i]·y[i] of two real-typed inputs."""

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
def _stat_of_sums(total: Accumulator, squares: Accumulator, stat: str, ddof: int, /) -> float: ...
def _reduce_bytes(
    data: Buffer, offset: int, format: str, itemsize: int, shape: Sequence[int], strides: Sequence[int],
    how: Literal["sum", "fsum", "exact"], /,
) -> Any: ...
def _after_fork_in_child() -> None: ...
