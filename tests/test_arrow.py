"""Arrow inputs (the PyCapsule interface): pyarrow arrays and chunked arrays, polars Series, and a
ctypes producer that counts its release callbacks. Nulls are absent values."""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
import pytest

import bufsum
from conftest import f64_bits
from producers import ArrowProducer, Chunk, bitmap

pa = pytest.importorskip("pyarrow")

INT_TYPES = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOAT_TYPES = ["float16", "float32", "float64"]


def values_of(arr: object) -> list:
    """The non-null values of a pyarrow array or chunked array, as Python numbers."""
    return [v for v in arr.to_pylist() if v is not None]  # type: ignore[attr-defined]


def gathered_sum_bits(arr: object, dtype: str = "float64") -> int:
    """`sum` of the non-null values gathered into one contiguous NumPy array."""
    return f64_bits(bufsum.sum(np.array(values_of(arr), dtype=dtype)))


def random_column(n: int, seed: int, null_rate: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))
    return x, rng.random(n) < null_rate


@pytest.mark.parametrize("typ", INT_TYPES + ["bool"])
def test_integer_and_bool_types_exact(typ: str) -> None:
    rng = np.random.default_rng(1)
    if typ == "bool":
        vals = [bool(v) for v in rng.integers(0, 2, 1000)]
    else:
        info = np.iinfo(typ)
        vals = [int(v) for v in rng.integers(info.min, info.max, 1000, dtype=typ, endpoint=True)]
    with_nulls = [None if i % 7 == 3 else v for i, v in enumerate(vals)]
    arr = pa.array(with_nulls, type=getattr(pa, typ if typ != "bool" else "bool_")())
    want = sum(int(v) for v in with_nulls if v is not None)
    assert bufsum.sum(arr) == want and type(bufsum.sum(arr)) is int
    assert bufsum.fsum(arr) == float(want)
    for sl in [arr.slice(3), arr.slice(5, 600), arr.slice(999)]:
        assert bufsum.sum(sl) == sum(int(v) for v in sl.to_pylist() if v is not None)


@pytest.mark.parametrize("typ", FLOAT_TYPES)
def test_float_types_with_nulls(typ: str) -> None:
    x, null = random_column(5000, 2, 0.1)
    x = (x / 2**21).astype(typ)  # inside float16's range
    arr = pa.array(x, mask=null)
    vals = values_of(arr)
    assert bufsum.fsum(arr) == math.fsum(vals)
    assert f64_bits(bufsum.sum(arr)) == f64_bits(bufsum.sum(np.array(vals, dtype=typ)))
    assert abs(bufsum.sum(arr) - math.fsum(vals)) <= 1e-12 * math.fsum(map(abs, vals))


def test_bits_do_not_depend_on_chunking_or_offsets() -> None:
    x, null = random_column(100_003, 3, 0.1)
    arr = pa.array(x, mask=null)
    want = gathered_sum_bits(arr)
    rng = np.random.default_rng(4)
    for k in [1, 2, 7, 50]:
        cuts = sorted(rng.integers(0, len(x), k - 1).tolist())
        bounds = [0, *cuts, len(x)]
        chunked = pa.chunked_array([arr.slice(a, b - a) for a, b in zip(bounds, bounds[1:])])
        assert chunked.num_chunks == k
        assert f64_bits(bufsum.sum(chunked)) == want
        assert bufsum.fsum(chunked) == math.fsum(values_of(arr))
    # Slices start at offsets inside the validity bitmap's bytes.
    for start in [1, 3, 8, 63, 2049]:
        sl = arr.slice(start, 40_000)
        assert f64_bits(bufsum.sum(sl)) == gathered_sum_bits(sl)
        assert bufsum.fsum(sl) == math.fsum(values_of(sl))


def test_without_nulls_same_bits_as_numpy_buffer() -> None:
    x, _ = random_column(70_001, 5, 0)
    for arr in [pa.array(x), pa.chunked_array([x[:10], x[10:5000], x[5000:]])]:
        assert f64_bits(bufsum.sum(arr)) == f64_bits(bufsum.sum(x))
        assert bufsum.fsum(arr) == bufsum.fsum(x) == math.fsum(x.tolist())


