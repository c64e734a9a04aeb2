"""``python -m bufsum``: the demo/benchmark, or the sum of a file.

    python -m bufsum                          # benchmark table on this machine
    python -m bufsum bench [--plot F.png] [--json] [--quick]
    python -m bufsum FILE [--format d] [--exact]   # raw binary or .npy, through mmap
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "bench":
        from . import _bench

        p = argparse.ArgumentParser(prog="python -m bufsum bench", description="Benchmark bufsum on this machine.")
        p.add_argument("--plot", metavar="FILE.png", help="also draw throughput vs size (needs matplotlib)")
        p.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
        p.add_argument("--quick", action="store_true", help="fewer repeats and sizes (a smoke run)")
        args = p.parse_args(argv[1:])
        return _bench.run(plot=args.plot, as_json=args.json, quick=args.quick)

    from ._files import sum_file

    p = argparse.ArgumentParser(prog="python -m bufsum", description="Sum a raw binary or .npy file through mmap.")
    p.add_argument("file", help="a .npy file, or raw binary elements of --format")
    p.add_argument("--format", help="struct format of raw elements, e.g. d, <f, >q, Zd (default: d; .npy files carry their own)")
    p.add_argument("--exact", action="store_true", help="correctly rounded fsum instead of sum")
    args = p.parse_args(argv)
    try:
        result = sum_file(args.file, args.format, args.exact, sys.stderr if sys.stderr.isatty() else None)
    except (OSError, ValueError, TypeError) as e:
        print(f"bufsum: {args.file}: {e}", file=sys.stderr)
        return 1
    print(repr(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
