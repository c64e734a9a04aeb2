"""Hostile but ordinary use: fork, huge shapes, many thread counts, Ctrl-C, overflow-prone
lengths and bad arguments. Anything that could hang or kill the interpreter runs in a
subprocess with a timeout; every scenario must end with a result or the documented exception,
never a hang, an abort or a PanicException."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import bufsum
from conftest import f64_bits

BLOCK = 2048
# Canonical blocks per chunk and thread, and the elements that makes (core/src/parallel.rs).
CHUNK_BLOCKS = 4096
CHUNK = CHUNK_BLOCKS * BLOCK
LINUX = sys.platform.startswith("linux")
TIMEOUT = 120  # seconds: far beyond what any scenario needs; reaching it means a hang


def run_script(code: str, *, env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> str:
    """Runs `code` in a fresh interpreter; returns its stdout. Fails on a hang (timeout), a
    death by signal (abort), a nonzero exit or a PanicException."""
    full_env = {**os.environ, **(env or {})}
    try:
        r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                           text=True, timeout=timeout, env=full_env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"hang: no exit within {timeout} s; output so far: {e.stdout!r} {e.stderr!r}")
    assert "PanicException" not in r.stderr + r.stdout, r.stderr
    assert r.returncode >= 0, f"killed by signal {-r.returncode}: {r.stderr}"
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


# ---------------------------------------------------------------------------------------------
# fork


FORK_SETUP = """
import os, sys, numpy as np, bufsum
a = np.random.default_rng(1).standard_normal(1_500_000)   # 12 MB: threads=None goes parallel
want = (bufsum.sum(a, threads=1), bufsum.fsum(a, threads=1), bufsum.sum(a.reshape(1000, -1), axis=1).tobytes())

def work(_=None):
    return (bufsum.sum(a, threads=2), bufsum.fsum(a), bufsum.sum(a.reshape(1000, -1), axis=1, threads=2).tobytes())

