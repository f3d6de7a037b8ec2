"""A plain argparse front end over bpviz's own code: the reference the bench holds `bpviz` (typer)
against for the tiny job and --help. It does what `bpviz expr` does for a program, --at/--values and
-o/-f, and nothing else.

    python benchmarks/reference_cli.py expr "x*y" --at x=1 --at y=2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bpviz", description="Backpropagation diagrams from formulas "
                                                               "and small neural-network specs.")
    commands = parser.add_subparsers(dest="command", required=True)
    expr = commands.add_parser("expr", help="Differentiate an expression program.")
    expr.add_argument("program")
    expr.add_argument("--at", "-a", action="append", default=[], metavar="NAME=VALUE")
    expr.add_argument("--values", metavar="FILE")
    expr.add_argument("--output", metavar="NAME")
    expr.add_argument("-o", "--out", metavar="FILE")
    expr.add_argument("-f", "--format")
    args = parser.parse_args(argv)

    from bpviz.api import Options, Source, run
    from bpviz.cli import gather_values, read_program
    values = gather_values(args.at, Path(args.values) if args.values else None)
    result = run(Source.expression(read_program(args.program), values, args.output),
                 Options.make(out=args.out, format=args.format))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if result.display is not None:
        from rich.console import Console
        Console(highlight=False).print(result.display)
    result.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
