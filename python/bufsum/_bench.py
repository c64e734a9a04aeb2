"""The benchmark behind ``python -m bufsum``: bufsum against numpy.sum, math.fsum and xsum in the
same run, as ratios (machines are noisy; ratios from one run travel better than times)."""

from __future__ import annotations

import array
import importlib
import json
import math
import random
import resource
import sys
import threading
import time
import timeit
from collections.abc import Callable
from typing import Any

from . import _bufsum

try:
    import numpy as np
except ImportError:  # numpy is optional: bufsum alone still runs
    np = None  # type: ignore[assignment]
try:
    xsum: Any = importlib.import_module("xsum")
except ImportError:
    xsum = None


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


def data(n: int) -> Any:
    """n standard-normal doubles: a numpy array when numpy is installed, else array('d')."""
    if np is not None:
        return np.random.default_rng(n).standard_normal(n)
    rnd = random.Random(n)
    base = array.array("d", (rnd.gauss(0.0, 1.0) for _ in range(min(n, 1 << 16))))
    reps = -(-n // len(base))
    return (base * reps)[:n]


def ill_conditioned(n: int) -> Any:
    """n values with exponents over ±300 decades, half of them cancelling exactly: fsum's
    certificate refuses and the exact accumulator does the work."""
    rnd = random.Random(n)
    half = [rnd.gauss(0.0, 1.0) * 10.0 ** rnd.randint(-300, 300) for _ in range(n // 2)]
    vals = half + [-v for v in half[: n // 4]] + half[: n - n // 2 - n // 4]
    rnd.shuffle(vals)
    return np.array(vals) if np is not None else array.array("d", vals)


def xsum_large(a: Any) -> float:
    acc = xsum.xsum_large_accumulator()
    xsum.xsum_add(acc, a)
    return float(xsum.xsum_round(acc))


def run(plot: str | None = None, as_json: bool = False, quick: bool = False) -> int:
    sizes = [1, 10, 1_000, 100_000, 1_000_000] + ([] if quick else [10_000_000])
    budget = 0.05 if quick else 0.2
    rows: list[dict[str, Any]] = []
    cases: list[tuple[int, str]] = [(n, "") for n in sizes] + [(sizes[-1], "a[::2]"), (1_000_000, "ill-cond.")]
    for size, kind in cases:
        a = data(2 * size)[::2] if kind == "a[::2]" else ill_conditioned(size) if kind else data(size)
        label = f"n={size:.0e}" if size > 1 else "n=1"
        row: dict[str, Any] = {"case": f"{kind}, {label}" if kind else label, "n": size}
        # threads=None is one thread below 8 MiB; pinned to 1 above so every row is one core.
        one = {"threads": 1} if size * 8 >= 8 << 20 else {}
        row["sum"] = best_time(_bufsum.sum, a, budget=budget, **one)
        row["fsum"] = best_time(_bufsum.fsum, a, budget=budget, **one)
        if np is not None:
            row["numpy.sum"] = best_time(np.sum, a, budget=budget)
        if xsum is not None and np is not None:
            row["xsum"] = best_time(xsum_large, a, budget=budget)
        if size <= 1_000_000:
            row["math.fsum"] = best_time(math.fsum, list(a), budget=budget)
        rows.append(row)
    extra = threads_and_memory(quick, budget)
    if np is not None:
        extra["formats"] = formats(budget)
        extra.update(arrow_and_dlpack(quick, budget))
    result = {"kernel": _bufsum._kernel(), "rows": rows, **extra}
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        print_table(result)
    if plot:
        draw(rows, plot)
    return 0


def formats(budget: float) -> dict[str, float]:
    """bufsum.sum / numpy.sum time on 10^6 elements of other formats (numpy wraps integers and
    accumulates float32 in float32; bufsum is exact for integers and widens floats to float64)."""
    out: dict[str, float] = {}
    base = np.random.default_rng(7).standard_normal(1_000_000) * 100
    with np.errstate(over="ignore"):
        for dt in ["int64", "int32", "uint8", "float32", "float16", ">f8", "complex128"]:
            a = base.astype(dt) if dt != "complex128" else base + 1j * base[::-1]
            out[dt] = best_time(_bufsum.sum, a, budget=budget) / best_time(np.sum, a, budget=budget)
    return out


def arrow_and_dlpack(quick: bool, budget: float) -> dict[str, float]:
    """Time ratios of bufsum on Arrow and DLPack inputs against the exporter's own reduction
    (or bufsum on float32 for bfloat16), for the exporters that are installed."""
    n = 1_000_000 if quick else 10_000_000
    x = np.random.default_rng(11).standard_normal(n)
    nulls = np.random.default_rng(12).random(n) < 0.1
    pa = lambda: importlib.import_module("pyarrow")  # noqa: E731
    # (label, module needed, make (our input, reference input), bufsum call, reference call)
    Row = tuple[str, str, Callable[[Any], tuple[Any, Any]], Callable[[Any], object], Callable[[Any], object]]
    table: list[Row] = [
        ("sum(polars) / Series.sum()", "polars", lambda m: (m.Series(x),) * 2, _bufsum.sum, lambda s: s.sum()),
        ("fsum(polars) / Series.sum()", "polars", lambda m: (m.Series(x),) * 2, _bufsum.fsum, lambda s: s.sum()),
        ("sum(pyarrow, 10% nulls) / pc.sum", "pyarrow.compute", lambda m: (pa().array(x, mask=nulls),) * 2,
         _bufsum.sum, lambda a: pa().compute.sum(a)),
        ("sum(pyarrow) / pc.sum", "pyarrow.compute", lambda m: (pa().array(x),) * 2, _bufsum.sum,
         lambda a: pa().compute.sum(a)),
        ("sum(pyarrow, 1 element) / pc.sum", "pyarrow.compute", lambda m: (pa().array(x[:1]),) * 2, _bufsum.sum,
         lambda a: pa().compute.sum(a)),
        ("sum(torch bfloat16) / sum(torch float32)", "torch",
         lambda m: (m.from_numpy(x.astype(np.float32)).bfloat16(), m.from_numpy(x.astype(np.float32))),
         _bufsum.sum, _bufsum.sum),
    ]
    out: dict[str, float] = {}
    for label, module, make, ours, theirs in table:
        try:
            m = importlib.import_module(module)
        except ImportError:
            continue
        mine, ref = make(m)
        out[label] = best_time(ours, mine, budget=budget) / best_time(theirs, ref, budget=budget)
    return out


def threads_and_memory(quick: bool, budget: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cached = data(1_000_000)  # 8 MB: in the last-level cache
    t1 = best_time(_bufsum.sum, cached, threads=1, budget=budget)
    t2 = best_time(_bufsum.sum, cached, threads=2, budget=budget)
    out["threads=2 / threads=1 (sum, 1e6 in cache)"] = t2 / t1
    f1 = best_time(_bufsum.fsum, cached, threads=1, budget=budget)
    f2 = best_time(_bufsum.fsum, cached, threads=2, budget=budget)
    out["threads=2 / threads=1 (fsum, 1e6 in cache)"] = f2 / f1

    # GIL release: two Python threads each running calls concurrently vs the same calls in turn.
    arrays = [data(1_000_000), data(1_000_001)]
    calls = 50 if quick else 100

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
    out["two Python threads / serial (fsum, GIL released)"] = (time.perf_counter() - t) / serial

    # Scratch memory: peak RSS growth while summing a large strided view.
    big = data(2 * (4_000_000 if quick else 10_000_000))[::2]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    _bufsum.sum(big, threads=1)
    _bufsum.fsum(big, threads=1)
    out["peak RSS growth, strided sum+fsum (KiB)"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return out


def print_table(result: dict[str, Any]) -> None:
    rows = result["rows"]
    print(f"bufsum benchmark — float64, 1 thread, kernel: {result['kernel']}; elements/ns (higher is faster)")
    print("and time ratios bufsum/other (below 1.0: bufsum is faster)\n")
    cols = ["sum", "fsum", "numpy.sum", "xsum", "math.fsum"]
    present = [c for c in cols if any(c in r for r in rows)]
    ratios = [("sum/numpy", "sum", "numpy.sum"), ("fsum/numpy", "fsum", "numpy.sum"),
              ("fsum/xsum", "fsum", "xsum"), ("fsum/math.fsum", "fsum", "math.fsum")]
    ratios = [r for r in ratios if r[2] in present]
    head = f"{'case':<18}" + "".join(f"{c:>11}" for c in present) + "".join(f"{r[0]:>16}" for r in ratios)
    print(head)
    print("-" * len(head))
    for r in rows:
        line = f"{r['case']:<18}"
        for c in present:
            line += f"{r['n'] / r[c] / 1e9:>11.3f}" if c in r else f"{'':>11}"
        for _, a, b in ratios:
            line += f"{r[a] / r[b]:>16.3f}" if a in r and b in r else f"{'-':>16}"
        print(line)
    tiny = next((r for r in rows if r["n"] == 1), None)
    if tiny and "numpy.sum" in tiny:
        print(f"\nper-call time, 1 element: bufsum.sum {tiny['sum'] * 1e9:.0f} ns, numpy.sum {tiny['numpy.sum'] * 1e9:.0f} ns")
    print()
    for k, v in result.items():
        if k == "formats":
            print("sum / numpy.sum time, 10^6 elements: " + ", ".join(f"{d} {r:.2f}" for d, r in v.items()))
        elif k not in ("rows", "kernel"):
            print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
    sys.stdout.flush()


def draw(rows: list[dict[str, Any]], path: str) -> None:
    try:
        matplotlib: Any = importlib.import_module("matplotlib")
        matplotlib.use("Agg")
        plt: Any = importlib.import_module("matplotlib.pyplot")
    except ImportError:
        print("--plot needs matplotlib: pip install matplotlib (or bufsum[bench])", file=sys.stderr)
        return
    contiguous = [r for r in rows if not r["case"].startswith("a[")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in ["sum", "fsum", "numpy.sum", "xsum", "math.fsum"]:
        pts = [(r["n"], r["n"] / r[c] / 1e9) for r in contiguous if c in r]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=("bufsum." + c) if c in ("sum", "fsum") else c)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("elements (float64)")
    ax.set_ylabel("elements per ns (1 thread)")
    ax.set_title("bufsum vs numpy.sum, xsum, math.fsum")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")
