"""DLPack inputs: NumPy's own __dlpack__, a ctypes producer for bfloat16, float8, strides,
byte_offset, devices, flags and version negotiation, and PyTorch/JAX where installed."""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import bufsum
from conftest import f64_bits
from producers import BFLOAT, BOOL, COMPLEX, F8_E4M3FN, F8_E5M2, FLOAT, INT, UINT, DLPackProducer, capsule_name


class OnlyDLPack:
    """A NumPy array seen through `__dlpack__` alone (no buffer protocol)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def __dlpack__(self, **kw: Any) -> Any:
        return self.a.__dlpack__(**kw)

    def __dlpack_device__(self) -> Any:
        return self.a.__dlpack_device__()


@pytest.mark.parametrize("dtype", ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "?", "c8", "c16"])
def test_numpy_dlpack_matches_the_buffer_path(dtype: str) -> None:
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(3001) * 100).astype(dtype) if dtype[0] in "fc" else rng.integers(0, 100, 3001).astype(dtype)
    if dtype[0] == "c":
        a = a + 1j * a[::-1]
    for view in [a, a[::3], a[::-1], a[:3000].reshape(3, 1000, 1)[:, ::7]]:
        d = OnlyDLPack(view)
        for f in (bufsum.sum, bufsum.fsum):
            got, want = f(d), f(view)
            assert type(got) is type(want)
            if isinstance(want, float):
                assert f64_bits(got) == f64_bits(want)
            else:
                assert got == want


def test_numpy_dlpack_axis_and_cumsum_and_accumulator() -> None:
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1)
    d = OnlyDLPack(a)
    assert np.array_equal(np.asarray(bufsum.sum(d, axis=(0, 2))), a.sum(axis=(0, 2)))
    assert np.array_equal(np.asarray(bufsum.fsum(d, axis=1, keepdims=True)), a.sum(axis=1, keepdims=True))
    assert bufsum.cumsum(OnlyDLPack(np.arange(5, dtype=np.int16))).tolist() == [0, 1, 3, 6, 10]
    acc = bufsum.Accumulator()
    acc.add(d)
    assert acc.value == 276.0 and acc.count == 24
    assert bufsum.sum(OnlyDLPack(np.array(2.5, dtype=np.float32))) == 2.5  # 0-d
    assert bufsum.sum(OnlyDLPack(np.zeros((3, 0)))) == 0.0


def bf16_raw(vals: list[float]) -> tuple[bytes, list[float]]:
    """bfloat16 bytes of float32-truncated values, and the exact values they hold."""
    tops = [struct.unpack("<I", struct.pack("<f", v))[0] >> 16 for v in vals]
    exact = [struct.unpack("<f", struct.pack("<I", t << 16))[0] for t in tops]
    return struct.pack(f"<{len(tops)}H", *tops), exact


def test_bfloat16() -> None:
    rng = np.random.default_rng(2)
    raw, exact = bf16_raw((rng.standard_normal(10_007) * 1e3).tolist())
    p = DLPackProducer(raw, BFLOAT, 16, [len(exact)])
    assert f64_bits(bufsum.sum(p)) == f64_bits(bufsum.sum(np.array(exact)))
    assert bufsum.fsum(p) == math.fsum(exact)
    assert bufsum.cumsum(p).tolist() == np.cumsum(np.array(exact)).tolist()
    acc = bufsum.Accumulator()
    acc.add(p)
    assert acc.value == math.fsum(exact) and acc.count == len(exact)
    assert p.deleted == 4


def f8_value(b: int, exp_bits: int, finite_nan: bool) -> float:
    """An 8-bit float's value from its definition (independent of the library's table)."""
    mbits = 7 - exp_bits
    bias, top = 2 ** (exp_bits - 1) - 1, 2**exp_bits - 1
    sign = -1.0 if b >> 7 else 1.0
    e, m = (b >> mbits) & top, b & (2**mbits - 1)
    if finite_nan and e == top and m == 2**mbits - 1:
        return math.nan
    if not finite_nan and e == top:
        return sign * math.inf if m == 0 else math.nan
    if e == 0:
        return sign * m / 2**mbits * 2.0 ** (1 - bias)
    return sign * (1 + m / 2**mbits) * 2.0 ** (e - bias)


@pytest.mark.parametrize("code,exp_bits,finite_nan", [(F8_E4M3FN, 4, True), (F8_E5M2, 5, False)])
def test_float8(code: int, exp_bits: int, finite_nan: bool) -> None:
    finite = [b for b in range(256) if math.isfinite(f8_value(b, exp_bits, finite_nan))]
    vals = [f8_value(b, exp_bits, finite_nan) for b in finite]
    p = DLPackProducer(bytes(finite), code, 8, [len(finite)])
    assert bufsum.fsum(p) == math.fsum(vals)
    assert f64_bits(bufsum.sum(p)) == f64_bits(bufsum.sum(np.array(vals)))
    # Every byte, one at a time.
    for b in range(256):
        want = f8_value(b, exp_bits, finite_nan)
        got = bufsum.sum(DLPackProducer(bytes([b]), code, 8, []))
        assert got == want or (math.isnan(got) and math.isnan(want)), b


def test_strides_in_elements_negative_odd_and_byte_offset() -> None:
    x = np.arange(60, dtype=np.float64) * 1.5
    raw = x.tobytes()
    # Reversed: start at the last element through byte_offset, stride -1.
    p = DLPackProducer(raw, FLOAT, 64, [60], strides=[-1], byte_offset=59 * 8)
    assert bufsum.cumsum(p).tolist() == np.cumsum(x[::-1]).tolist()
    # Odd strides over a 2-d view, starting 3 elements in.
    p = DLPackProducer(raw, FLOAT, 64, [4, 5], strides=[11, 2], byte_offset=3 * 8)
    view = np.lib.stride_tricks.as_strided(x[3:], shape=(4, 5), strides=(88, 16))
    assert bufsum.sum(p) == view.sum()
    assert np.array_equal(np.asarray(bufsum.sum(p, axis=0)), view.sum(axis=0))
    # NULL strides: C order.
    p = DLPackProducer(raw, FLOAT, 64, [3, 20])
    assert np.array_equal(np.asarray(bufsum.fsum(p, axis=1)), x.reshape(3, 20).sum(axis=1))
    # Unaligned data through byte_offset.
    p = DLPackProducer(b"\0" + np.arange(9, dtype=np.int32).tobytes(), INT, 32, [9], byte_offset=1)
    assert bufsum.sum(p) == 36
    # Zero strides.
    p = DLPackProducer(raw, FLOAT, 64, [1000], strides=[0], byte_offset=8)
    assert bufsum.fsum(p) == 1500.0


def test_int_bool_complex_types() -> None:
    assert bufsum.sum(DLPackProducer(struct.pack("<3q", 2**62, 2**62, 5), INT, 64, [3])) == 2**63 + 5
    assert bufsum.sum(DLPackProducer(struct.pack("<2Q", 2**64 - 1, 1), UINT, 64, [2])) == 2**64
    assert bufsum.sum(DLPackProducer(bytes([1, 0, 2, 1]), BOOL, 8, [4])) == 3
    z = DLPackProducer(struct.pack("<4d", 1.0, 2.0, 3.0, -4.0), COMPLEX, 128, [2])
    assert bufsum.sum(z) == complex(4.0, -2.0) and bufsum.fsum(z) == complex(4.0, -2.0)
    assert bufsum.fsum(DLPackProducer(struct.pack("<2e", 1.0, 0.5), FLOAT, 16, [2])) == 1.5


def test_read_only_flag_is_fine_for_reading() -> None:
    p = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2], flags=1)
    assert bufsum.sum(p) == 3.0 and p.deleted == 1


def test_version_negotiation() -> None:
    # A 1.x producer is asked for a versioned capsule, and the capsule is marked consumed.
    p = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2])
    assert bufsum.sum(p) == 3.0
    assert p.requested == [(1, 1)]
    assert capsule_name(p.capsules[0]) == b"used_dltensor_versioned"
    # A legacy producer refuses the keyword: asked again without it.
    p = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2], legacy_only=True)
    assert bufsum.fsum(p) == 3.0
    assert p.requested == [None] and capsule_name(p.capsules[0]) == b"used_dltensor"
    # A producer that takes the keyword but still answers with a legacy capsule.
    p = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2], versioned=False)
    assert bufsum.sum(p) == 3.0 and capsule_name(p.capsules[0]) == b"used_dltensor"
    # An unknown major version is not read, but is deleted.
    p = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2], version=(2, 0))
    with pytest.raises(TypeError, match="version 2.0"):
        bufsum.sum(p)
    for q in (p,):
        del q
    assert p.deleted == 1


def test_deleter_called_exactly_once_on_every_path() -> None:
    ok = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2])
    for f in (bufsum.sum, bufsum.fsum, bufsum.cumsum, bufsum.Accumulator().add):
        f(ok)
    assert ok.deleted == 4
    errors = [
        (DLPackProducer(b"\0" * 16, FLOAT, 64, [2], device=(2, 0)), TypeError, "CUDA"),
        (DLPackProducer(b"\0" * 16, FLOAT, 64, [2], device=(8, 1)), TypeError, "Metal:1"),
        (DLPackProducer(b"\0" * 16, FLOAT, 32, [2], lanes=2), TypeError, "lanes 2"),
        (DLPackProducer(b"\0" * 16, 7, 8, [2]), TypeError, "float8_e3m4"),
        (DLPackProducer(b"\0" * 16, FLOAT, 64, [-1]), ValueError, "negative"),
        (DLPackProducer(b"\0" * 16, COMPLEX, 128, [1]), TypeError, "complex"),
    ]
    for p, exc, match in errors:
        with pytest.raises(exc, match=match):
            if exc is TypeError and "complex" in match:
                bufsum.cumsum(p)
            else:
                bufsum.sum(p)
        assert p.deleted == 1, match
    # An error after acquisition (bad axis) still deletes once.
    p = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2])
    with pytest.raises(ValueError):
        bufsum.sum(p, axis=3)
    assert p.deleted == 1


def test_cuda_host_memory_is_read() -> None:
    p = DLPackProducer(struct.pack("<2d", 1.0, 2.0), FLOAT, 64, [2], device=(3, 0))
    assert bufsum.sum(p) == 3.0


def test_exact_against_fraction() -> None:
    vals = [1e308, 1e308, -1e308, 2.0**-1074, -1.0, 3.0]
    p = DLPackProducer(struct.pack(f"<{len(vals)}d", *vals), FLOAT, 64, [len(vals)])
    assert bufsum.fsum(p) == float(sum(map(Fraction, vals)))


def test_buffer_refusal_falls_through_to_dlpack() -> None:
    # NumPy refuses a buffer for datetimes; this subclass also offers DLPack (bfloat16 1.0, 2.0).
    producer = DLPackProducer(struct.pack("<2H", 0x3F80, 0x4000), BFLOAT, 16, [2])

    class Refuses(np.ndarray):
        def __dlpack__(self, **kw: Any) -> Any:
            return producer.__dlpack__(**kw)

    r = np.zeros(2, dtype="M8[D]").view(Refuses)
    with pytest.raises(ValueError):
        memoryview(r)
    assert bufsum.sum(r) == 3.0 and producer.deleted == 1
    # Without another protocol the buffer protocol's own error is reported.
    with pytest.raises(TypeError, match="could not export a buffer"):
        bufsum.sum(np.zeros(2, dtype="M8[D]"))


def test_torch_and_jax_where_installed() -> None:
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        t = torch.arange(1000, dtype=torch.bfloat16)
        assert bufsum.fsum(t) == math.fsum(t.float().tolist())
        assert bufsum.sum(torch.arange(10, dtype=torch.int32)[::2]) == 20
    try:
        import jax.numpy as jnp
    except ImportError:
        jnp = None
    if jnp is not None:
        j = jnp.arange(100, dtype=jnp.bfloat16)
        assert bufsum.fsum(j) == math.fsum(np.asarray(j, dtype=np.float64).tolist())
    if torch is None and jnp is None:
        pytest.skip("neither PyTorch nor JAX is installed")


def test_gil_released_for_large_dlpack_inputs() -> None:
    from conftest import gil_released_during

    # Zero strides: 2·10^8 bfloat16 elements over two bytes of memory.
    p = DLPackProducer(struct.pack("<H", 0x3F80), BFLOAT, 16, [200_000_000], strides=[0])
    assert gil_released_during(lambda: bufsum.sum(p, threads=1))
    assert p.deleted == 1


def test_dot_of_dlpack_tensors() -> None:
    raw, exact = bf16_raw([1.5, -2.0, 0.25, 8.0])
    p = DLPackProducer(raw, BFLOAT, 16, [4])
    q = OnlyDLPack(np.array([2.0, 1.0, 4.0, 0.5]))
    assert bufsum.fdot(p, q) == math.fsum(a * b for a, b in zip(exact, [2.0, 1.0, 4.0, 0.5]))
    assert p.deleted == 1
