"""``python -m bench run [--quick] [--pg] [--out FILE]``, ``python -m bench report FILE`` and
``python -m bench scaling FILE``."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

from bench.plot import latency_plot
from bench.profile import FULL, QUICK
from bench.report import PLOT_NAME, markdown, tables
from bench.run import WORKLOADS
from bench.run import main as run_main
from bench.scaling_doc import markdown as scaling_markdown


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="run the workloads against real server processes")
    run.add_argument("--quick", action="store_true", help="small and short (well under 5 min)")
    run.add_argument("--pg", action="store_true", help="also run on a fresh PostgreSQL database")
    run.add_argument("--out", type=Path, default=Path("bench/results/latest.json"))
    run.add_argument(
        "--merge-into", type=Path,
        help="re-measure only the selected workloads: write FILE with their figures replaced",
    )  # fmt: skip
    run.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    run.add_argument("--no-synapse", action="store_true", help="skip the Synapse comparison")
    run.add_argument("--connections", type=int, help="idle devices to connect (default: profile)")
    report = verbs.add_parser(
        "report",
        help="print docs/benchmarks.md from a results file and write the latency PNG beside it",
    )
    report.add_argument("results", type=Path)
    report.add_argument(
        "--plot", type=Path,
        help=f"where to write the PNG (default: {PLOT_NAME} beside the file stdout goes to)",
    )  # fmt: skip
    scaling = verbs.add_parser(
        "scaling", help="print docs/scaling.md, the capacity model, from a results file"
    )
    scaling.add_argument("results", type=Path)
    return parser.parse_args()


def stdout_file() -> Path | None:
    """The regular file stdout is redirected to (``> docs/benchmarks.md``), if it is one."""
    if not stat.S_ISREG(os.fstat(sys.stdout.fileno()).st_mode):
        return None
    return Path(os.readlink("/proc/self/fd/1"))


def report(results: Path, plot: Path | None) -> None:
    result = json.loads(results.read_text())
    target = stdout_file()
    if plot is None and target is not None:
        plot = target.parent / PLOT_NAME
    if plot is not None and latency_plot(result, plot):
        print(f"latency plot written to {plot}", file=sys.stderr)
        sys.stdout.write(markdown(result, os.path.relpath(plot, (target or plot).parent)))
        return
    sys.stdout.write(markdown(result, None))


def main() -> None:
    args = parse()
    if args.verb == "report":
        report(args.results, args.plot)
        return
    if args.verb == "scaling":
        sys.stdout.write(scaling_markdown(json.loads(args.results.read_text())))
        return
    profile = QUICK if args.quick else FULL
    only = {w.strip() for w in args.only.split(",") if w.strip()}
    if args.no_synapse:
        only.discard("synapse")
    connections = args.connections or profile.connections
    result = run_main(profile, args.pg, only, connections, args.out, args.merge_into)
    print(tables(result))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
