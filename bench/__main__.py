"""``python -m bench run [--quick] [--pg] [--out FILE]`` and ``python -m bench report FILE``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.profile import FULL, QUICK
from bench.report import markdown, tables
from bench.run import WORKLOADS
from bench.run import main as run_main


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="run the workloads against real server processes")
    run.add_argument("--quick", action="store_true", help="small and short (well under 5 min)")
    run.add_argument("--pg", action="store_true", help="also run on a fresh PostgreSQL database")
    run.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    run.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    run.add_argument("--connections", type=int, help="idle devices to connect (default: profile)")
    report = verbs.add_parser("report", help="print docs/benchmarks.md from a results file")
    report.add_argument("results", type=Path)
    return parser.parse_args()


def main() -> None:
    args = parse()
    if args.verb == "report":
        sys.stdout.write(markdown(json.loads(args.results.read_text())))
        return
    profile = QUICK if args.quick else FULL
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    connections = args.connections or profile.connections
    result = run_main(profile, args.pg, only, connections, args.out)
    print(tables(result))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
