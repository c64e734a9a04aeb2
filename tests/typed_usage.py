"""Typed use of bufsum, checked by `mypy --strict` against the installed stubs (test_typing.py)."""

from __future__ import annotations

import array
import pickle

import bufsum

data = array.array("d", [1.0, 2.0, 3.0])
total: float = bufsum.sum(data)
exact: float = bufsum.fsum(data, threads=2)
by_row: memoryview = bufsum.sum(memoryview(data).cast("B").cast("d", [3, 1]), axis=1)
out = array.array("d", [0.0, 0.0, 0.0])
same: array.array[float] = bufsum.cumsum(data, out=out)
fresh: array.array[float] = bufsum.cumsum(b"\x01\x02")
into: array.array[float] = bufsum.sum(memoryview(data).cast("B").cast("d", [3, 1]), axis=(1,), out=out)

acc = bufsum.Accumulator()
acc.add(data)
acc.add(1.5)
acc.add(10**20)
acc.merge(bufsum.Accumulator())
value: float = acc.value
count: int = acc.count
restored: bufsum.Accumulator = pickle.loads(pickle.dumps(acc))
print(total, exact, by_row, same, fresh, into, value, count, float(restored))
