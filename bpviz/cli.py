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

FORMATS = ("table", "json", "dot", "svg", "png", "md", "tex")
EXTENSIONS = {".json": "json", ".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png",
              ".md": "md", ".markdown": "md", ".tex": "tex"}
NOTES = ("md", "tex")
FIGURES = ("dot", "svg", "png")


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


def run_check(graph):
    from .check import check
    report = check(graph)
    graph.meta["check_report"] = report
    graph.meta["check"] = {"tolerance": report.tolerance, "largest_error": report.worst,
                           "agree": report.ok,
                           "inputs": {r.name: {"sympy": r.symbolic, "finite_difference": r.numeric}
                                      for r in report.rows}}
    return report


def render(graph, fmt: str, opts: dict) -> "str | bytes":
    """The output document in memory (figures rendered by Graphviz through bpviz.write)."""
    if fmt == "json":
        from .render.json_out import render_json
        return render_json(graph)
    from .render.dot import FigureOptions, render_dot
    figure = FigureOptions.make(edge_labels=opts["edge_labels"], rankdir=opts["rankdir"],
                                digits=opts["digits"], theme=opts["theme"],
                                highlight=opts["highlight"], legend=opts["legend"])
    source = render_dot(graph, figure)
    if fmt == "dot":
        return source
    from .write import choose_renderer, render_graphviz
    return render_graphviz(source, fmt, choose_renderer(opts["renderer"]), dpi=opts["dpi"])


def render_note(graph, out: str, fmt: str, opts: dict) -> list:
    """A Markdown or LaTeX note and its figure, as [(path, content)], figure first."""
    import base64
    from .render.note import Figure, build_note
    files, figure = [], Figure(reason="no_figure")
    beside = Path(out).with_suffix(".svg" if fmt == "md" else ".png") if out != "-" else None
    if opts["figure"] and (beside or (fmt == "md" and opts["embed"])):
        image = render(graph, "svg" if fmt == "md" else "png", opts)
        if fmt == "md" and opts["embed"]:
            data = image.encode("utf-8") if isinstance(image, str) else image
            figure = Figure(link="data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii"))
        else:
            files.append((str(beside), image))
            figure = Figure(link=beside.name)
    elif opts["figure"]:
        figure = Figure(reason="figure_stdout")
    note = build_note(graph, lang=opts["lang"], digits=opts["digits"], wrt=opts["wrt"] or None,
                      rate=opts["lr"], params=opts["params"] or None, figure=figure)
    if fmt == "md":
        from .render.markdown import render_markdown
        files.append((out, render_markdown(note)))
    else:
        from .render.latex import render_latex
        files.append((out, render_latex(note, fragment=opts["tex_fragment"],
                                        figure_file=figure.link)))
    return files


def emit(graph, out: Optional[str], fmt: str, opts: dict) -> None:
    """Run the optional check, print warnings, render everything in memory, then write."""
    opts = {**NOTE_DEFAULTS, **opts}
    if opts["lr"] is not None and fmt not in NOTES:
        stderr.print("[yellow]warning:[/] --lr only changes notes (-o FILE.md or FILE.tex); ignored")
    if opts["lr"] is None and graph.meta.get("learning_rate") is not None:
        opts["lr"] = graph.meta["learning_rate"]
    report = run_check(graph) if opts["check"] else None
    for warning in graph.warnings:
        stderr.print(f"[yellow]warning:[/] {_escape(warning)}")
    if fmt not in NOTES and (opts["wrt"] or opts["params"] or opts["embed"] or opts["tex_fragment"]
                             or opts["lang"] != "en"):
        raise UsageError("--wrt, --param, --lang, --embed and --tex-fragment apply to notes "
                         "(-o FILE.md or FILE.tex)")
    if fmt == "table":
        from .render.terminal import render_table
        if out not in (None, "-"):
            raise UsageError("the table format prints to the terminal; use -f json or a file extension")
        Console(highlight=False).print(render_table(graph, opts["digits"]))
    else:
        from .write import write_output
        if out is None and fmt == "png" and sys.stdout.isatty():
            raise UsageError("refusing to write a PNG to the terminal; add -o FILE")
        if fmt in NOTES:
            files = render_note(graph, out or "-", fmt, opts)
        else:
            files = [(out or "-", render(graph, fmt, opts))]
        for path, content in files:
            write_output(path, content)
        written = [path for path, _ in files if path != "-"]
        if written:
            stderr.print(f"wrote {', '.join(written)}")
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


