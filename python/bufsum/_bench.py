"""The demo and benchmark behind ``python -m bufsum``.

The benchmark is a table of cases (:func:`cases`): each :class:`Case` says how its input is
made and which implementations (:data:`IMPLS`) are timed on it, so a new row is one entry, and
a new contender one entry in ``IMPLS`` (plus, for the speed-up table, one in
:data:`SPEEDUPS`). Times are the best of five repeats; ratios from one run travel better than
times on a noisy machine.

``python -m bufsum bench --json`` prints one JSON object (nothing else on stdout). Its keys
are stable; new keys may be added:

- ``schema``: 1, bumped if a key below changes meaning.
- ``bufsum``, ``python``, ``numpy`` (version, or null), ``kernel`` (the float block kernel
  this CPU runs), ``cpus`` (logical CPUs).
- ``units``: the unit of each measured quantity, in words.
- ``cases``: one object per case, in table order: ``name`` (the row label, unique),
  ``group`` (``"size"``: the float64 size sweep, drawn as lines over ``n``; ``"layout"``,
  ``"data"``, ``"format"``, ``"dot"``, ``"mean"``, ``"spread"``, ``"nan"``, ``"exact"``,
  ``"exporter"`` (Arrow and DLPack inputs): single points),
  ``dtype`` (NumPy's name for the input's element type), ``n`` (elements), and
  ``seconds_per_call``: ``{implementation: seconds}`` for each implementation timed on it
  (``bufsum.sum``, ``bufsum.fsum``, ``numpy.sum``, ``xsum``, ``math.fsum``, ``own sum`` = the
  input library's own sum, ``bufsum.dot``, ``numpy.dot``, ``xsum dot``, ``sumprod``,
  ``bufsum.mean``/``var``/``std`` and NumPy's, ``sum omit``/``mean omit`` (nan_policy='omit')
  against ``nansum``/``nanmean``/``bn.nansum``, ``acc.add`` = ``Accumulator.add``; one absent
  when not installed, or too slow at that size). Dot rows count pairs.
- ``parallel``: ``{measurement: speed-up}``, time of the first way over time of the second
  (above 1: parallel is faster).
- ``rss_growth_kib``: peak resident memory growth while summing a large strided view.
"""

from __future__ import annotations

import array
import importlib
import importlib.util
import json
import math
import os
import random
import resource
import sys
import threading
import time
import timeit
from collections.abc import Callable
from typing import IO, Any, NamedTuple

from . import __version__, _bufsum

try:
    import numpy as np
except ImportError:  # numpy is optional: bufsum alone still runs
    np = None  # type: ignore[assignment]
try:
    xsum: Any = importlib.import_module("xsum")
except ImportError:
    xsum = None

# math.sumprod (Python 3.12+): extended precision over lists, holding the GIL.
SUMPROD: Any = getattr(math, "sumprod", None)

SCHEMA = 1
UNITS = {
    "seconds_per_call": "seconds per call (best of 5 repeats)",
    "parallel": "speed-up: one thread's (or serial) time over the parallel time; above 1 is faster",
    "rss_growth_kib": "KiB",
    "n": "elements",
}
# Inputs at least this large are summed with threads=1, so that every row is one core.
ONE_THREAD_BYTES = 8 << 20


def best_time(fn: Callable[..., object], *args: Any, budget: float = 0.2, **kwargs: Any) -> float:
    """Seconds per call of ``fn(*args, **kwargs)``: the best of five repeats, each long enough to
    time. The call is timed as a statement (no wrapper function), so per-call overheads of
    small inputs are measured, not the benchmark's own."""
    timer = timeit.Timer("fn(*args, **kwargs)", globals={"fn": fn, "args": args, "kwargs": kwargs})
    loops = 1
    while True:
        dt = timer.timeit(loops)
        if dt >= budget / 10 or loops >= 1 << 22:
            break
        loops *= 4
    return min([dt] + timer.repeat(4, loops)) / loops


# --- inputs -----------------------------------------------------------------------------

