"""Accumulator: exact, order-free, mergeable, picklable, thread-safe."""

from __future__ import annotations

import copy
import math
import pickle
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bufsum


def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.standard_normal(50_000) * 10.0 ** rng.integers(-200, 200, 50_000)


def test_chunked_reversed_and_merged_equal_fsum() -> None:
    a = data()
    want = math.fsum(a.tolist())
    acc = bufsum.Accumulator()
    for chunk in np.array_split(a, 17):
        acc.add(chunk)
    assert acc.value == want and acc.count == a.size
    rev = bufsum.Accumulator()
    for chunk in reversed(np.array_split(a[::-1], 5)):
        rev.add(chunk)
    assert rev.value == want
    parts = [bufsum.Accumulator() for _ in range(4)]
    for i, chunk in enumerate(np.array_split(a, 40)):
        parts[i % 4].add(chunk)
    total = bufsum.Accumulator()
    for p in reversed(parts):
        total.merge(p)
    assert total.value == want and float(total) == want and total.count == a.size


def test_scalars_ints_and_overflow_free() -> None:
    acc = bufsum.Accumulator()
    for x in [1e308, 1e308, -1e308, 10**30, -(10**30), 0.5, 2**200, -(2**200)]:
        acc.add(x)
    assert acc.value == 1e308 + 0.5 and acc.count == 8
    acc2 = bufsum.Accumulator()
    acc2.add(2**53)
    acc2.add(1)
    acc2.add(1)
    assert acc2.value == float(2**53 + 2)
    # Ints of any size are exact: a huge one and its negation leave the small total.
    acc2.add(2**5000)
    assert acc2.value == math.inf and acc2.count == 4
    acc2.add(-(2**5000))
    assert acc2.value == float(2**53 + 2) and acc2.count == 5


def test_pickle_copy_repr() -> None:
    acc = bufsum.Accumulator()
    acc.add(data())
    acc.add(math.inf)
    for clone in (pickle.loads(pickle.dumps(acc)), copy.copy(acc), copy.deepcopy(acc)):
        assert clone.value == acc.value and clone.count == acc.count
    finite = bufsum.Accumulator()
    finite.add(np.array([0.1] * 10))
    back = pickle.loads(pickle.dumps(finite))
    back.add(-1.0)
    assert back.value == math.fsum([0.1] * 10 + [-1.0]) and finite.value == 1.0
    assert repr(finite) == "Accumulator(value=1.0, count=10)"
    assert math.isnan(pickle.loads(pickle.dumps(_nan_acc())).value)


def _nan_acc() -> bufsum.Accumulator:
    acc = bufsum.Accumulator()
    acc.add(math.inf)
    acc.add(-math.inf)
    return acc


def test_rejects_bad_input() -> None:
    acc = bufsum.Accumulator()
    with pytest.raises(TypeError):
        acc.add("1.0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="complex"):
        acc.add(np.zeros(2, complex))
    with pytest.raises(TypeError):
        acc.add(np.array(["x"]))
    assert acc.count == 0


def test_shared_by_eight_threads() -> None:
    a = data()
    chunks = np.array_split(a, 64)
    acc = bufsum.Accumulator()
    others = [bufsum.Accumulator() for _ in range(8)]

    def work(i: int) -> None:
        for c in chunks[i::8]:
            if i % 2:
                acc.add(c)
            else:
                others[i].add(c)
                acc.merge(others[i])
                others[i] = bufsum.Accumulator()
            float(acc)
            repr(acc)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert acc.value == math.fsum(a.tolist()) and acc.count == a.size


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**70), 2**70)), max_size=30),
       st.randoms())
def test_order_never_matters(vals: list[float | int], rnd) -> None:  # type: ignore[no-untyped-def]
    a = bufsum.Accumulator()
    for v in vals:
        a.add(v)
    shuffled = list(vals)
    rnd.shuffle(shuffled)
    b = bufsum.Accumulator()
    half = bufsum.Accumulator()
    for i, v in enumerate(shuffled):
        (b if i % 2 else half).add(v)
    b.merge(half)
    assert a.value == b.value or (math.isnan(a.value) and math.isnan(b.value))
    assert a.count == b.count == len(vals)