def test_nulls_everywhere_nowhere_all() -> None:
    assert bufsum.sum(pa.array([None, None], type=pa.float64())) == 0.0
    assert bufsum.sum(pa.array([None, None], type=pa.int32())) == 0
    assert bufsum.fsum(pa.array([None] * 100, type=pa.float32())) == 0.0
    assert bufsum.sum(pa.array([], type=pa.float64())) == 0.0
    assert bufsum.sum(pa.chunked_array([], type=pa.int64())) == 0
    assert bufsum.sum(pa.array([1.5, 2.5])) == 4.0
    # NaN is a value, null is not.
    assert math.isnan(bufsum.sum(pa.array([1.0, float("nan"), None])))
    assert bufsum.sum(pa.array([1.0, None, 2.0], type=pa.float16())) == 3.0


def test_huge_int64_exact_and_fsum_correctly_rounded() -> None:
    vals = [2**63 - 1, 2**63 - 1, None, -(2**63), 12345]
    arr = pa.array(vals, type=pa.int64())
    exact = sum(v for v in vals if v is not None)
    assert bufsum.sum(arr) == exact
    assert bufsum.fsum(arr) == float(Fraction(exact))


@pytest.mark.parametrize("typ", ["string", "date32", "timestamp", "decimal", "list", "dictionary", "struct", "null"])
def test_unsupported_types_name_the_arrow_type(typ: str) -> None:
    arr = {
        "string": lambda: pa.array(["a", "b"]),
        "date32": lambda: pa.array([1, 2], type=pa.date32()),
        "timestamp": lambda: pa.array([1, 2], type=pa.timestamp("s")),
        "decimal": lambda: pa.array([1, 2], type=pa.decimal128(10, 2)),
        "list": lambda: pa.array([[1.0], [2.0]]),
        "dictionary": lambda: pa.array([1.0, 2.0]).dictionary_encode(),
        "struct": lambda: pa.table({"a": [1.0]}),
        "null": lambda: pa.array([None, None]),
    }[typ]()
    for f in (bufsum.sum, bufsum.fsum, bufsum.cumsum, bufsum.Accumulator().add):
        with pytest.raises(TypeError, match="Arrow"):
            f(arr)


def test_axis_on_arrow_inputs() -> None:
    arr = pa.array([1, None, 3, 4], type=pa.int16())
    m = bufsum.sum(arr, axis=0)
    assert m.shape == () and m.format == "q" and m.tolist() == 8
    assert bufsum.sum(arr, axis=-1, keepdims=True).tolist() == [8]
    assert bufsum.fsum(pa.chunked_array([[1.0, None], [2.0]]), axis=(0,)).tolist() == 3.0
    out = np.zeros((), dtype=np.float64)
    assert bufsum.fsum(arr, axis=0, out=out) is out and out == 8.0
    dense = pa.array([1.0, 2.0])
    assert bufsum.sum(dense, axis=0).tolist() == 3.0
    for bad in [1, (0, 0), ()]:
        with pytest.raises(ValueError):
            bufsum.sum(arr, axis=bad)


def test_cumsum_of_arrow() -> None:
    arr = pa.chunked_array([[1, 2], [3], [4, 5]], type=pa.int8())
    assert bufsum.cumsum(arr).tolist() == [1, 3, 6, 10, 15]
    floats = pa.array([0.5, 0.25, None, 1.0]).slice(0, 2)  # validity bitmap, no null in range
    assert bufsum.cumsum(floats).tolist() == [0.5, 0.75]
    out = np.zeros(5, dtype=np.int64)
    assert bufsum.cumsum(arr, out=out) is out and out.tolist() == [1, 3, 6, 10, 15]
    bools = pa.array([True, False, True, True])
    assert bufsum.cumsum(bools).tolist() == [1, 1, 2, 3]
    with pytest.raises(ValueError, match="null"):
        bufsum.cumsum(pa.array([1.0, None, 2.0]))
    out = np.full(3, 7.0)
    with pytest.raises(ValueError):
        bufsum.cumsum(pa.chunked_array([[1.0], [None, 2.0]]), out=out)
    assert out.tolist() == [7.0, 7.0, 7.0]  # untouched on error


