"""python -m bufsum: file sums through mmap (bits equal to the library's on numpy.load of the
file), errors as one line, help, version, and the benchmark's JSON and tables."""

from __future__ import annotations

import importlib.util
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import bufsum
from bufsum import _files
from conftest import f64_bits


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bufsum", *args], capture_output=True, text=True, timeout=600)


def same(a: object, b: object) -> bool:
    """Equal, with float parts compared bit for bit (NaN included)."""
    if isinstance(a, complex) and isinstance(b, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, float) and isinstance(b, float):
        return f64_bits(a) == f64_bits(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("dt", ["<f8", ">f8", "<f4", ">f2", "<f2", ">i4", "<u2", "|i1", "<c16", ">c8", "|b1"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_files_give_the_library_bits(tmp_path: pathlib.Path, dt: str, order: str) -> None:
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((30, 40, 3)) * 100).astype(dt)
    if np.dtype(dt).kind == "c":
        a = a + 1j * a[::-1]
    path = tmp_path / "a.npy"
    np.save(path, np.asarray(a, order=order))
    loaded = np.load(path)
    assert loaded.flags.f_contiguous == (order == "F")
    for args, want in [((), bufsum.sum(loaded)), (("--exact",), bufsum.fsum(loaded))]:
        r = cli(str(path), *args)
        assert r.returncode == 0, r.stderr
        assert same(eval(r.stdout), want), (r.stdout, want)  # repr round-trips


def test_empty_and_zero_d_npy(tmp_path: pathlib.Path) -> None:
    for a in [np.zeros((0, 3)), np.array(2.5), np.zeros(0, dtype=np.int32), np.ones((2, 0), dtype=np.complex64)]:
        np.save(tmp_path / "a.npy", a)
        r = cli(str(tmp_path / "a.npy"))
        assert r.returncode == 0, r.stderr
        assert same(eval(r.stdout), bufsum.sum(a))


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
    h = a.astype("<f2")
    raw.write_bytes(h.tobytes())
    assert cli(str(raw), "--format", "<e").stdout.strip() == repr(bufsum.sum(h))
    z = a[:5000] + 1j * a[5000:]
    raw.write_bytes(z.astype(">c16").tobytes())
    assert cli(str(raw), "--format", ">Zd").stdout.strip() == repr(bufsum.sum(z))


def npy_header(text: str, version: int = 1) -> bytes:
    body = text.encode("latin1")
    size = len(body).to_bytes(2 if version == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([version, 0]) + size + body


GOOD = "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"
MALFORMED = {
    "magic only": b"\x93NUMPY",
    "cut in the length": b"\x93NUMPY\x01\x00\x40",
    "cut in the header": npy_header(GOOD)[:30],
    "missing keys": npy_header("{'descr': '<f8', 'shape': (3,)}") + bytes(24),
    "extra key": npy_header(GOOD[:-1] + "'x': 1}") + bytes(24),
    "negative shape": npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}") + bytes(24),
    "shape not a tuple": npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': 3}") + bytes(24),
    "float in shape": npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (3.0,)}") + bytes(24),
    "fortran_order not bool": npy_header("{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}") + bytes(24),
    "not a dict": npy_header("[1, 2, 3]") + bytes(24),
    "not Python": npy_header("{'descr': <f8}") + bytes(24),
    "structured dtype": npy_header("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}") + bytes(24),
    "string dtype": npy_header("{'descr': '<U3', 'fortran_order': False, 'shape': (3,)}") + bytes(36),
    "data cut short": npy_header(GOOD) + bytes(23),
    "bad version": npy_header(GOOD, 1).replace(b"\x01\x00", b"\x09\x00", 1) + bytes(24),
    "shape overflow": npy_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2**62, 2**62)}") + bytes(24),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_npy_is_one_line_error(tmp_path: pathlib.Path, name: str) -> None:
    path = tmp_path / "bad.npy"
    path.write_bytes(MALFORMED[name])
    for args in [(), ("--exact",)]:
        r = cli(str(path), *args)
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"bufsum: {path}: "), r.stderr


def test_good_headers_of_every_version(tmp_path: pathlib.Path) -> None:
    data = np.arange(3, dtype="<f8").tobytes()
    for version in (1, 2, 3):
        path = tmp_path / f"v{version}.npy"
        path.write_bytes(npy_header(GOOD, version) + data)
        assert cli(str(path)).stdout.strip() == "3.0"


def test_format_with_npy_is_an_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "a.npy"
    np.save(path, np.ones(4))
    r = cli(str(path), "--format", "d")
    assert r.returncode != 0 and "--format" in r.stderr and r.stdout == ""


def test_cli_errors(tmp_path: pathlib.Path) -> None:
    raw = tmp_path / "odd.bin"
    raw.write_bytes(b"\x00" * 9)
    r = cli(str(raw))
    assert r.returncode == 1 and "multiple" in r.stderr
    r = cli(str(tmp_path / "missing.bin"))
    assert r.returncode == 1 and r.stderr.startswith(f"bufsum: {tmp_path / 'missing.bin'}: ")
    r = cli(str(raw), "--format", "x")
    assert r.returncode == 1 and "format" in r.stderr
    r = cli(str(tmp_path))
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert cli(str(empty)).stdout.strip() == "0.0"
    assert cli(str(empty), "--format", "q").stdout.strip() == "0"
    for bad in [("bench", "--exact"), (str(raw), "--json"), (str(raw), "--plot", "x.png")]:
        r = cli(*bad)
        assert r.returncode == 2 and "usage" in r.stderr


