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