# Use the thread pool in the parent first: the threads a child inherits no longer exist.
assert work() == want
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_os_fork_after_multithreaded_calls() -> None:
    out = run_script(FORK_SETUP + """
import threading
pids = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        os._exit(0 if work() == want and work() == want else 1)
    pids.append(pid)
    assert work() == want   # the parent's pool keeps working between forks
# A fork from another thread: in the child that thread is the main thread.
def fork_from_thread():
    pid = os.fork()
    if pid == 0:
        os._exit(0 if work() == want else 1)
    pids.append(pid)
t = threading.Thread(target=fork_from_thread); t.start(); t.join()
print([os.waitpid(p, 0)[1] for p in pids])
""")
    assert out.strip() == "[0, 0, 0, 0]"


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiprocessing_start_methods_after_multithreaded_calls(method: str, tmp_path: Path) -> None:
    import multiprocessing

    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    script = tmp_path / "mp_script.py"
    script.write_text(FORK_SETUP + f"""
import multiprocessing
if __name__ == "__main__":
    ctx = multiprocessing.get_context({method!r})
    with ctx.Pool(2) as pool:
        got = pool.map(work, range(4))
    assert got == [want] * 4
    assert work() == want
    print("ok")
""")
    out = run_script(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')")
    assert out.strip() == "ok"


@pytest.mark.parametrize("method", [None, "fork", "forkserver", "spawn"])
def test_process_pool_executor_after_multithreaded_calls(method: str | None, tmp_path: Path) -> None:
    import multiprocessing

    if method is not None and method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    script = tmp_path / "ppe_script.py"
    script.write_text(FORK_SETUP + f"""
import concurrent.futures, multiprocessing
if __name__ == "__main__":
    ctx = None if {method!r} is None else multiprocessing.get_context({method!r})
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=ctx) as ex:
        got = list(ex.map(work, range(4)))
    assert got == [want] * 4
    print("ok")
""")
    out = run_script(f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')")
    assert out.strip() == "ok"


# ---------------------------------------------------------------------------------------------
# Threads: bounded, clamped, and never changing the result


@pytest.mark.skipif(not LINUX, reason="counts threads through /proc")
def test_threads_1_to_256_keep_os_threads_and_memory_bounded() -> None:
    out = run_script("""
import os, resource, numpy as np, bufsum
class Index:
    def __init__(self, v): self.v = v
    def __index__(self): return self.v
def os_threads(): return len(os.listdir("/proc/self/task"))
cpus = len(os.sched_getaffinity(0))
a = np.random.default_rng(2).standard_normal(2_100_000)   # 16.8 MB
want = bufsum.sum(a, threads=1), bufsum.fsum(a, threads=1)
before = os_threads()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak = 0
for k in list(range(1, 257)) + [10**6, 2**70, Index(2**70), np.int64(2**62)]:
    assert (bufsum.sum(a, threads=k), bufsum.fsum(a, threads=k)) == want, k
    peak = max(peak, os_threads())
grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
print(before, peak, cpus, grown_kib)
""")
    before, peak, cpus, grown_kib = map(int, out.split())
    # One pool of at most `cpus` threads, whatever the counts asked for (NumPy's BLAS may own a
    # few threads of its own, counted in `before`).
    assert peak <= before + cpus, (before, peak, cpus)
    assert grown_kib < 64 * 1024


@pytest.mark.skipif(not LINUX, reason="counts threads through /proc")
def test_huge_env_thread_count_is_clamped() -> None:
    out = run_script("""
import os, numpy as np, bufsum
a = np.ones(2_100_000)
before = len(os.listdir("/proc/self/task"))
assert bufsum.sum(a) == 2_100_000.0
print(before, len(os.listdir("/proc/self/task")), len(os.sched_getaffinity(0)))
""", env={"BUFSUM_NUM_THREADS": "99999"})
    before, after, cpus = map(int, out.split())
    assert after <= before + cpus


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5", "4 threads"])
def test_invalid_env_thread_count_raises_valueerror(value: str) -> None:
    out = run_script("""
import os, numpy as np, bufsum
results = []
for call in (lambda: bufsum.sum(b"abc"), lambda: bufsum.fsum(np.ones(2_100_000)),
             lambda: bufsum.sum(np.ones((4, 4)), axis=0), lambda: bufsum.Accumulator().add(np.ones(9))):
    try:
        call()
        results.append("no error")
    except ValueError as e:
        results.append("BUFSUM_NUM_THREADS" in str(e) and repr(os.environ["BUFSUM_NUM_THREADS"]) in str(e))
# An explicit count does not read the variable.
results.append(bufsum.sum(b"abc", threads=2) == 294)
print(results)
""", env={"BUFSUM_NUM_THREADS": value})
    assert out.strip() == "[True, True, True, True, True]"


@pytest.mark.parametrize("value", ["", "  ", "1", "3", "99999999999999999999999"])
def test_valid_env_thread_counts(value: str) -> None:
    out = run_script("""
import numpy as np, bufsum
a = np.random.default_rng(3).standard_normal(2_100_000)
print(bufsum.sum(a).hex(), bufsum.fsum(a).hex(), bufsum.sum(a, threads=1).hex())
""", env={"BUFSUM_NUM_THREADS": value})
    s, f, s1 = out.split()
    assert s == s1


def canonical_sum(x: np.ndarray) -> float:
    """The canonical order of SPEC/README written with NumPy: blocks of 2048, 32 lanes added in
    order from -0.0, folded by halves, blocks combined by splitting at the largest power of two
    below the count."""
    n = len(x)
    nb = -(-n // BLOCK)
    padded = np.full(nb * BLOCK, -0.0)
    padded[:n] = x
    rows = padded.reshape(nb, BLOCK // 32, 32)
    acc = np.full((nb, 32), -0.0)
    for r in range(BLOCK // 32):
        acc += rows[:, r, :]
    w = 16
    while w:
        acc[:, :w] += acc[:, w:2 * w]
        w //= 2
    return tree(acc[:, 0].tolist())


def tree(totals: list[float]) -> float:
    def go(lo: int, hi: int) -> float:
        if hi - lo == 1:
            return totals[lo]
        mid = lo + (1 << ((hi - lo - 1).bit_length() - 1))
        return go(lo, mid) + go(mid, hi)
    return go(0, len(totals)) if totals else 0.0


def canonical_sum_of_constant(c: float, n: int) -> float:
    """The canonical sum of `n` copies of `c`, computed block by block without the data."""
    def block(m: int) -> float:
        lanes = []
        for j in range(32):
            t = -0.0
            for _ in range(len(range(j, m, 32))):
                t += c
            lanes.append(t)
        w = 16
        while w:
            for j in range(w):
                lanes[j] += lanes[j + w]
            w //= 2
        return lanes[0]

    full, rem = divmod(n, BLOCK)
    nb = full + (rem > 0)
    memo: dict[tuple[int, bool], float] = {}

    def go(lo: int, hi: int) -> float:
        key = (hi - lo, hi == nb and rem > 0)
        if key not in memo:
            if hi - lo == 1:
                memo[key] = block(rem if key[1] else BLOCK)
            else:
                mid = lo + (1 << ((hi - lo - 1).bit_length() - 1))
                memo[key] = go(lo, mid) + go(mid, hi)
        return memo[key]
    return go(0, nb)


@pytest.mark.parametrize("n", [CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 2047, 2 * CHUNK + 2049, 5 * CHUNK + 3])
def test_chunked_sums_have_the_canonical_bits_for_every_thread_count(n: int) -> None:
    # Zero strides: sizes across chunk boundaries for 1, 2 and 4 threads at no memory cost.
    c = 0.1
    x = np.broadcast_to(np.float64(c), (n,))
    want_sum = canonical_sum_of_constant(c, n)
    want_fsum = float(Fraction(c) * n)
    for t in [None, 1, 2, 3, 4]:
        assert f64_bits(bufsum.sum(x, threads=t)) == f64_bits(want_sum), (n, t)
        assert bufsum.fsum(x, threads=t) == want_fsum, (n, t)


def test_chunked_sums_of_real_data_have_the_canonical_bits() -> None:
    n = CHUNK + BLOCK + 1
    x = np.random.default_rng(4).standard_normal(n) * np.exp(np.random.default_rng(5).uniform(-20, 20, n))
    want = canonical_sum(x)
    want_f = math.fsum(x.tolist())
    for t in [None, 1, 2, 3, 4]:
        assert f64_bits(bufsum.sum(x, threads=t)) == f64_bits(want), t
        assert bufsum.fsum(x, threads=t) == want_f, t
    # The same values through the gather path (strided) and as an axis reduction.
    y = np.empty(2 * n)
    y[::2] = x
    assert f64_bits(bufsum.sum(y[::2], threads=2)) == f64_bits(want)
    assert f64_bits(np.asarray(bufsum.sum(x.reshape(1, -1), axis=1, threads=2))[0]) == f64_bits(want)
    assert f64_bits(np.asarray(bufsum.sum(x.reshape(-1, 1), axis=0, threads=2))[0]) == f64_bits(want)


# ---------------------------------------------------------------------------------------------
# Huge results and overflow-prone lengths


def test_huge_axis_results_are_lazy_or_memoryerror() -> None:
    out = run_script("""
import resource, numpy as np, bufsum
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
r = bufsum.sum(np.empty((0, 10**9)), axis=0)        # 10^9 zeros: 8 GB of untouched pages
assert len(r) == 10**9 and r.format == "d" and r[0] == 0.0 and r[-1] == 0.0
f = bufsum.fsum(np.empty((0, 10**9), np.int8), axis=0, keepdims=True)
assert f.shape == (1, 10**9) and f[0, 12345] == 0.0
q = bufsum.sum(np.empty((10**9, 0), np.int32), axis=-1)
assert q.format == "q" and q[10**9 - 1] == 0
del r, f, q
grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) // 1024
print(grown_mib)
""")
    assert int(out) < 512


@pytest.mark.skipif(not LINUX, reason="RLIMIT_AS semantics")
def test_result_that_cannot_be_allocated_is_memoryerror() -> None:
    out = run_script("""
import resource, numpy as np, bufsum
x = np.broadcast_to(1.0, (10**9, 1))
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))   # an 8 GB result cannot exist
res = []
for call in (lambda: bufsum.sum(x, axis=1), lambda: bufsum.fsum(x, axis=-1, keepdims=True),
             lambda: bufsum.sum(np.broadcast_to(np.int16(1), (10**9, 3)), axis=1),
             lambda: bufsum.cumsum(np.broadcast_to(1.0, (10**9,)))):
    try:
        call()
        res.append("returned")
    except MemoryError as e:
        res.append("MemoryError")
print(res)
""")
    assert out.strip() == str(["MemoryError"] * 4)


def test_results_too_big_for_the_address_space_are_valueerror() -> None:
    out = run_script("""
import numpy as np, bufsum
res = []
for call in (lambda: bufsum.sum(np.broadcast_to(np.int8(1), (2**62, 1)), axis=1),
             lambda: bufsum.fsum(np.broadcast_to(np.int8(1), (2**62, 1)), axis=1, keepdims=True),
             lambda: bufsum.sum(np.empty((0, 2**62), np.int8), axis=0),
             lambda: bufsum.cumsum(np.broadcast_to(np.int8(1), (2**61,)))):
    try:
        call()
        res.append("returned")
    except ValueError as e:
        res.append(type(e).__name__ + (": names the size" if ("2305843009213693952" in str(e) or "4611686018427387904" in str(e)) else str(e)))
print(res)
""")
    assert out.strip() == str(["ValueError: names the size"] * 4)


def test_cumsum_of_huge_zero_stride_views() -> None:
    out = run_script("""
import numpy as np, bufsum
from numpy.lib.stride_tricks import as_strided
res = []
try:
    bufsum.cumsum(np.broadcast_to(np.int8(1), (2**58,)))   # 2 EiB of results
except MemoryError:
    res.append("MemoryError")
# Into an out of the same (huge, zero-stride) size: counts are not wrapped (`len * 8`).
out = as_strided(np.zeros(1, np.int64), shape=(2**59,), strides=(0,), writeable=True)
try:
    bufsum.cumsum(np.broadcast_to(np.int8(1), (2**59 + 1,)), out=out)
except ValueError as e:
    res.append("576460752303423489" in str(e) and "576460752303423488" in str(e))
print(res)
""")
    assert out.strip() == "['MemoryError', True]"


def test_accumulator_count_cannot_wrap() -> None:
    acc = bufsum.Accumulator()
    acc.add(1.0)
    full = bufsum._bufsum._restore_accumulator(acc.__reduce__()[1][0], 2**64 - 1)
    full.add(2.0)
    assert full.count == 2**64 and full.value == 3.0  # a Python int: no wrap-around
    full.merge(full)
    assert full.count == 2**65


# ---------------------------------------------------------------------------------------------
# Ctrl-C


SIGINT_SCRIPT = """
import threading, time, sys, numpy as np, bufsum
from numpy.lib.stride_tricks import as_strided
b = bytearray(8 * 64)
def flt(shape): return np.broadcast_to(np.frombuffer(b, np.float64)[:1], shape)
def i64(shape): return np.broadcast_to(np.frombuffer(b, np.int64)[:1], shape)
np.frombuffer(b, np.float64)[0] = 1.0
guarded = np.full(2**20 + 2, np.nan)
call = lambda: {call}

# Tell the parent we are inside the call (this thread runs because the GIL is released).
threading.Timer(0.3, lambda: print("ready", flush=True)).start()
t = time.perf_counter()
try:
    call()
    print("finished", flush=True)
except KeyboardInterrupt:
    print("KeyboardInterrupt %.3f" % (time.perf_counter() - t), flush=True)
del call
import gc; gc.collect()
b.extend(b"x")                     # no export left: the view was released
print("resized", flush=True)
out = guarded[1:-1]
done = int(np.sum(out == 2.0**20))
ok = (np.isnan(guarded[0]) and np.isnan(guarded[-1]) and bool(np.all(out[:done] == 2.0**20))
      and bool(np.all(np.isnan(out[done:]))))
print("out", ok, done, flush=True)
"""

LONG_CALLS = {
    "sum": "bufsum.sum(flt((2**40,)))",
    "fsum": "bufsum.fsum(flt((2**40,)))",
    "sum threads=1": "bufsum.sum(flt((2**40,)), threads=1)",
    "fsum threads=2": "bufsum.fsum(flt((2**40,)), threads=2)",
    "int sum": "bufsum.sum(i64((2**40,)))",
    "strided fsum": "bufsum.fsum(flt((2**20, 2**20))[:, ::3])",
    "axis=None keepdims": "bufsum.sum(flt((2**20, 2**20)), keepdims=True)",
    "axis, few long entries": "bufsum.fsum(flt((3, 2**40)), axis=1)",
    "axis=0, many columns": "bufsum.sum(flt((2**40, 300)), axis=0)",
    "axis=0, column tiles": "bufsum.sum(as_strided(np.frombuffer(b, np.float64), shape=(2**40, 64), strides=(0, 8)), axis=0)",
    "axis into out": "bufsum.sum(flt((2**20, 2**20)), axis=1, out=guarded[1:-1])",
    "cumsum into out": "bufsum.cumsum(flt((2**40,)), out=as_strided(np.zeros(1), shape=(2**40,), strides=(0,), writeable=True))",
    "Accumulator.add": "bufsum.Accumulator().add(flt((2**40,)))",
    "dot": "bufsum.dot(flt((2**40,)), flt((2**40,)))",
    "fdot": "bufsum.fdot(flt((2**40,)), i64((2**40,)))",
    "int dot": "bufsum.dot(i64((2**40,)), i64((2**40,)))",
    "dot axis": "bufsum.dot(flt((3, 2**40)), flt((3, 2**40)), axis=-1)",
    "Accumulator.add_products": "bufsum.Accumulator().add_products(flt((2**40,)), flt((2**40,)))",
    "mean": "bufsum.mean(flt((2**40,)))",
    "var": "bufsum.var(flt((2**40,)), ddof=1)",
    "std axis": "bufsum.std(i64((3, 2**40)), axis=1)",
}


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("name", list(LONG_CALLS))
def test_ctrl_c_interrupts_long_calls(name: str) -> None:
    code = SIGINT_SCRIPT.format(call=LONG_CALLS[name])
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        line = p.stdout.readline().strip()
        assert line == "ready", line + p.stderr.read() if p.stderr else line
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("hang: the call ignored SIGINT")
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("KeyboardInterrupt"), out + err
    assert lines[1] == "resized"
    # An interrupted axis reduction into `out` wrote whole finished entries, in order, and
    # nothing else (the guard elements on both sides are untouched).
    ok, done = lines[2].split()[1:]
    assert ok == "True"
    if name == "axis into out":
        assert 0 <= int(done) < 2**20


# ---------------------------------------------------------------------------------------------
# Arguments


class Index:
    def __init__(self, v: Any) -> None:
        self.v = v

    def __index__(self) -> Any:
        return self.v


BAD_ARGUMENTS: list[tuple[dict[str, Any], type[Exception], list[str]]] = [
    ({"threads": -(2**70)}, ValueError, ["threads", "-1180591620717411303424", ">= 1"]),
    ({"threads": Index(-5)}, ValueError, ["threads", "-5", ">= 1"]),
    ({"threads": 0}, ValueError, ["threads", "0", ">= 1"]),
    ({"threads": 2.0}, TypeError, ["threads", "float", "None or an int"]),
    ({"threads": True}, TypeError, ["threads", "bool", "None or an int"]),
    ({"threads": Index(2.5)}, TypeError, ["threads", "Index", "None or an int"]),
    ({"axis": 2**63}, ValueError, ["axis", "9223372036854775808", "dimension 2", "-2 <= axis < 2"]),
    ({"axis": -(2**63) - 1}, ValueError, ["axis", "-9223372036854775809", "-2 <= axis < 2"]),
    ({"axis": (0, 2**70)}, ValueError, ["axis", "1180591620717411303424"]),
    ({"axis": (1, -1)}, ValueError, ["axis", "duplicate", "-1"]),
    ({"axis": 2}, ValueError, ["axis", "2", "dimension 2"]),
    ({"axis": 1.0}, TypeError, ["axis", "float", "None, an int or a tuple of ints"]),
    ({"axis": [0]}, TypeError, ["axis", "list", "a tuple of ints"]),
    ({"axis": (0, True)}, TypeError, ["axis", "bool"]),
    ({"keepdims": "yes"}, TypeError, ["keepdims", "str", "bool"]),
    ({"keepdims": 1}, TypeError, ["keepdims", "int", "bool"]),
]


@pytest.mark.parametrize("kwargs,exc,words", BAD_ARGUMENTS)
def test_bad_arguments_name_the_argument_the_value_and_what_is_accepted(
    kwargs: dict[str, Any], exc: type[Exception], words: list[str]
) -> None:
    data = bytearray(np.zeros((2, 3)).tobytes())
    a = np.frombuffer(data).reshape(2, 3)
    calls = [lambda **k: bufsum.sum(a, **k), lambda **k: bufsum.fsum(a, **k),
             lambda **k: bufsum.dot(a, a, **k), lambda **k: bufsum.fdot(a, a, **k),
             lambda **k: bufsum.mean(a, **k), lambda **k: bufsum.var(a, **k),
             lambda **k: bufsum.std(a, ddof=1, **k)]
    for f in calls:
        with pytest.raises(exc) as info:
            f(**kwargs)
        for w in words:
            assert w in str(info.value), (w, str(info.value))
    del a
    data.extend(b"x")  # every export was released


@pytest.mark.parametrize("ddof,exc,words", [
    (-1, ValueError, ["ddof", "-1", ">= 0"]),
    (-(2**70), ValueError, ["ddof", "-1180591620717411303424", ">= 0"]),
    (1.5, TypeError, ["ddof", "float", "an int >= 0"]),
    ("1", TypeError, ["ddof", "str", "an int >= 0"]),
    (True, TypeError, ["ddof", "bool"]),
])
def test_bad_ddof(ddof: Any, exc: type[Exception], words: list[str]) -> None:
    for f in (bufsum.var, bufsum.std):
        with pytest.raises(exc) as info:
            f(np.ones(4), ddof=ddof)
        for w in words:
            assert w in str(info.value), (w, str(info.value))


def test_good_unusual_arguments() -> None:
    a = np.arange(12.0).reshape(3, 4)
    assert bufsum.sum(a, threads=Index(2**70)) == 66.0
    assert bufsum.sum(a, threads=np.uint64(2**63)) == 66.0
    assert list(bufsum.sum(a, axis=np.int8(-1), keepdims=np.True_).tolist()) == [[6.0], [22.0], [38.0]]
    assert list(bufsum.fsum(a, axis=(Index(0),)).tolist()) == [12.0, 15.0, 18.0, 21.0]
    assert bufsum.sum(a, keepdims=False) == 66.0
    assert bufsum.sum(a, keepdims=None) == 66.0  # None is the default, as in NumPy
    assert math.isnan(bufsum.var(a, ddof=2**70))  # ddof >= n: NaN
    assert bufsum.var(a, ddof=Index(1)) == bufsum.var(a, ddof=1) == float(np.var(a, ddof=1))


def test_axis_errors_leave_out_untouched() -> None:
    out = np.full(3, 7.0)
    for kwargs in [{"axis": 5}, {"axis": 0}, {"axis": 1, "keepdims": True}, {"axis": (1, 1)}]:
        with pytest.raises((ValueError, TypeError)):
            bufsum.sum(np.ones((3, 4)), out=out, **kwargs)
        assert out.tolist() == [7.0, 7.0, 7.0]
    # Integer totals beyond int64 are found before anything is written into `out`.
    big = np.full((3, 4), 2**62, np.int64)
    big[2] = 1
    q = np.full(3, 7, np.int64)
    with pytest.raises(OverflowError, match="int64"):
        bufsum.sum(big, axis=1, out=q)
    assert q.tolist() == [7, 7, 7]