def test_cumsum_in_place_over_zero_copy_arrow() -> None:
    x = np.arange(6, dtype=np.float64)
    arr = pa.array(x)  # zero-copy view of x
    assert bufsum.cumsum(arr, out=x) is x
    assert x.tolist() == [0.0, 1.0, 3.0, 6.0, 10.0, 15.0]


def test_accumulator_skips_and_does_not_count_nulls() -> None:
    acc = bufsum.Accumulator()
    acc.add(pa.array([1.0, None, 2.0]))
    acc.add(pa.chunked_array([[None], [10, 20]], type=pa.int32()))
    acc.add(pa.array([True, None, True]))
    assert acc.value == 35.0 and acc.count == 6
    with pytest.raises(TypeError, match="list"):
        acc.add([1.0])


# --------------------------------------------------------------------------------------------
# Release callbacks, through a producer that counts them.


def f64_chunk(vals: list[float], valid: list[bool] | None = None, offset: int = 0) -> Chunk:
    pad = [0.0] * offset
    v = bitmap(valid, pad=offset) if valid is not None else None
    return Chunk(struct.pack(f"<{len(pad) + len(vals)}d", *pad, *vals), len(vals), v, offset)


def test_release_exactly_once_on_success() -> None:
    for stream in [True, False]:
        chunks = [f64_chunk([1.0, 2.0, 4.0], [True, False, True], offset=3)]
        if stream:
            chunks += [f64_chunk([8.0]), f64_chunk([16.0, 32.0], [False, True], offset=9)]
        p = ArrowProducer("g", chunks, stream=stream)
        assert bufsum.sum(p) == (45.0 if stream else 5.0)
        assert p.released == p.exported, (stream, p.released, p.exported)


def test_release_exactly_once_on_errors() -> None:
    # Unsupported type (after the export was taken).
    p = ArrowProducer("u", [Chunk(b"", 0)])
    with pytest.raises(TypeError, match="string"):
        bufsum.sum(p)
    assert p.released == p.exported == {"schema": 1, "array": 0, "stream": 1}
    # A stream that fails midway: the chunks already taken are released too.
    p = ArrowProducer("i", [Chunk(struct.pack("<2i", 1, 2), 2)] * 3, fail_at=2)
    with pytest.raises(BufferError, match="failed on purpose"):
        bufsum.fsum(p)
    assert p.released == p.exported == {"schema": 1, "array": 2, "stream": 1}
    # cumsum refusing nulls; Accumulator on complex-free data; axis error after acquisition.
    p = ArrowProducer("g", [f64_chunk([1.0, 2.0], [True, False])])
    with pytest.raises(ValueError):
        bufsum.cumsum(p)
    with pytest.raises(ValueError):
        bufsum.sum(p, axis=1)
    assert p.released == p.exported


def test_bool_bits_at_odd_offsets() -> None:
    vals = [bool((i * 37) % 5 < 2) for i in range(300)]
    valid = [i % 11 != 0 for i in range(300)]
    for offset in [0, 1, 5, 13]:
        c = Chunk(bitmap(vals, pad=offset), 300, bitmap(valid, pad=offset), offset)
        p = ArrowProducer("b", [c], stream=False)
        assert bufsum.sum(p) == sum(v for v, ok in zip(vals, valid) if ok)
        assert p.released == p.exported


def test_null_count_zero_ignores_the_bitmap() -> None:
    # null_count 0 means every value is present, whatever the bitmap bytes say.
    c = Chunk(struct.pack("<3d", 1.0, 2.0, 4.0), 3, bitmap([False, False, False]), 0, null_count=0)
    assert bufsum.sum(ArrowProducer("g", [c], stream=False)) == 7.0


def test_arrow_release_before_return_lets_buffers_go() -> None:
    # The bytearray under a zero-copy pyarrow buffer can be resized once bufsum released it.
    raw = bytearray(struct.pack("<4d", 1, 2, 3, 4))
    arr = pa.Array.from_buffers(pa.float64(), 4, [None, pa.py_buffer(raw)])
    assert bufsum.sum(arr) == 10.0
    del arr
    raw.extend(b"x")


# --------------------------------------------------------------------------------------------
# polars


pl = pytest.importorskip("polars")


