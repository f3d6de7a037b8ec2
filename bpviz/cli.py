"""The command line: argument handling, error mapping and output only; the work is elsewhere."""

from __future__ import annotations

import os
import sys
from functools import wraps
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from . import __version__
from .errors import BpvizError, CheckFailed, UsageError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Backpropagation diagrams: the computation graph of a formula or a small network, "
         "with every forward value, local derivative and gradient.",
)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

FORMATS = ("table", "json")
EXTENSIONS = {".json": "json"}


def _fail(exc: BpvizError) -> None:
    stderr.print(f"[bold red]error:[/] {_escape(exc.message)}")
    if exc.detail:
        stderr.print(_escape(exc.detail), style="dim")
    raise typer.Exit(exc.exit_code)


def _escape(text: str) -> str:
    from rich.markup import escape
    return escape(text)


def friendly(command):
    """Turn BpvizError into one clean message and its exit code."""
    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BpvizError as exc:
            _fail(exc)
    return run


def choose_format(out: Optional[str], fmt: Optional[str]) -> str:
    if fmt:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
        return fmt
    if out is None:
        return "table"
    if out == "-":
        return "json"
    ext = Path(out).suffix.lower()
    if ext not in EXTENSIONS:
        known = ", ".join(sorted(EXTENSIONS))
        raise UsageError(f"cannot tell the format of {out!r} from its extension "
                         f"(known: {known}); add -f FORMAT")
    return EXTENSIONS[ext]


def read_program(program: str) -> str:
    if program == "-":
        return sys.stdin.read()
    return program


def gather_values(at: List[str], values_file: Optional[Path]) -> dict:
    from .values import load_values_file, parse_assignments
    values: dict = {}
    if values_file is not None:
        values.update(load_values_file(str(values_file)))
    for item in at:
        values.update(parse_assignments(item))
    return values


def emit(graph, out: Optional[str], fmt: str, digits: int, check: bool) -> None:
    """Run the optional check, print warnings, render and write."""
    report = None
    if check:
        from .check import check as run_check
        report = run_check(graph)
        graph.meta["check_report"] = report
        graph.meta["check"] = {"tolerance": report.tolerance, "largest_error": report.worst,
                               "agree": report.ok,
                               "inputs": {r.name: {"sympy": r.symbolic, "finite_difference": r.numeric}
                                          for r in report.rows}}
    for warning in graph.warnings:
        stderr.print(f"[yellow]warning:[/] {_escape(warning)}")
    if fmt == "table":
        from .render.terminal import render_table
        if out not in (None, "-"):
            raise UsageError("the table format prints to the terminal; use -f json or a file extension")
        Console(highlight=False).print(render_table(graph, digits))
    else:
        from .render.json_out import render_json
        from .write import write_output
        write_output(out or "-", render_json(graph))
        if out not in (None, "-"):
            stderr.print(f"wrote {out}")
    if report is not None and not report.ok:
        raise CheckFailed(f"gradients disagree: largest relative error {report.worst:.2e} "
                          f"> tolerance {report.tolerance:.0e}")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"bpviz {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                              help="Print the version and exit.")) -> None:
    """Backpropagation diagrams from formulas and small neural-network specs."""


@app.command()
@friendly
def expr(
    program: str = typer.Argument(..., help="The program, e.g. 'c = w*x; J = (c + b)**2'. "
                                            "'-' reads it from standard input."),
    at: List[str] = typer.Option([], "--at", "-a", metavar="NAME=VALUE",
                                 help="Input values, e.g. --at w=2 --at x=-2 or --at 'w=2, x=-2'."),
    values: Optional[Path] = typer.Option(None, "--values", metavar="FILE",
                                          help="A YAML or JSON file mapping input names to values."),
    output: Optional[str] = typer.Option(None, "--output", metavar="NAME",
                                         help="The node to differentiate (default: the last assignment)."),
    out: Optional[str] = typer.Option(None, "-o", "--out", metavar="FILE",
                                      help="Write to FILE (format from its extension); '-' is stdout."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", metavar="FORMAT",
                                      help=f"Output format: {', '.join(FORMATS)}."),
    digits: int = typer.Option(4, "--digits", min=1, max=17,
                               help="Significant digits for inexact numbers."),
    check: bool = typer.Option(False, "--check",
                               help="Compare every gradient with sympy's diff and finite differences; "
                                    "exit 1 if they disagree."),
) -> None:
    """Differentiate an expression program and show every node's value and gradient.

    Example: bpviz expr "c = w*x; a = c + b; d = a - y; J = d**2/2" --at "w=2, x=-2, b=8, y=2"
    """
    from .api import build_expression
    fmt_name = choose_format(out, fmt)
    graph = build_expression(read_program(program), gather_values(at, values), output)
    emit(graph, out, fmt_name, digits, check)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        stderr.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # a bug in bpviz: say so in one line, traceback on request
        if os.environ.get("BPVIZ_DEBUG"):
            raise
        stderr.print(f"[bold red]internal error:[/] {type(exc).__name__}: {_escape(str(exc))} "
                     f"(set BPVIZ_DEBUG=1 for a traceback, and please report it)")
        sys.exit(3)