def test_help_shows_every_mode_and_version_works() -> None:
    r = cli("--help")
    assert r.returncode == 0
    for word in ["FILE", "bench", "--plot", "--json", "--quick", "--format", "--exact", "--version"]:
        assert word in r.stdout, word
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith(f"bufsum {bufsum.__version__}")


@pytest.mark.parametrize("dt", ["<f8", "<c16", ">i4"])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("exact", [False, True])
def test_progress_chunks_give_the_bits_of_one_call(dt: str, order: str, exact: bool) -> None:
    block = bufsum._bufsum._BLOCK
    n = 3 * 1_402_000  # two full chunks and a part, in rows of 3
    a = np.random.default_rng(2).standard_normal(n)
    if dt == "<c16":
        a = a + 1j * a[::-1]
    a = np.asarray(a.astype(dt).reshape(-1, 3), order=order)
    data = a.tobytes(order="A")
    lay = _files.Layout(0, dt.replace("c16", "Zd").replace("f8", "d").replace("i4", "i"), a.itemsize, a.shape,
                        order == "F")
    with open("/dev/null", "w") as sink:
        got = _files.reduce_file(data, lay, exact, sink)
    assert same(got, bufsum.fsum(a) if exact else bufsum.sum(a))
    full = np.ascontiguousarray(a.ravel()[: block * 1024 * 2])  # whole chunks only
    lay = _files.Layout(0, lay.format, a.itemsize, full.shape)
    with open("/dev/null", "w") as sink:
        got = _files.reduce_file(full.tobytes(), lay, exact, sink)
    assert same(got, bufsum.fsum(full) if exact else bufsum.sum(full))


def test_reduce_bytes_refuses_elements_outside_the_data() -> None:
    data = bytes(80)
    r = bufsum._bufsum._reduce_bytes
    assert r(data, 0, "<d", 8, (10,), (8,), "sum") == 0.0
    assert r(data, 80, "<d", 8, (0,), (8,), "sum") == 0.0
    with pytest.raises(ValueError):
        r(data, 8, "<d", 8, (10,), (8,), "sum")
    with pytest.raises(ValueError):
        r(data, 0, "<d", 8, (2, 5), (48, 8), "sum")
    with pytest.raises(ValueError):
        r(data, 81, "<d", 8, (0,), (8,), "sum")
    with pytest.raises((ValueError, OverflowError)):
        r(data, 0, "<d", 8, (2, 2**62), (2**62, 8), "sum")
    with pytest.raises(TypeError):
        r(data, 0, "<x", 8, (10,), (8,), "sum")
    with pytest.raises(TypeError):
        r(np.zeros(10), 0, "<d", 8, (10,), (8,), "sum")  # not bytes


def test_bench_quick_json_and_plot(tmp_path: pathlib.Path) -> None:
    png = tmp_path / "bench.png"
    r = cli("bench", "--quick", "--json", "--plot", str(png))
    out = json.loads(r.stdout)  # valid JSON on stdout, whatever else happens
    if importlib.util.find_spec("matplotlib") is None:
        assert r.returncode != 0 and "matplotlib" in r.stderr and not png.exists()
    else:
        assert r.returncode == 0, r.stderr
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out["schema"] == 1 and out["kernel"] in ("avx512", "avx2", "portable")
    assert set(out["units"]) >= {"seconds_per_call", "parallel", "rss_growth_kib"}
    names = [c["name"] for c in out["cases"]]
    assert len(names) == len(set(names)) and {"n=1", "n=1e6", "ill-cond., n=1e6"} <= set(names)
    for c in out["cases"]:
        assert set(c) == {"name", "group", "dtype", "n", "seconds_per_call"}
        mine = {k: v for k, v in c["seconds_per_call"].items() if k.startswith("bufsum.") or k in ("sum omit", "mean omit", "acc.add")}
        assert mine and all(v > 0 for v in mine.values()), c
    assert all(isinstance(v, float) for v in out["parallel"].values())
    assert isinstance(out["rss_growth_kib"], int)


def test_main_job_fits_80_columns() -> None:
    r = cli("--quick")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    first = r.stdout.split("\n\n")
    assert "1e16 + 1 - 1e16: bufsum.fsum 1.0" in first[1] and "math.fsum OverflowError" in first[1]
    assert "bufsum.sum 1 distinct result" in r.stdout
    assert "Throughput" in r.stdout and "Speed-up" in r.stdout


def test_plot_draws_size_lines_and_separate_points(tmp_path: pathlib.Path) -> None:
    pytest.importorskip("matplotlib")
    from bufsum import _bench

    rows = [{"name": f"n={n}", "group": "size", "dtype": "float64", "n": n,
             "seconds_per_call": {"bufsum.sum": n * 1e-9 + 1e-7, "numpy.sum": n * 2e-9 + 1e-6}}
            for n in (1, 10, 1000)]
    rows.append({"name": "ill-cond., n=1e6", "group": "data", "dtype": "float64", "n": 10**6,
                 "seconds_per_call": {"bufsum.sum": 1e-3}})
    fig = _bench.figure(rows)
    left, right = fig.axes
    for line in left.get_lines():  # one line per implementation, over increasing n only
        x = list(line.get_xdata())
        assert x == sorted(set(x)) and 10**6 not in x
    assert len(left.get_lines()) == 2
    assert [t.get_text() for t in right.get_xticklabels()] == ["ill-cond., n=1e6"]
    _bench.draw(rows, str(tmp_path / "p.png"))
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
