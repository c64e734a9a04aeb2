"""Typed use of bufsum, checked by `mypy --strict` against the installed stubs (test_typing.py):
NumPy arrays (on every supported Python, through `__dlpack__` where NumPy's stubs lack
`__buffer__`), array.array, bytes, pyarrow and polars inputs; result types follow the input."""

from __future__ import annotations

import array
import pickle

import numpy as np
import numpy.typing as npt
import polars as pl  # type: ignore[import-not-found, unused-ignore]
import pyarrow as pa  # type: ignore[import-untyped, import-not-found, unused-ignore]

import bufsum

data = array.array("d", [1.0, 2.0, 3.0])
total: float = bufsum.sum(data)
exact: float = bufsum.fsum(data, threads=2)
count_bytes: int = bufsum.sum(b"\x01\x02")
ints: int = bufsum.sum(array.array("q", [1, 2]))
by_row: memoryview = bufsum.sum(memoryview(data).cast("B").cast("d", [3, 1]), axis=1)
out = array.array("d", [0.0, 0.0, 0.0])
same: array.array[float] = bufsum.cumsum(data, out=out)
fresh: array.array[float] = bufsum.cumsum(b"\x01\x02")
into: array.array[float] = bufsum.sum(memoryview(data).cast("B").cast("d", [3, 1]), axis=(1,), out=out)

# NumPy: float, integer, bool and complex arrays give float, int, int and complex.
f64: npt.NDArray[np.float64] = np.linspace(0.0, 1.0, 5)
np_float: float = bufsum.sum(f64)
np_f32: float = bufsum.fsum(f64.astype(np.float32))
np_int: int = bufsum.sum(np.arange(5, dtype=np.int32))
np_bool: int = bufsum.sum(np.ones(3, dtype=np.bool_))
np_complex: complex = bufsum.sum(np.ones(3, dtype=np.complex128))
np_fsum_complex: complex = bufsum.fsum(np.ones(3, dtype=np.complex64))
np_axis: memoryview = bufsum.fsum(f64.reshape(5, 1), axis=0, keepdims=True)
np_out = np.zeros(5)
np_into: npt.NDArray[np.float64] = bufsum.cumsum(f64, out=np_out)

# Arrow: polars Series (typed) and pyarrow arrays; Arrow types are never complex.
series = pl.Series([1.0, None, 2.0])
pl_sum: float = bufsum.sum(series)
pl_fsum: float = bufsum.fsum(series)
pa_sum: float = bufsum.sum(pa.array([1.0, None]))
pa_running: array.array[float] = bufsum.cumsum(pa.chunked_array([[1, 2], [3]]))

acc = bufsum.Accumulator()
acc.add(data)
acc.add(f64)
acc.add(series)
acc.add(1.5)
acc.add(10**20)
acc.merge(bufsum.Accumulator())
value: float = acc.value
count: int = acc.count
restored: bufsum.Accumulator = pickle.loads(pickle.dumps(acc))
print(total, exact, count_bytes, ints, by_row, same, fresh, into, value, count, float(restored))
print(np_float, np_f32, np_int, np_bool, np_complex, np_fsum_complex, np_axis, np_into)
print(pl_sum, pl_fsum, pa_sum, pa_running)
