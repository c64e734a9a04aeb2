"""``python -m bufsum``: a demo and benchmark, or the sum of a file.

    python -m bufsum                                # demo, then the benchmark tables
    python -m bufsum bench [--quick] [--json] [--plot FILE.png]
    python -m bufsum FILE [--format FMT] [--exact]  # a .npy or raw binary file, through mmap
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__, _bufsum

USAGE = """\
python -m bufsum [--quick] [--json] [--plot FILE.png]
       python -m bufsum bench [--quick] [--json] [--plot FILE.png]
       python -m bufsum FILE [--format FMT] [--exact]
       python -m bufsum --help | --version"""

DESCRIPTION = """\
Without FILE: a short demo of what bufsum gives where numpy.sum and math.fsum
differ, then a benchmark on this machine (bufsum vs numpy.sum, math.fsum and
xsum, where installed). 'bench' runs the benchmark alone.

With FILE: prints the sum of a .npy file (its dtype, byte order and Fortran
order are read from its header; the bits equal bufsum.sum(numpy.load(FILE)))
or of a raw binary file of --format elements, read through mmap. A progress
bar goes to stderr for large files on a terminal. To sum a file named
'bench', write ./bench."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bufsum", usage=USAGE, description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", nargs="?", metavar="FILE | bench", help="a .npy or raw binary file to sum; or 'bench'")
    files = p.add_argument_group("summing a FILE")
    files.add_argument("--format", metavar="FMT",
                       help="struct format of a raw file's elements: b B h H i I l L q Q n N ? e f d Zf Zd, "
                            "optionally after a byte order @ = < > ! (default: d; not for .npy files)")
    files.add_argument("--exact", action="store_true", help="the correctly rounded bufsum.fsum instead of bufsum.sum")
    bench = p.add_argument_group("the benchmark")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and shorter timings (a smoke run)")
    bench.add_argument("--json", action="store_true",
                       help="print the results as JSON on stdout (no demo, no tables; keys in bufsum._bench)")
    bench.add_argument("--plot", metavar="FILE.png", help="also draw throughput against size (needs matplotlib)")
    p.add_argument("--version", action="version",
                   version=f"bufsum {__version__} (Python {sys.version.split()[0]}, kernel {_bufsum._kernel()})")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.file is None or args.file == "bench":
        if args.format is not None or args.exact:
            p.error("--format and --exact apply to a FILE")
        # Every row is one core: BLAS-backed contenders (numpy.dot) get one thread too, unless
        # the caller chose otherwise. Set before NumPy is first imported.
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        from . import _bench

        demo = args.file is None and not args.json
        return _bench.main(plot=args.plot, as_json=args.json, quick=args.quick, demo=demo)
    if args.quick or args.json or args.plot:
        p.error("--quick, --json and --plot apply to the benchmark, not to a FILE")

    from ._files import sum_file

    try:
        result = sum_file(args.file, args.format, args.exact, sys.stderr if sys.stderr.isatty() else None)
    except (OSError, ValueError, TypeError, OverflowError, BufferError, MemoryError) as e:
        message = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"bufsum: {args.file}: {' '.join(message.splitlines())}", file=sys.stderr)
        return 1
    print(repr(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