@pytest.mark.parametrize("dtype", ["Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64", "Float32", "Float64", "Boolean"])
def test_polars_series(dtype: str) -> None:
    rng = np.random.default_rng(6)
    raw = rng.integers(0, 100, 3000).tolist()
    vals = [None if i % 9 == 4 else (bool(v % 2) if dtype == "Boolean" else v) for i, v in enumerate(raw)]
    s = pl.Series(vals, dtype=getattr(pl, dtype))
    want = sum(int(v) for v in vals if v is not None)
    assert bufsum.sum(s) == want
    assert bufsum.fsum(s) == float(want)


def test_polars_chunked_bits() -> None:
    x, null = random_column(30_000, 7, 0.2)
    vals = [None if n else float(v) for v, n in zip(x, null)]
    whole = pl.Series(vals)
    parts = pl.concat([pl.Series(vals[:1000]), pl.Series(vals[1000:17_000]), pl.Series(vals[17_000:])], rechunk=False)
    assert parts.n_chunks() == 3
    want = f64_bits(bufsum.sum(np.array([v for v in vals if v is not None])))
    assert f64_bits(bufsum.sum(whole)) == want == f64_bits(bufsum.sum(parts))
    assert bufsum.fsum(parts) == math.fsum(v for v in vals if v is not None)
    acc = bufsum.Accumulator()
    acc.add(parts)
    assert acc.count == 30_000 - int(null.sum()) and acc.value == bufsum.fsum(whole)


def test_gil_released_for_large_arrow_inputs() -> None:
    from conftest import gil_released_during

    # 200 chunks viewing the same 10^6 values (with nulls): a long compacting walk, little memory.
    x, null = random_column(1_000_000, 8, 0.1)
    arr = pa.array(x, mask=null)
    chunked = pa.chunked_array([arr] * 200)
    assert gil_released_during(lambda: bufsum.sum(chunked))
    assert f64_bits(bufsum.sum(pa.chunked_array([arr] * 3))) == f64_bits(
        bufsum.sum(np.concatenate([x[~null]] * 3))
    )


def test_bits_across_random_chunkings_property() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=60, deadline=None)
    @hypothesis.given(
        st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64)), max_size=5000),
        st.lists(st.integers(0, 5000), max_size=6),
        st.integers(0, 7),
    )
    def check(vals: list, cuts: list[int], offset: int) -> None:
        arr = pa.array([0.0] * offset + vals, type=pa.float64()).slice(offset)
        bounds = sorted({0, len(vals), *[c for c in cuts if c <= len(vals)]})
        chunked = pa.chunked_array([arr.slice(a, b - a) for a, b in zip(bounds, bounds[1:])], type=pa.float64())
        present = [v for v in vals if v is not None]
        want = bufsum.sum(np.array(present, dtype=np.float64))
        assert f64_bits(bufsum.sum(chunked)) == f64_bits(want)
        try:
            exact = math.fsum(present)
        except OverflowError:  # math.fsum's intermediate overflow: compare with Fraction instead
            frac = sum(map(Fraction, present))
            try:
                exact = float(frac)
            except OverflowError:
                exact = math.inf if frac > 0 else -math.inf
        assert bufsum.fsum(chunked) == exact

    check()


def test_dot_and_add_products_take_arrow_with_nulls_as_absent_pairs() -> None:
    x = pa.array([1.0, 2.0, 3.0])
    y = pl.Series([4, 5, 6])
    assert bufsum.dot(x, y) == 32.0 and bufsum.fdot(x, np.array([4.0, 5.0, 6.0])) == 32.0
    acc = bufsum.Accumulator()
    acc.add_products(x, y)
    assert acc.value == 32.0 and acc.count == 3
    # A pair is absent when either element is null: the bits of dot over the present pairs.
    nulls = pa.chunked_array([[1.0, None], [3.0, 0.5]])
    z = np.array([2.0, 100.0, 4.0, 8.0])
    assert f64_bits(bufsum.dot(nulls, z)) == f64_bits(bufsum.dot(np.array([1.0, 3.0, 0.5]), np.array([2.0, 4.0, 8.0])))
    assert bufsum.fdot(nulls, z) == 18.0
    acc2 = bufsum.Accumulator()
    acc2.add_products(nulls, z)
    assert acc2.value == 18.0 and acc2.count == 3
    with pytest.raises(ValueError, match="same shape"):
        bufsum.fdot(x, pa.array([1.0]))