def normal(n: int) -> Any:
    """n standard-normal doubles: a numpy array when numpy is installed, else array('d')."""
    if np is not None:
        return np.random.default_rng(n).standard_normal(n)
    rnd = random.Random(n)
    base = array.array("d", (rnd.gauss(0.0, 1.0) for _ in range(min(n, 1 << 16))))
    reps = -(-n // len(base))
    return (base * reps)[:n]


def every_other(n: int) -> Any:
    """n doubles at stride 2 (a view of 2n)."""
    a = normal(2 * n)
    return a[::2] if np is not None else memoryview(a)[::2]


def ill_conditioned(n: int) -> Any:
    """n values with exponents over ±300 decades, half of them cancelling exactly: fsum's
    certificate refuses and the exact accumulator does the work."""
    rnd = random.Random(n)
    half = [rnd.gauss(0.0, 1.0) * 10.0 ** rnd.randint(-300, 300) for _ in range(n // 2)]
    vals = half + [-v for v in half[: n // 4]] + half[: n - n // 2 - n // 4]
    rnd.shuffle(vals)
    return np.array(vals) if np is not None else array.array("d", vals)


def of_dtype(dtype: str) -> Callable[[int], Any]:
    """n values of a NumPy dtype (integers wrap as NumPy casts them; complex from two normals)."""

    def make(n: int) -> Any:
        base = np.random.default_rng(7).standard_normal(n) * 100
        if dtype == "complex128":
            return base + 1j * base[::-1]
        with np.errstate(over="ignore", invalid="ignore"):
            return base.astype(dtype)

    return make


def _module(name: str) -> Any:
    return importlib.import_module(name)


def arrow_with_nulls(n: int) -> Any:
    """A pyarrow array of n doubles, one in ten of them null."""
    nulls = np.random.default_rng(12).random(n) < 0.1
    return _module("pyarrow").array(normal(n), mask=nulls)


def torch_bfloat16(n: int) -> Any:
    """A torch bfloat16 tensor (read through DLPack: the buffer protocol cannot describe it)."""
    torch = _module("torch")
    return torch.from_numpy(normal(n).astype(np.float32)).bfloat16()


def pair(make: Callable[[int], Any], other: Callable[[int], Any] | None = None) -> Callable[[int], Any]:
    """Inputs of the dot-product rows: ``(x, y)``, x made by ``make`` and y a float64 normal
    (or by ``other``)."""

    def both(n: int) -> tuple[Any, Any]:
        y = normal(n + 1)[:n] if other is None else other(n)
        return make(n), y

    return both


def with_nans(n: int) -> Any:
    """n standard-normal doubles, 1 % of them NaN."""
    a = normal(n).copy()
    a[np.random.default_rng(13).random(n) < 0.01] = np.nan
    return a


def own_sum(a: Any) -> tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]:
    """The exporter's own reduction of ``a``: ``Series.sum``, ``pyarrow.compute.sum``,
    ``torch.sum`` or ``numpy.sum``."""
    mod = type(a).__module__.split(".")[0]
    if mod == "polars":
        return a.sum, (), {}
    if mod == "pyarrow":
        return _module("pyarrow.compute").sum, (a,), {}
    if mod == "torch":
        return _module("torch").sum, (a,), {}
    return np.sum, (a,), {}


# --- implementations --------------------------------------------------------------------

def xsum_large(a: Any) -> float:
    acc = xsum.xsum_large_accumulator()
    xsum.xsum_add(acc, a)
    return float(xsum.xsum_round(acc))


def xsum_dot(x: Any, y: Any) -> float:
    acc = xsum.xsum_large_accumulator()
    xsum.xsum_add_dot(acc, x, y)
    return float(xsum.xsum_round(acc))


def xsum_mean(a: Any) -> float:
    acc = xsum.xsum_large_accumulator()
    xsum.xsum_add(acc, a)
    return float(xsum.xsum_large_div_int(acc, len(a)))


def accumulate(a: Any) -> float:
    acc = _bufsum.Accumulator()
    acc.add(a)
    return acc.value


def one_thread(nbytes: int) -> dict[str, int]:
    """threads=None is one thread below 8 MiB; pinned to 1 above, so every row is one core
    (and the per-call rows time the plain call)."""
    return {"threads": 1} if nbytes >= ONE_THREAD_BYTES else {}


class Impl(NamedTuple):
    """A contender: ``prepare(data, nbytes)`` gives ``(function, args, kwargs)``, timed as one
    call (``nbytes``: the input's size)."""

    available: bool
    prepare: Callable[[Any, int], tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]]
    max_n: int = 1 << 62  # larger inputs are not timed (too slow to be worth the wait)


IMPLS: dict[str, Impl] = {
    "bufsum.sum": Impl(True, lambda a, nbytes: (_bufsum.sum, (a,), one_thread(nbytes))),
    "bufsum.fsum": Impl(True, lambda a, nbytes: (_bufsum.fsum, (a,), one_thread(nbytes))),
    "numpy.sum": Impl(np is not None, lambda a, _: (np.sum, (a,), {})),
    "xsum": Impl(xsum is not None and np is not None, lambda a, _: (xsum_large, (a,), {})),
    "math.fsum": Impl(True, lambda a, _: (math.fsum, (a.tolist(),), {}), max_n=1_000_000),
    "own sum": Impl(True, lambda a, _: own_sum(a)),  # the input library's own sum (Arrow/DLPack rows)
    # Dot products: the input is a pair (x, y).
    "bufsum.dot": Impl(True, lambda a, nbytes: (_bufsum.dot, a, one_thread(2 * nbytes))),
    "bufsum.fdot": Impl(True, lambda a, nbytes: (_bufsum.fdot, a, one_thread(2 * nbytes))),
    "numpy.dot": Impl(np is not None, lambda a, _: (np.dot, a, {})),
    "xsum dot": Impl(xsum is not None and np is not None, lambda a, _: (xsum_dot, a, {})),
    "sumprod": Impl(SUMPROD is not None, lambda a, _: (SUMPROD, (a[0].tolist(), a[1].tolist()), {}),
                    max_n=1_000_000),
    # Statistics.
    "bufsum.mean": Impl(True, lambda a, nbytes: (_bufsum.mean, (a,), one_thread(nbytes))),
    "numpy.mean": Impl(np is not None, lambda a, _: (np.mean, (a,), {})),
    "xsum mean": Impl(xsum is not None and np is not None, lambda a, _: (xsum_mean, (a,), {})),
    "bufsum.var": Impl(True, lambda a, nbytes: (_bufsum.var, (a,), one_thread(nbytes))),
    "numpy.var": Impl(np is not None, lambda a, _: (np.var, (a,), {})),
    "bufsum.std": Impl(True, lambda a, nbytes: (_bufsum.std, (a,), one_thread(nbytes))),
    "numpy.std": Impl(np is not None, lambda a, _: (np.std, (a,), {})),
    # NaN policy 'omit' against the NaN-skipping sums of NumPy and bottleneck.
    "sum omit": Impl(True, lambda a, nbytes: (_bufsum.sum, (a,), {"nan_policy": "omit", **one_thread(nbytes)})),
    "nansum": Impl(np is not None, lambda a, _: (np.nansum, (a,), {})),
    "bn.nansum": Impl(importlib.util.find_spec("bottleneck") is not None,
                      lambda a, _: (_module("bottleneck").nansum, (a,), {})),
    "mean omit": Impl(True, lambda a, nbytes: (_bufsum.mean, (a,), {"nan_policy": "omit", **one_thread(nbytes)})),
    "nanmean": Impl(np is not None, lambda a, _: (np.nanmean, (a,), {})),
    # The exact accumulator on its own (no certified pass can serve an exact state).
    "acc.add": Impl(True, lambda a, _: (accumulate, (a,), {})),
}
FLOAT64 = ("bufsum.sum", "bufsum.fsum", "numpy.sum", "xsum", "math.fsum")
# Speed-up columns: (label, bufsum's implementation, the other); other's time / bufsum's time.
SPEEDUPS = [
    ("sum vs numpy", "bufsum.sum", "numpy.sum"),
    ("fsum vs numpy", "bufsum.fsum", "numpy.sum"),
    ("fsum vs xsum", "bufsum.fsum", "xsum"),
    ("fsum vs math", "bufsum.fsum", "math.fsum"),
    ("sum vs own", "bufsum.sum", "own sum"),
    ("fsum vs own", "bufsum.fsum", "own sum"),
    ("dot vs numpy", "bufsum.dot", "numpy.dot"),
    ("fdot vs numpy", "bufsum.fdot", "numpy.dot"),
    ("fdot vs xsum", "bufsum.fdot", "xsum dot"),
    ("fdot vs math", "bufsum.fdot", "sumprod"),
    ("mean vs numpy", "bufsum.mean", "numpy.mean"),
    ("mean vs xsum", "bufsum.mean", "xsum mean"),
    ("var vs numpy", "bufsum.var", "numpy.var"),
    ("std vs numpy", "bufsum.std", "numpy.std"),
    ("sum vs nansum", "sum omit", "nansum"),
    ("sum vs bn", "sum omit", "bn.nansum"),
    ("mean vs np", "mean omit", "nanmean"),
    ("acc vs xsum", "acc.add", "xsum"),
]


class Case(NamedTuple):
    """One row: ``name`` (unique, at most 16 characters), ``group`` (``"size"`` rows are drawn as
    lines over n; each group is its own table), the input's element type (NumPy's name), its
    element count, how it is made, and which implementations are timed on it."""

    name: str
    group: str
    dtype: str
    n: int
    make: Callable[[int], Any]
    impls: tuple[str, ...]
    needs: str | None = None  # a module the input needs (the row is skipped without it)


def itemsize(dtype: str) -> int:
    """Bytes per element of a case's dtype name."""
    if dtype == "bfloat16":
        return 2
    return np.dtype(dtype).itemsize if np is not None else 8


def size_label(n: int) -> str:
    exp = round(math.log10(n)) if n > 0 else 0
    return f"1e{exp}" if n >= 1000 and n == 10**exp else str(n)


def cases(quick: bool) -> list[Case]:
    sizes = [1, 10, 1_000, 100_000, 1_000_000] + ([] if quick else [10_000_000])
    big = sizes[-1]
    out = [Case(f"n={size_label(n)}", "size", "float64", n, normal, FLOAT64) for n in sizes]
    out.append(Case(f"a[::2], n={size_label(big)}", "layout", "float64", big, every_other, FLOAT64))
    out.append(Case("ill-cond., n=1e6", "data", "float64", 1_000_000, ill_conditioned, FLOAT64))
    for dt in ["int64", "int32", "uint8", "float32", "float16", ">f8", "complex128"]:
        out.append(Case(f"{dt}, n=1e6", "format", dt, 1_000_000, of_dtype(dt), ("bufsum.sum", "numpy.sum"), "numpy"))
    # Dot products, statistics, NaN policy, the exact accumulator.
    dots = ("bufsum.dot", "bufsum.fdot", "numpy.dot", "xsum dot", "sumprod")
    out += [
        Case("dot, n=1", "dot", "float64", 1, pair(normal), dots, "numpy"),
        Case("dot, n=1e5", "dot", "float64", 100_000, pair(normal), dots, "numpy"),
        Case(f"dot, n={size_label(big)}", "dot", "float64", big, pair(normal), dots, "numpy"),
        Case("f32·f64, n=1e6", "dot", "float64", 1_000_000, pair(of_dtype("float32")),
             ("bufsum.dot", "bufsum.fdot", "numpy.dot"), "numpy"),
        Case("i32·f64, n=1e6", "dot", "float64", 1_000_000, pair(of_dtype("int32")),
             ("bufsum.dot", "bufsum.fdot", "numpy.dot"), "numpy"),
        Case(">f8·f8, n=1e6", "dot", "float64", 1_000_000, pair(of_dtype(">f8")),
             ("bufsum.dot", "bufsum.fdot", "numpy.dot"), "numpy"),
        Case("a[::2]·f8, 1e6", "dot", "float64", 1_000_000, pair(every_other),
             ("bufsum.dot", "bufsum.fdot", "numpy.dot"), "numpy"),
    ]
    for n in sorted({1_000_000, big}):
        out.append(Case(f"mean, n={size_label(n)}", "mean", "float64", n, normal,
                        ("bufsum.mean", "numpy.mean", "xsum mean"), "numpy"))
        out.append(Case(f"var, n={size_label(n)}", "spread", "float64", n, normal,
                        ("bufsum.var", "numpy.var", "bufsum.std", "numpy.std"), "numpy"))
    out.append(Case(f"1% NaN, n={size_label(big)}", "nan", "float64", big, with_nans,
                    ("sum omit", "nansum", "bn.nansum", "mean omit", "nanmean"), "numpy"))
    out.append(Case(f"exact, n={size_label(big)}", "exact", "float64", big, normal, ("acc.add", "xsum"), "numpy"))
    out.append(Case("exact, ill-cond.", "exact", "float64", 1_000_000, ill_conditioned,
                    ("bufsum.fsum", "acc.add", "xsum"), "numpy"))
    # Arrow and DLPack inputs against the exporter's own sum.
    n, label = (1_000_000, "1e6") if quick else (10_000_000, "1e7")
    both, one = ("bufsum.sum", "bufsum.fsum", "own sum"), ("bufsum.sum", "own sum")
    out += [
        Case(f"polars, n={label}", "exporter", "float64", n, lambda n: _module("polars").Series(normal(n)), both, "polars"),
        Case(f"pyarrow, n={label}", "exporter", "float64", n, lambda n: _module("pyarrow").array(normal(n)), both,
             "pyarrow.compute"),
        Case("pyarrow 10% null", "exporter", "float64", n, arrow_with_nulls, one, "pyarrow.compute"),
        Case("pyarrow, n=1", "exporter", "float64", 1, lambda n: _module("pyarrow").array(normal(n)), one,
             "pyarrow.compute"),
        Case(f"torch bf16 {label}", "exporter", "bfloat16", n, torch_bfloat16, one, "torch"),
    ]
    return out


def run_cases(quick: bool, budget: float) -> list[dict[str, Any]]:
    rows = []
    for case in cases(quick):
        if case.needs is not None and importlib.util.find_spec(case.needs.split(".")[0]) is None:
            continue
        data = case.make(case.n)
        times = {}
        for name in case.impls:
            impl = IMPLS[name]
            if impl.available and case.n <= impl.max_n:
                fn, args, kwargs = impl.prepare(data, case.n * itemsize(case.dtype))
                times[name] = best_time(fn, *args, budget=budget, **kwargs)
        rows.append({"name": case.name, "group": case.group, "dtype": case.dtype, "n": case.n,
                     "seconds_per_call": times})
    return rows


# --- threads and memory -----------------------------------------------------------------

def python_threads_speedup(calls: int) -> float:
    """Serial time over the time of two Python threads making the same fsum calls at once: near
    2 on two free cores when the calls release the GIL (they cannot overlap otherwise)."""
    arrays = [normal(1_000_000), normal(1_000_001)]

    def work(x: Any) -> None:
        for _ in range(calls):
            _bufsum.fsum(x, threads=1)

    t = time.perf_counter()
    for x in arrays:
        work(x)
    serial = time.perf_counter() - t
    ts = [threading.Thread(target=work, args=(x,)) for x in arrays]
    t = time.perf_counter()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return serial / (time.perf_counter() - t)


def parallel(quick: bool, budget: float) -> dict[str, float]:
    cached = normal(1_000_000)  # 8 MB: in the last-level cache
    out = {}
    for name, fn in (("sum", _bufsum.sum), ("fsum", _bufsum.fsum)):
        t1 = best_time(fn, cached, threads=1, budget=budget)
        t2 = best_time(fn, cached, threads=2, budget=budget)
        out[f"{name}, threads=2 vs 1 (1e6 in cache)"] = t1 / t2
    out["2 Python threads calling fsum vs 1"] = python_threads_speedup(50 if quick else 100)
    return out


def rss_growth_kib(quick: bool) -> int:
    """Peak RSS growth while summing a large strided view: contiguous data is read in place and
    strided data through a fixed block per thread, so this stays near 0."""
    big = every_other(4_000_000 if quick else 10_000_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _bufsum.sum(big, threads=1)
    _bufsum.fsum(big, threads=1)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before


# --- the demo ---------------------------------------------------------------------------

def print_demo(out: IO[str]) -> None:
    """Four lines, each something bufsum gives where numpy.sum or math.fsum differ."""
    npv = f", NumPy {np.__version__}" if np is not None else ""
    out.write(f"bufsum {__version__} on Python {sys.version.split()[0]}{npv}; kernel {_bufsum._kernel()}, "
              f"{os.cpu_count()} CPUs\n\n")
    total = _bufsum.fsum(array.array("d", [1e16, 1.0, -1e16]))
    line = f"exact:    1e16 + 1 - 1e16: bufsum.fsum {total!r}"
    if np is not None:
        line += f"; numpy.sum {float(np.sum(np.array([1e16, 1.0, -1e16])))!r}"
    out.write(line + "\n")
    try:
        mf = repr(math.fsum([1e308, 1e308, -1e308]))
    except OverflowError:
        mf = "OverflowError"
    total = _bufsum.fsum(array.array("d", [1e308, 1e308, -1e308]))
    out.write(f"overflow: 1e308 + 1e308 - 1e308: bufsum.fsum {total!r}; math.fsum {mf}\n")
    if np is not None:
        a = np.random.default_rng(1).standard_normal(1_000_000) * 1e3
        spread = np.empty(2 * a.size)
        spread[::2] = a
        layouts: list[Any] = [a, a.astype(">f8"), np.asfortranarray(a.reshape(1000, 1000)), spread[::2]]
        ours = {_bufsum.sum(x).hex() for x in layouts}
        theirs = {float(np.sum(x)).hex() for x in layouts}
        out.write(f"layouts:  4 layouts of 1e6 doubles: bufsum.sum {len(ours)} distinct result(s), "
                  f"numpy.sum {len(theirs)}\n")
    out.write(f"threads:  2 Python threads calling bufsum.fsum at once: {python_threads_speedup(20):.2f}x "
              f"one thread's rate\n\n")
    out.flush()


# --- output -----------------------------------------------------------------------------

def fmt(x: float | None, width: int, digits: int = 3) -> str:
    return f"{x:>{width}.{digits}f}" if x is not None else f"{'-':>{width}}"


# The printed tables: a title and the case groups each one shows (one table per kind of input,
# so that each has only the columns its rows use and fits 80 columns).
TABLES = [
    ("float64", ("size", "layout", "data")),
    ("other formats", ("format",)),
    ("dot products (pairs per ns)", ("dot",)),
    ("mean", ("mean",)),
    ("var and std", ("spread",)),
    ("NaN policy 'omit'", ("nan",)),
    ("exact accumulator", ("exact",)),
    ("Arrow and DLPack inputs", ("exporter",)),
]


def print_tables(result: dict[str, Any], out: IO[str]) -> None:
    """Per group of cases: throughput (elements per ns), then bufsum's speed-ups (the other's
    time over bufsum's). Both read "higher is faster"."""
    rows = result["cases"]
    out.write("Throughput: elements per ns, 1 thread. Speed-up of bufsum: the other's time over\n"
              "bufsum's. Both read: higher is faster.\n\n")
    for title, groups in TABLES:
        mine = [r for r in rows if r["group"] in groups]
        present = [name for name in IMPLS if any(name in r["seconds_per_call"] for r in mine)]
        if not mine:
            continue
        out.write(f"{title} — throughput\n")
        out.write(f"{'case':<17}" + "".join(f"{name:>12}" for name in present) + "\n")
        for r in mine:
            t = r["seconds_per_call"]
            out.write(f"{r['name']:<17}" + "".join(fmt(r["n"] / t[c] / 1e9 if c in t else None, 12) for c in present) + "\n")
        speedups = [s for s in SPEEDUPS if s[1] in present and s[2] in present]
        if speedups:
            out.write(f"\n{title} — speed-up of bufsum\n")
            out.write(f"{'case':<17}" + "".join(f"{label:>14}" for label, _, _ in speedups) + "\n")
            for r in mine:
                t = r["seconds_per_call"]
                cells = [t[b] / t[a] if a in t and b in t else None for _, a, b in speedups]
                out.write(f"{r['name']:<17}" + "".join(fmt(c, 14, 2) for c in cells) + "\n")
        out.write("\n")
    tiny: dict[str, float] = next((r["seconds_per_call"] for r in rows if r["n"] == 1), {})
    if "bufsum.sum" in tiny and "numpy.sum" in tiny:
        out.write(f"Per call, 1 element: bufsum.sum {tiny['bufsum.sum'] * 1e9:.0f} ns, "
                  f"numpy.sum {tiny['numpy.sum'] * 1e9:.0f} ns\n")
    out.write("\nParallel speed-up (above 1 is faster):\n")
    for k, v in result["parallel"].items():
        out.write(f"  {k + ':':<44}{v:6.2f}\n")
    out.write(f"\nPeak RSS growth, strided sum and fsum: {result['rss_growth_kib']} KiB\n")
    out.flush()


def draw(rows: list[dict[str, Any]], path: str) -> None:
    """Writes :func:`figure` of ``rows`` to ``path`` (PNG)."""
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    fig = figure(rows)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure(rows: list[dict[str, Any]]) -> Any:
    """Left: throughput over n for the size sweep, one line per implementation. Right: the
    single-point cases (layouts, ill-conditioned data, other formats), one marker each."""
    plt: Any = importlib.import_module("matplotlib.pyplot")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    sweep = [r for r in rows if r["group"] == "size"]
    points = [r for r in rows if r["group"] != "size"]
    markers = dict(zip(IMPLS, "osD^v"))
    for name in IMPLS:
        xy = [(r["n"], r["n"] / r["seconds_per_call"][name] / 1e9) for r in sweep if name in r["seconds_per_call"]]
        if xy:
            left.plot(*zip(*xy), marker=markers.get(name, "o"), label=name)
        xy = [(i, r["n"] / r["seconds_per_call"][name] / 1e9) for i, r in enumerate(points) if name in r["seconds_per_call"]]
        if xy:
            right.plot(*zip(*xy), linestyle="none", marker=markers.get(name, "o"), label=name)
    left.set(xscale="log", yscale="log", xlabel="elements (float64)", ylabel="elements per ns (1 thread)",
             title="float64 sums by size")
    right.set(yscale="log", ylabel="elements per ns (1 thread)", title="other inputs")
    right.set_xticks(range(len(points)), [r["name"] for r in points], rotation=40, ha="right")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    left.legend()
    fig.tight_layout()
    return fig


def main(plot: str | None = None, as_json: bool = False, quick: bool = False, demo: bool = False) -> int:
    """Runs the benchmark; prints tables (after the demo, if asked) or JSON on stdout. Returns
    the exit status: 1 if a plot was asked for and could not be drawn."""
    status = 0
    if plot and importlib.util.find_spec("matplotlib") is None:
        print(f"bufsum: --plot {plot} needs matplotlib (pip install matplotlib); the benchmark runs "
              "without the plot", file=sys.stderr)
        plot, status = None, 1
    if demo:
        print_demo(sys.stdout)
    budget = 0.05 if quick else 0.2
    result: dict[str, Any] = {
        "schema": SCHEMA, "bufsum": __version__, "python": sys.version.split()[0],
        "numpy": np.__version__ if np is not None else None, "kernel": _bufsum._kernel(),
        "cpus": os.cpu_count(), "units": UNITS,
        "cases": run_cases(quick, budget),
        "parallel": parallel(quick, budget),
        "rss_growth_kib": rss_growth_kib(quick),
    }
    if as_json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_tables(result, sys.stdout)
    if plot:
        draw(result["cases"], plot)
        print(f"plot written to {plot}", file=sys.stderr)
    return status
