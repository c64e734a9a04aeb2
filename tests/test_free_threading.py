"""Threads hammering shared inputs and one Accumulator: exact results, on every build.

On a free-threaded interpreter (3.14t) the calls truly run at once, without a GIL anywhere; on
a GIL build they still overlap inside the GIL-free sections. Every result is compared with one
computed beforehand on a single thread, bit for bit.
"""

from __future__ import annotations

import array
import copy
import math
import mmap
import pickle
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import f64_bits

import bufsum

THREADS = 8
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def bits(x: Any) -> Any:
    """A value comparable bit for bit: floats (and complex parts) by their bits, buffers and
    memoryviews by their bytes."""
    if isinstance(x, float):
        return ("f", f64_bits(x))
    if isinstance(x, complex):
        return ("c", f64_bits(x.real), f64_bits(x.imag))
    if isinstance(x, tuple):
        return tuple(bits(v) for v in x)
    if isinstance(x, (memoryview, array.array, np.ndarray)):
        return ("b", bytes(memoryview(x).cast("B")) if memoryview(x).c_contiguous else memoryview(x).tobytes())
    return x


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded (3.13t/3.14t) interpreter")
def test_gil_stays_disabled_after_import() -> None:
    # A fresh interpreter: an extension that does not declare free-threading support would
    # turn the GIL back on when imported (with a RuntimeWarning, made an error here).
    code = "import sys, bufsum, bufsum.dask, bufsum._files, bufsum._bench; print(sys._is_gil_enabled())"
    r = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr


def shared_inputs() -> dict[str, Any]:
    rng = np.random.default_rng(12)
    f = rng.standard_normal(300_000) * 10.0 ** rng.integers(-20, 20, 300_000)
    mm = mmap.mmap(-1, 1 << 16)
    mm.write(rng.integers(0, 256, 1 << 16, dtype=np.uint8).tobytes())
    return {
        "float64": f,
        "big-endian": f.astype(">f8"),
        "strided": f[::3],
        "fortran-2d": np.asfortranarray(f.reshape(600, 500)),
        "float16": (rng.standard_normal(100_000) * 100).astype(np.float16),
        "int64": rng.integers(-(2**40), 2**40, 200_000),
        "complex": f[:150_000] + 1j * f[150_000:],
        "bytearray": bytearray(rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()),
        # Read by all threads at once, never resized: CPython 3.14t counts array.array exports
        # without a lock, which only matters to a later resize (see the README).
        "array.array": array.array("d", f[:50_000].tolist()),
        "mmap": mm,
        "small": f[:100],  # below the GIL-release threshold
    }


def calls() -> list[tuple[str, Callable[[Any], Any]]]:
    return [
        ("sum", lambda x: bufsum.sum(x)),
        ("sum threads=2", lambda x: bufsum.sum(x, threads=2)),
        ("fsum", lambda x: bufsum.fsum(x)),
        ("fsum threads=3", lambda x: bufsum.fsum(x, threads=3)),
        ("sum axis", lambda x: bufsum.sum(x, axis=0, keepdims=True)),
        ("fsum axis", lambda x: bufsum.fsum(x, axis=-1)),
        ("cumsum", lambda x: bufsum.cumsum(x)),
        ("cumsum out", lambda x: bufsum.cumsum(x, out=np.empty(memoryview(x).nbytes // memoryview(x).itemsize))),
        ("mean", lambda x: bufsum.mean(x)),
        ("var ddof=1", lambda x: bufsum.var(x, ddof=1)),
        ("std axis", lambda x: bufsum.std(x, axis=0)),
        ("sum omit", lambda x: bufsum.sum(x, nan_policy="omit")),
        ("dot", lambda x: bufsum.dot(x, x)),
        ("fdot", lambda x: bufsum.fdot(x, x)),
        ("Accumulator.add", lambda x: (lambda a: (a.add(x), a.value, a.count))(bufsum.Accumulator())),
        ("Accumulator.add_products", lambda x: (lambda a: (a.add_products(x, x), a.value))(bufsum.Accumulator())),
    ]


def test_threads_hammer_shared_inputs_with_every_function() -> None:
    inputs = shared_inputs()
    work = []
    for name, x in inputs.items():
        for fname, fn in calls():
            try:
                want = bits(fn(x))
            except TypeError:  # e.g. complex cumsum: refused the same way every time
                continue
            work.append((name, fname, fn, want))
    assert len(work) > 80
    failures: list[str] = []
    barrier = threading.Barrier(THREADS)

    def hammer(i: int) -> None:
        barrier.wait()
        for r in range(3):
            # Each thread walks the list from its own starting point: different calls overlap.
            for k in range(len(work)):
                name, fname, fn, want = work[(k * (i + 1) + r) % len(work)]
                got = bits(fn(inputs[name]))
                if got != want:
                    failures.append(f"{fname}({name})")

    ts = [threading.Thread(target=hammer, args=(i,)) for i in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not failures, sorted(set(failures))
    inputs["bytearray"].extend(b"x")  # every export was released


def test_threads_share_one_accumulator() -> None:
    """8 threads add buffers, floats and ints to one accumulator, merge into it and from it,
    read it, copy and pickle it; the total is the exact sum of everything added."""
    rng = np.random.default_rng(5)
    chunks = [rng.standard_normal(int(k)) * 10.0 ** rng.integers(-200, 200, int(k)) for k in rng.integers(1, 40_000, 96)]
    floats = (rng.standard_normal(800) * 1e200).tolist()
    ints = [int(v) * 3**60 for v in rng.integers(-(2**40), 2**40, 800)]
    shared = bufsum.Accumulator()
    seeded = bufsum.Accumulator()  # read (merged from) by every thread while they run
    seeded.add(np.array([1e300, -1e300, 0.5]))
    snapshots: list[bufsum.Accumulator] = []
    barrier = threading.Barrier(THREADS)

    def work(i: int) -> None:
        local = bufsum.Accumulator()
        barrier.wait()
        for j, c in enumerate(chunks[i::THREADS]):
            (shared if j % 2 else local).add(c)
            for v in floats[i::THREADS][j::12] + ints[i::THREADS][j::12]:
                shared.add(v)
            if j % 3 == 0:
                shared.merge(local)
                local = bufsum.Accumulator()
                local.merge(seeded)
                local.merge(seeded)
            float(shared)
            repr(shared)
            assert shared.count >= 0
            snap = pickle.loads(pickle.dumps(shared))
            assert isinstance(snap.value, float) and snap.count <= shared.count
            snapshots.append(copy.copy(shared))
        shared.merge(local)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    merges_of_seeded = 2 * sum(len(range(0, len(chunks[i::THREADS]), 3)) for i in range(THREADS))
    # Independent oracle: math.fsum of every float, plus the int total split into floats exactly.
    int_total = sum(ints)
    parts = []
    while int_total:
        parts.append(float(int_total))
        int_total -= int(parts[-1])
    values = [v for c in chunks for v in c.tolist()] + floats + [0.5] * merges_of_seeded + parts
    want = math.fsum(values)
    assert shared.value == want
    assert shared.count == sum(c.size for c in chunks) + len(floats) + len(ints) + 3 * merges_of_seeded
    assert pickle.loads(pickle.dumps(shared)).value == want
    assert all(s.count <= shared.count for s in snapshots)
