"""bufsum.dask.fsum: exact sums of dask arrays on every scheduler."""

from __future__ import annotations

import numpy as np
import pytest

import bufsum

da = pytest.importorskip("dask.array")
import bufsum.dask  # noqa: E402


@pytest.mark.parametrize("chunks", [1000, 777, (5000,), 1])
def test_any_chunking_matches_whole_fsum(chunks: object) -> None:
    rng = np.random.default_rng(0)
    n = 5000 if chunks != 1 else 50
    a = rng.standard_normal(n) * 10.0 ** rng.integers(-200, 200, n)
    x = da.from_array(a, chunks=chunks)
    lazy = bufsum.dask.fsum(x)
    assert lazy.compute() == bufsum.fsum(x.compute())


@pytest.mark.parametrize("scheduler", ["threads", "synchronous", "processes"])
def test_schedulers(scheduler: str) -> None:
    a = np.random.default_rng(1).standard_normal((60, 70)) * 1e10
    x = da.from_array(a, chunks=(13, 17))
    assert bufsum.dask.fsum(x).compute(scheduler=scheduler) == bufsum.fsum(a)
    z = da.from_array(a + 1j * a.T.copy().T[::-1], chunks=(20, 20))
    assert bufsum.dask.fsum(z).compute(scheduler=scheduler) == bufsum.fsum(z.compute())
    i = da.from_array(np.arange(10_000, dtype=np.int64) * 2**40, chunks=999)
    assert bufsum.dask.fsum(i).compute(scheduler=scheduler) == bufsum.fsum(i.compute())


def test_distributed() -> None:
    distributed = pytest.importorskip("distributed")
    a = np.random.default_rng(2).standard_normal(20_000)
    x = da.from_array(a, chunks=3000)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            assert client.compute(bufsum.dask.fsum(x)).result() == bufsum.fsum(a)


def _bits(v: complex | float) -> tuple[int, ...]:
    import struct

    parts = (v.real, v.imag) if isinstance(v, complex) else (v,)
    return tuple(struct.unpack("<Q", struct.pack("<d", p))[0] for p in parts)


@pytest.mark.parametrize("chunks", [1000, 777, 1, (3000, 2000)])
def test_statistics_match_in_memory_for_any_chunking(chunks: object) -> None:
    rng = np.random.default_rng(3)
    n = 5000 if chunks != 1 else 40
    a = 1e15 + rng.standard_normal(n) * rng.choice([1e-3, 1.0, 1e3], n)
    x = da.from_array(a, chunks=chunks)
    assert _bits(bufsum.dask.mean(x).compute()) == _bits(bufsum.mean(a))
    for ddof in (0, 1, 7):
        assert _bits(bufsum.dask.var(x, ddof=ddof).compute()) == _bits(bufsum.var(a, ddof=ddof))
        assert _bits(bufsum.dask.std(x, ddof=ddof).compute()) == _bits(bufsum.std(a, ddof=ddof))
    i = np.arange(n, dtype=np.int64) * (2**40) - 7
    xi = da.from_array(i, chunks=chunks)
    assert _bits(bufsum.dask.var(xi, ddof=1).compute()) == _bits(bufsum.var(i, ddof=1))
    z = a + 1j * a[::-1]
    assert _bits(bufsum.dask.mean(da.from_array(z, chunks=chunks)).compute()) == _bits(bufsum.mean(z))


def test_fdot_with_different_chunkings_and_complex() -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((40, 50)) * 10.0 ** rng.integers(-100, 100, (40, 50))
    b = rng.standard_normal((40, 50))
    x, y = da.from_array(a, chunks=(7, 13)), da.from_array(b, chunks=(20, 9))
    assert _bits(bufsum.dask.fdot(x, y).compute()) == _bits(bufsum.fdot(a, b))
    c = a + 1j * b
    assert _bits(bufsum.dask.fdot(da.from_array(c, chunks=11), da.from_array(c[::-1], chunks=17)).compute()) == _bits(
        bufsum.fdot(c, c[::-1])
    )
    assert _bits(bufsum.dask.fdot(da.from_array(c, chunks=5), da.from_array(a, chunks=8)).compute()) == _bits(
        bufsum.fdot(c, a)
    )
    with pytest.raises(ValueError, match="same shape"):
        bufsum.dask.fdot(x, y.T)


def test_not_a_dask_array_is_a_type_error() -> None:
    for f in (bufsum.dask.fsum, bufsum.dask.mean, bufsum.dask.var, bufsum.dask.std):
        with pytest.raises(TypeError, match="dask array"):
            f(np.ones(3))
    with pytest.raises(TypeError, match="dask array"):
        bufsum.dask.fdot(np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match="complex"):
        bufsum.dask.var(da.from_array(np.ones(3) * 1j))


def test_statistics_on_distributed() -> None:
    distributed = pytest.importorskip("distributed")
    a = np.random.default_rng(5).standard_normal(20_000) + 3.5
    b = np.random.default_rng(6).standard_normal(20_000)
    x, y = da.from_array(a, chunks=3000), da.from_array(b, chunks=4096)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            got = client.compute([bufsum.dask.mean(x), bufsum.dask.var(x, ddof=1), bufsum.dask.fdot(x, y)])
            mean, var, dot = (g.result() for g in got)
    assert _bits(mean) == _bits(bufsum.mean(a))
    assert _bits(var) == _bits(bufsum.var(a, ddof=1))
    assert _bits(dot) == _bits(bufsum.fdot(a, b))