OUT = typer.Option(None, "-o", "--out", metavar="FILE",
                   help="Write to FILE; the format comes from its extension "
                        "(.json .dot .gv .svg .png .md .tex). '-' is standard output.")
FORMAT = typer.Option(None, "-f", "--format", metavar="FORMAT",
                      help=f"Output format, overriding the extension: {', '.join(FORMATS)}.")
DIGITS = typer.Option(4, "--digits", min=1, max=17, help="Significant digits for inexact numbers.")
CHECK = typer.Option(False, "--check", help="Compare every gradient with sympy's diff and finite "
                                            "differences; exit 1 if they disagree.")
EDGE_LABELS = typer.Option("auto", "--edge-labels", metavar="none|symbolic|numeric|both",
                           help="Local derivatives on the figure's edges (auto: both on small graphs, "
                                "numeric on larger ones, none on huge ones).")
RANKDIR = typer.Option("LR", "--rankdir", metavar="LR|TB", help="Figure direction: left-right or top-bottom.")
THEME = typer.Option("light", "--theme", metavar="light|dark", help="Figure colours (dark for dark pages).")
HIGHLIGHT = typer.Option(None, "--highlight", metavar="NAME",
                         help="Emphasise every path from the output back to NAME (the chain-rule paths).")
LEGEND = typer.Option(True, "--legend/--no-legend", help="A one-line legend above the figure.")
RENDERER = typer.Option("auto", "--renderer", metavar="auto|system|embedded",
                        help="Graphviz for SVG/PNG: system `dot`, the embedded graphviz-pure, or auto "
                             "(system when on PATH).")
DPI = typer.Option(144, "--dpi", min=36, max=600, help="PNG resolution.")
LANG = typer.Option("en", "--lang", metavar="en|zh", help="Language of a note's headings and prose.")
LR = typer.Option(None, "--lr", metavar="ETA",
                  help="Add one gradient-descent step p <- p - ETA * dJ/dp to a note.")
WRT = typer.Option([], "--wrt", metavar="NAME",
                   help="Write the chain rule only for NAME in a note (repeatable; default: every input, "
                        "or a network's weights and biases).")
PARAMS = typer.Option([], "--param", metavar="NAME",
                      help="The inputs that --lr updates (repeatable; default: every input, or a "
                           "network's weights and biases).")
EMBED = typer.Option(False, "--embed", help="Inline a note's figure as a data URI: one self-contained file.")
FIGURE = typer.Option(True, "--figure/--no-figure",
                      help="Write a note's figure beside it (FILE.svg for .md, FILE.png for .tex).")
TEX_FRAGMENT = typer.Option(False, "--tex-fragment", help="Write only the LaTeX body, to \\input{} it.")
NOTE_DEFAULTS = dict(lang="en", lr=None, wrt=[], params=[], embed=False, figure=True, tex_fragment=False)


def output_options(digits: int, check: bool, edge_labels: str, rankdir: str, theme: str,
                   highlight: Optional[str], legend: bool, renderer: str, dpi: int, lang: str,
                   lr: Optional[str], wrt: List[str], params: List[str], embed: bool, figure: bool,
                   tex_fragment: bool) -> dict:
    """The output options shared by every command, normalised and checked, as one dict for emit."""
    return dict(digits=digits, check=check, edge_labels=edge_labels.lower(), rankdir=rankdir.upper(),
                theme=theme.lower(), highlight=highlight, legend=legend, renderer=renderer.lower(),
                dpi=dpi, **note_options(lang, lr, wrt, params, embed, figure, tex_fragment))


