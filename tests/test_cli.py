"""python -m bufsum: file sums through mmap, and the benchmark's machine-readable output."""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import bufsum


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bufsum", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("dt", ["<f8", ">f8", "<f4", ">i4", "<u2", "<c16", ">c8", "|b1"])
@pytest.mark.parametrize("fortran", [False, True])
def test_npy_files(tmp_path: pathlib.Path, dt: str, fortran: bool) -> None:
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((30, 40)) * 100).astype(dt)
    if np.dtype(dt).kind == "c":
        a = a + 1j * a[::-1]
    a = np.asfortranarray(a) if fortran else a
    path = tmp_path / "a.npy"
    np.save(path, a)
    r = cli(str(path), "--exact")
    assert r.returncode == 0, r.stderr
    assert eval(r.stdout.strip()) == bufsum.fsum(a)  # repr round-trips
    r = cli(str(path))
    assert r.returncode == 0, r.stderr
    if not fortran:
        assert r.stdout.strip() == repr(bufsum.sum(a))


def test_raw_files_with_format(tmp_path: pathlib.Path) -> None:
    a = np.random.default_rng(1).standard_normal(10_000)
    raw = tmp_path / "x.bin"
    raw.write_bytes(a.astype(">f8").tobytes())
    r = cli(str(raw), "--format", ">d", "--exact")
    assert float(r.stdout) == math.fsum(a.tolist())
    raw.write_bytes(a.tobytes())
    assert cli(str(raw)).stdout.strip() == repr(bufsum.sum(a))
    raw.write_bytes(np.arange(1000, dtype="<i8").tobytes())
    assert cli(str(raw), "--format", "<q").stdout.strip() == "499500"


def test_cli_errors(tmp_path: pathlib.Path) -> None:
    raw = tmp_path / "odd.bin"
    raw.write_bytes(b"\x00" * 9)
    r = cli(str(raw))
    assert r.returncode == 1 and "multiple" in r.stderr
    r = cli(str(tmp_path / "missing.bin"))
    assert r.returncode == 1 and "missing.bin" in r.stderr
    r = cli(str(raw), "--format", "x")
    assert r.returncode == 1 and "format" in r.stderr
    half = tmp_path / "half.npy"
    np.save(half, np.ones(3, dtype=np.float16))
    r = cli(str(half))
    assert r.returncode == 1 and "float16" in r.stderr
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert cli(str(empty)).stdout.strip() == "0.0"


def test_progress_chunking_reproduces_sum_bits() -> None:
    from bufsum import _files

    n = bufsum._bufsum._BLOCK * 1024 * 5 + 12345
    a = np.random.default_rng(2).standard_normal(n)
    for exact in (False, True):
        with open("/dev/null", "w") as sink:
            got = _files._reduce_with_progress(memoryview(a), exact, sink)
        want = bufsum.fsum(a) if exact else bufsum.sum(a)
        assert np.float64(got).view(np.uint64) == np.float64(want).view(np.uint64)
    full = a[: bufsum._bufsum._BLOCK * 1024 * 2]  # whole chunks only
    with open("/dev/null", "w") as sink:
        got = _files._reduce_with_progress(memoryview(full), False, sink)
    assert np.float64(got).view(np.uint64) == np.float64(bufsum.sum(full)).view(np.uint64)
    ints = np.arange(n, dtype=np.int64) * (2**40)
    with open("/dev/null", "w") as sink:
        assert _files._reduce_with_progress(memoryview(ints), False, sink) == bufsum.sum(ints)


def test_bench_quick_json() -> None:
    r = cli("bench", "--quick", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["kernel"] in ("avx512", "avx2", "portable")
    assert {row["case"] for row in out["rows"]} >= {"n=1", "n=1e+01", "n=1e+06", "ill-cond., n=1e+06"}