def note_options(lang: str, lr: Optional[str], wrt: List[str], params: List[str], embed: bool,
                 figure: bool, tex_fragment: bool) -> dict:
    from .numeric import parse_number
    from .render.prose import LANGUAGES
    if lang.lower() not in LANGUAGES:
        raise UsageError(f"--lang must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    rate = None
    if lr is not None:
        try:
            rate = parse_number(lr)
        except (ValueError, ArithmeticError):
            raise UsageError(f"--lr must be a number, not {lr!r}") from None
        if rate <= 0:
            raise UsageError(f"--lr must be positive, not {lr}")
    return dict(lang=lang.lower(), lr=rate, wrt=list(wrt), params=list(params), embed=embed,
                figure=figure, tex_fragment=tex_fragment)


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
                                         help="The node to differentiate (default: the last assignment "
                                              "that nothing else uses)."),
    out: Optional[str] = OUT, fmt: Optional[str] = FORMAT, digits: int = DIGITS, check: bool = CHECK,
    edge_labels: str = EDGE_LABELS, rankdir: str = RANKDIR, theme: str = THEME,
    highlight: Optional[str] = HIGHLIGHT, legend: bool = LEGEND, renderer: str = RENDERER,
    dpi: int = DPI, lang: str = LANG, lr: Optional[str] = LR, wrt: List[str] = WRT,
    params: List[str] = PARAMS, embed: bool = EMBED, figure: bool = FIGURE,
    tex_fragment: bool = TEX_FRAGMENT,
) -> None:
    """Differentiate an expression program and show every node's value and gradient.

    Example: bpviz expr "c = w*x; a = c + b; d = a - y; J = d**2/2" --at "w=2, x=-2, b=8, y=2" -o j.svg
    """
    from .api import build_expression
    fmt_name = choose_format(out, fmt)
    opts = output_options(digits, check, edge_labels, rankdir, theme, highlight, legend, renderer, dpi,
                          lang, lr, wrt, params, embed, figure, tex_fragment)
    graph = build_expression(read_program(program), gather_values(at, values), output)
    emit(graph, out, fmt_name, opts)


@app.command()
@friendly
def spec(
    file: str = typer.Argument(..., metavar="FILE", help="A YAML spec: a graph of named assignments or a "
                                                         "dense network. '-' reads standard input."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY.PATH=VALUE",
                                   help="Override one value of the spec, e.g. --set inputs.x1=0.3 or "
                                        "--set layers.0.bias=0.5 (repeatable)."),
    group: str = typer.Option("none", "--group", metavar="none|neurons",
                              help="neurons: draw each unit's Σ w·x + b as one node (networks only)."),
    out: Optional[str] = OUT, fmt: Optional[str] = FORMAT, digits: int = DIGITS, check: bool = CHECK,
    edge_labels: str = EDGE_LABELS, rankdir: str = RANKDIR, theme: str = THEME,
    highlight: Optional[str] = HIGHLIGHT, legend: bool = LEGEND, renderer: str = RENDERER,
    dpi: int = DPI, lang: str = LANG, lr: Optional[str] = LR, wrt: List[str] = WRT,
    params: List[str] = PARAMS, embed: bool = EMBED, figure: bool = FIGURE,
    tex_fragment: bool = TEX_FRAGMENT,
) -> None:
    """Differentiate a YAML spec: a graph of named assignments, or a dense neural network.

    Example: bpviz spec examples/two-layer.yaml -o two-layer.md --lr 0.5
    """
    from .api import build_spec
    fmt_name = choose_format(out, fmt)
    if group.lower() not in ("none", "neurons"):
        raise UsageError(f"--group must be none or neurons, not {group!r}")
    opts = output_options(digits, check, edge_labels, rankdir, theme, highlight, legend, renderer, dpi,
                          lang, lr, wrt, params, embed, figure, tex_fragment)
    text, name = read_spec(file)
    graph = build_spec(text, name, set_, group=group.lower() == "neurons")
    emit(graph, out, fmt_name, opts)


def read_spec(file: str) -> tuple:
    from .errors import SpecError
    if file == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        with open(file, encoding="utf-8") as handle:
            return handle.read(), file
    except FileNotFoundError:
        raise SpecError(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{file}: not UTF-8 text") from None
    except OSError as exc:
        raise SpecError(f"{file}: cannot read it: {exc.strerror or exc}") from None


@app.command()
@friendly
def doctor() -> None:
    """Show which Graphviz renderer bpviz will use for SVG/PNG, its version, and why."""
    from rich.table import Table
    from .write import _version, choose_renderer, find_embedded, find_system
    table = Table(title="Graphviz renderers", header_style="bold")
    for column in ("renderer", "command", "version"):
        table.add_column(column)
    for kind, path in (("system (dot)", find_system()), ("embedded (graphviz-pure)", find_embedded())):
        version = _version(path) if path else "not found"
        table.add_row(kind, path or "-", version)
    console = Console(highlight=False)
    console.print(table)
    try:
        chosen = choose_renderer("auto")
    except BpvizError as exc:
        console.print(f"[bold red]no renderer:[/] {_escape(exc.message)}")
        raise typer.Exit(1)
    console.print(f"bpviz will use the [bold]{chosen.kind}[/] renderer: {_escape(chosen.why)}. "
                  f"Choose with --renderer auto|system|embedded.")


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
