"""The command line: arguments in, ``bpviz.api.run`` called, its result printed and written, errors
mapped to one line and an exit code. The work is done by the library."""

from __future__ import annotations

import errno
import inspect
import os
import re
import signal
import stat
import sys
from functools import wraps
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import BpvizError, InputError, OutputError, ParseError, SpecError, UsageError, ValuesError, clip
from .escape import terminal_text
from .render.prose import LANGUAGES
from .write import MAX_PNG_PIXELS, read_text, stdout_error
from .render import EXTENSIONS, PRINTERS

# Settings the options' help quotes, as bpviz/api.py and bpviz/render/dot.py define them: importing
# those here would put the whole pipeline, and numpy, on the path of `bpviz --help` and of every job
# (tests/test_cli_startup.py keeps the copies equal to the originals).
DIGITS, DPI, MAX_CELLS = (1, 17), (36, 600), (1, 12)
RANKDIRS = ("LR", "TB", "RL", "BT")
NETWORK_GROUP_NODES = 20
FIGURE_NODES = 400

app = typer.Typer(
    add_completion=True, no_args_is_help=True, rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="Backpropagation diagrams: the computation graph of a formula or a small network, "
         "with every forward value, local derivative and gradient.",
)


class _Stderr:
    """rich's console on standard error, made on first use: `bpviz --help` never prints through it."""

    _console = None

    def print(self, *args, **kwargs) -> None:
        if self._console is None:
            _Stderr._console = Console(stderr=True, highlight=False, soft_wrap=True)
        try:
            self._console.print(*args, **kwargs)
        except OSError:     # standard error is full or closed: nowhere to say it; the job goes on
            pass

    @staticmethod
    def plain(text: str) -> None:
        """An unstyled status line (`wrote …`): no rich import on the tiny job's path."""
        try:
            sys.stderr.write(terminal_text(text).replace("\n", " ").replace("\t", " ") + "\n")   # one line
            sys.stderr.flush()
        except OSError:
            pass


stderr = _Stderr()


MIN_WIDTH = 40      # columns: a narrower console (COLUMNS=0, a sliver of a pane) folds every cell to nothing


def Console(**settings):
    """rich's Console, imported when a job prints a table (not for --help or a written file), at
    least MIN_WIDTH columns wide: a terminal that narrow wraps the lines, but loses nothing."""
    from rich.console import Console
    console = Console(**settings)
    if console.width < MIN_WIDTH:
        console.width = MIN_WIDTH
    return console


def _escape(text: str) -> str:
    """User text for rich: no markup, no terminal control sequences."""
    from rich.markup import escape
    return escape(terminal_text(text))


def friendly(command):
    """Turn BpvizError into one clean message and its exit code."""
    @wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BpvizError as exc:
            stderr.print(f"[bold red]error:[/] {_escape(exc.message)}")
            if exc.detail:
                stderr.print(_escape(exc.detail), style="dim")
            raise typer.Exit(exc.exit_code)
        except MemoryError:     # the input's sizes are bounded (docs/limits.md), but a machine may have less
            stderr.print("[bold red]error:[/] bpviz ran out of memory on this input; use smaller arrays or "
                         "graphs, or a machine with more memory (docs/limits.md)")
            raise typer.Exit(1)
    return run


# -- the output options every command shares: declared once, passed on as one bpviz.api.Options --

OUTPUT_OPTIONS = {
    "out": (Optional[str], typer.Option(
        None, "-o", "--out", metavar="FILE",
        help=f"Write to FILE; the format comes from its extension ({' '.join(EXTENSIONS)}). "
             "'-' is standard output.")),
    "format": (Optional[str], typer.Option(
        None, "-f", "--format", metavar="FORMAT",
        help="Output format, overriding the extension: "
             + ", ".join(f"{p.name} ({p.help})" for p in PRINTERS) + ".")),
    "digits": (int, typer.Option(4, "--digits", min=DIGITS[0], max=DIGITS[1],
                                 help="Significant digits for inexact numbers.")),
    "check": (bool, typer.Option(False, "--check", help="Compare every gradient with sympy's diff and finite "
                                                        "differences; exit 1 if they disagree.")),
    "edge_labels": (str, typer.Option(
        "auto", "--edge-labels", metavar="none|symbolic|numeric|both",
        help="Local derivatives on the figure's edges (auto: both on small graphs, numeric on larger ones, "
             "none on huge ones).")),
    "rankdir": (str, typer.Option("auto", "--rankdir", metavar="auto|" + "|".join(RANKDIRS),
                                  help="Figure direction: left-right or top-bottom (auto: LR for formulas, "
                                       "TB for networks and matrix programs, whose cards stack down a "
                                       "page).")),
    "theme": (str, typer.Option("light", "--theme", metavar="light|dark",
                                help="Figure colours (dark for dark pages).")),
    "highlight": (Optional[str], typer.Option(
        None, "--highlight", metavar="NAME",
        help="Emphasise every path from the output back to NAME (the chain-rule paths).")),
    "legend": (bool, typer.Option(True, "--legend/--no-legend", help="A one-line legend above the figure.")),
    "renderer": (str, typer.Option(
        "auto", "--renderer", metavar="auto|system|embedded",
        help="Graphviz for SVG/PNG: system `dot`, the embedded graphviz-pure, or auto (system when on PATH).")),
    "dpi": (int, typer.Option(144, "--dpi", min=DPI[0], max=DPI[1], help="PNG resolution.")),
    "max_cells": (int, typer.Option(4, "--max-cells", min=MAX_CELLS[0], max=MAX_CELLS[1], metavar="N",
                                    help="Matrix figures: draw a value or gradient as a grid when it has at "
                                         "most N rows and N columns, else its shape and a summary.")),
    "large": (bool, typer.Option(False, "--large",
                                 help=f"Draw figures of more than {FIGURE_NODES} nodes (slow: minutes; PNGs "
                                      f"are scaled to at most {MAX_PNG_PIXELS} pixels).")),
    "lang": (str, typer.Option("en", "--lang", metavar="|".join(LANGUAGES),
                               help="Language of a note's headings and prose, a figure's legend and captions, and the terminal table.")),
    "lr": (Optional[str], typer.Option(None, "--lr", metavar="ETA",
                                       help="Add one gradient-descent step p <- p - ETA * dJ/dp to a note.")),
    "wrt": (List[str], typer.Option(
        [], "--wrt", metavar="NAME",
        help="Write the chain rule only for NAME in a note (repeatable; default: every input, or a network's "
             "weights and biases).")),
    "params": (List[str], typer.Option(
        [], "--param", metavar="NAME",
        help="The inputs that --lr updates, e.g. --param w,b (repeatable). A formula needs it (its other "
             "inputs are data); a network spec updates its weights and biases by default.")),
    "embed": (bool, typer.Option(False, "--embed",
                                 help="Inline a note's figure as a data URI: one self-contained file.")),
    "figure": (bool, typer.Option(True, "--figure/--no-figure",
                                  help="Write a note's figure beside it (FILE.svg for .md; FILE-figure.pdf for .tex, "
                                       "or FILE.png where cairo is missing).")),
    "md_fragment": (bool, typer.Option(False, "--md-fragment",
                                       help="Write the Markdown note without its title and footer, to paste "
                                            "into a larger note.")),
    "tex_fragment": (bool, typer.Option(False, "--tex-fragment",
                                        help="Write only the LaTeX body, to \\input{} it.")),
    "frames": (Optional[str], typer.Option(
        None, "--frames", metavar="DIR",
        help="Also write the step-through of the backward pass as numbered frames in DIR "
             "(step-01.svg, ...), one per step of the -o FILE.html page.")),
    "frames_format": (str, typer.Option("svg", "--frames-format", metavar="svg|png",
                                        help="The frames' format.")),
}


# --grad, the same on expr and spec
GRAD_OPTION = typer.Option([], "--grad", metavar="OP=ste|ste-clip",
                           help="A custom gradient for every call of OP: ste (∂ = 1, straight-through), "
                                "ste-clip (∂ = step(1 - abs(u))) or a rule in the operand u, e.g. "
                                "--grad sign=ste (repeatable; docs/custom-gradients.md).")


def with_output_options(command):
    """Give a command the shared output options. The command's last parameter, ``options``,
    receives them as one ``bpviz.api.Options`` built by keyword (unknown keys are refused), and
    BpvizError becomes one clean line."""
    own = list(inspect.signature(command, eval_str=True).parameters.values())
    if own[-1].name != "options":
        raise TypeError(f"{command.__name__} must take `options` last")
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
              for name, (kind, option) in OUTPUT_OPTIONS.items()]

    @friendly
    @wraps(command)
    def run(**kwargs):
        from .api import Options
        options = Options.make(**{name: kwargs.pop(name) for name in OUTPUT_OPTIONS})
        return command(**kwargs, options=options)

    parameters = own[:-1] + shared
    run.__signature__ = inspect.Signature(parameters)
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


def show(source, options) -> None:
    """Run the job, then print its warnings and table, write its files, and report a failed check."""
    from .api import run
    from .render import choose_printer
    chosen = choose_printer(options.out, options.format)
    if options.out in (None, "-") and chosen.binary and sys.stdout.isatty():
        raise UsageError(f"refusing to write {chosen.name.upper()} data to the terminal; add -o FILE")
    result = run(source, options, progress=lambda message: stderr.print(_escape(message) + " …", style="dim"))
    for warning in result.warnings:
        stderr.print(f"[yellow]warning:[/] {_escape(warning)}")
    if result.display is not None:
        try:
            Console(highlight=False).print(result.display)
        except OSError as exc:              # a full disk or a closed pipe: said like the writer says it
            raise stdout_error(exc) from None
        except UnicodeEncodeError as exc:   # PYTHONIOENCODING=ascii, a C locale
            raise OutputError(f"standard output's encoding ({exc.encoding}) cannot show "
                              f"{exc.object[exc.start:exc.end]!r}: set PYTHONIOENCODING=utf-8, or write a file "
                              f"with -o") from None
    result.write()
    if result.written:
        stderr.plain(f"wrote {_summary(result.written)}")
    failure = result.check_failure()
    if failure is not None:
        raise failure
    if result.check is not None and result.display is None:     # the tables went nowhere: say the verdict
        stderr.plain(f"check: gradients agree (largest relative error {result.check.worst:.1e}, tolerance "
                     f"{result.check.tolerance:.0e}); every row is in the JSON (-o FILE.json)")


def _summary(paths: list) -> str:
    """Written paths for one line: a folder of many (slide frames) as its count, first and last.

    >>> _summary(["a.json"] + [f"f/step-{i:02d}.svg" for i in range(1, 16)])
    'a.json, 15 files in f/ (step-01.svg … step-15.svg)'
    """
    if len(paths) <= 6:
        return ", ".join(paths)
    folders: dict = {}
    for path in paths:
        folders.setdefault(os.path.dirname(path), []).append(path)
    big = max(folders, key=lambda f: len(folders[f]))
    group = folders[big]
    rest = [p for p in paths if os.path.dirname(p) != big]
    shown = (f"{len(group)} files in {os.path.join(big, '')} "
             f"({os.path.basename(group[0])} … {os.path.basename(group[-1])})")
    return ", ".join(rest + [shown])


# -- commands ------------------------------------------------------------------------------------

def _version(value: bool) -> None:
    if value:
        typer.echo(f"bpviz {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                              help="Print the version and exit.")) -> None:
    """Backpropagation diagrams from formulas and small neural-network specs."""


@app.command()
@with_output_options
def expr(
    program: str = typer.Argument(..., help="The program, e.g. 'c = w*x; J = (c + b)**2'; '@FILE' reads "
                                            "it from FILE (so does a bare path to an existing file), '-' "
                                            "from standard input (at most 4 MB and 100,000 nodes; see "
                                            "docs/limits.md)."),
    at: List[str] = typer.Option([], "--at", "-a", metavar="NAME=VALUE",
                                 help="Input values, e.g. --at w=2 --at x=-2 or --at 'w=2, x=-2'."),
    values: Optional[Path] = typer.Option(None, "--values", metavar="FILE",
                                          help="A YAML or JSON file mapping input names to values "
                                               "(at most 32 MB)."),
    output: Optional[str] = typer.Option(None, "--output", metavar="NAME",
                                         help="The node to differentiate (default: the last assignment "
                                              "that nothing else uses)."),
    shape: List[str] = typer.Option([], "--shape", metavar="NAME=(DIMS)",
                                    help="Shapes only, no values: --shape 'X=(N,Dx)' --shape 'W=(Dx,H)' "
                                         "(numbers or symbols) gives the figure and derivation with "
                                         "every shape checked (docs/matrix.md)."),
    grad: List[str] = GRAD_OPTION,
    options=None,
) -> None:
    """Differentiate an expression program and show every node's value and gradient.

    Values may be numbers, vectors [1, 2] or matrices [[1, 2], [3, 4]] (matrix mode: @, .T, sum,
    mean, softmax; see docs/matrix.md).

    Example: bpviz expr "c = w*x; a = c + b; d = a - y; J = d**2/2" --at "w=2, x=-2, b=8, y=2" -o j.svg
    """
    from .api import Source
    if program == "-" and values is not None and str(values) == "-":
        raise UsageError("standard input can hold the program or the values, not both: give the values "
                         "with --values FILE or --at")
    text = read_program(program)
    shapes = gather_shapes(shape)
    if shapes is not None and (at or values is not None):
        raise UsageError("--shape draws shapes without values: leave out --at and --values, or --shape")
    try:
        show(Source.expression(text, gather_values(at, values), output, shapes=shapes, grads=grad), options)
    except ParseError:
        path = program.strip()
        if text is program and _PATHLIKE.fullmatch(path) and ("/" in path or _SUFFIX.search(path)):
            what = "not a regular file" if os.path.exists(path) else "no such file"     # /dev/zero, a folder
            raise InputError(f"{path}: {what} (to differentiate a formula, write it: 'J = w*x'; "
                             f"@PATH reads a program from a file, '-' from standard input)") from None
        raise


_PATHLIKE = re.compile(r"[\w./~-]+")
_SUFFIX = re.compile(r"\.(txt|py|bp|bpviz|prog|md|yaml|yml|json)$")


def read_program(program: str) -> str:
    """The program: '-' is standard input, '@PATH' a file, and so is a bare argument that names an
    existing regular file and could not be a program (no '=', ';' or line break)."""
    from .parse.expr import MAX_PROGRAM_BYTES
    if program == "-":
        return read_text("-", MAX_PROGRAM_BYTES, InputError, "the program")
    if program.startswith("@"):
        if not program[1:].strip():
            raise InputError("@ needs the program's file name after it, e.g. @ng.txt")
        return read_text(program[1:], MAX_PROGRAM_BYTES, InputError, "the program")
    if not any(c in program for c in "=;\n") and os.path.isfile(program):
        return read_text(program, MAX_PROGRAM_BYTES, InputError, "the program")
    return program


def gather_shapes(items: List[str]) -> Optional[dict]:
    from .values import parse_shapes
    if not items:
        return None
    shapes: dict = {}
    for item in items:
        for name, dims in parse_shapes(item).items():
            if name in shapes:
                raise UsageError(f"--shape gives {name!r} twice")
            shapes[name] = dims
    return shapes


def gather_values(at: List[str], values_file: Optional[Path]) -> dict:
    from .values import load_values_file, parse_assignments
    values: dict = {}
    if values_file is not None:
        values.update(load_values_file(str(values_file)))
    given: dict = {}                        # name -> the --at that gave it
    for item in at:
        for name, number in parse_assignments(item).items():
            if name in given:
                raise ValuesError(f"{name!r} is given twice: --at {clip(given[name])!r} and --at {clip(item)!r}")
            given[name] = item
            values[name] = number               # --at wins over --values
    return values


@app.command()
@with_output_options
def spec(
    file: str = typer.Argument(..., metavar="FILE", help="A YAML spec: a graph of named assignments or a "
                                                         "dense network (at most 2 MB). '-' reads standard "
                                                         "input."),
    set_: List[str] = typer.Option([], "--set", metavar="KEY.PATH=VALUE",
                                   help="Override one value of the spec, e.g. --set inputs.x1=0.3 or "
                                        "--set layers.0.bias=0.5 (repeatable)."),
    group: str = typer.Option("auto", "--group", metavar="auto|none|neurons",
                              help="neurons: draw each unit's Σ w·x + b as one node (networks only); auto: "
                                   f"in figures of networks above {NETWORK_GROUP_NODES} nodes."),
    view: str = typer.Option("scalar", "--view", metavar="scalar|matrix",
                             help="matrix: a network as one node per layer quantity (x, h.W, h.b, h.z, h.a, …) "
                                  "with shapes; a spec with a batch of samples needs it (docs/spec.md)."),
    grad: List[str] = GRAD_OPTION,
    options=None,
) -> None:
    """Differentiate a YAML spec: a graph of named assignments, or a dense neural network.

    Example: bpviz spec examples/two-layer.yaml -o two-layer.md --lr 0.5
    """
    from .api import Source
    if group.lower() not in ("auto", "none", "neurons"):
        raise UsageError(f"--group must be auto, none or neurons, not {group!r}")
    if view.lower() not in ("scalar", "matrix"):
        raise UsageError(f"--view must be scalar or matrix, not {view!r}")
    if view.lower() == "matrix" and group.lower() == "neurons":
        raise UsageError("--group neurons draws units of the scalar view; --view matrix has one node per layer")
    text, name = read_spec(file)
    grouped = {"auto": None, "none": False, "neurons": True}[group.lower()]
    show(Source.spec(text, name, set_, group=grouped, view=view.lower(), grads=grad), options)


def read_spec(file: str) -> tuple:
    from .parse.spec import MAX_BYTES
    return read_text(file, MAX_BYTES, SpecError, "the spec"), "<stdin>" if file == "-" else file


@app.command()
@friendly
def md(
    paths: List[str] = typer.Argument(..., metavar="PATH...",
                                      help="Markdown notes, or folders searched for *.md."),
    in_place: bool = typer.Option(False, "--in-place", "-i",
                                  help="Keep each ```bpviz block and put its figure right after it, between "
                                       "<!-- bpviz:begin --> and <!-- bpviz:end --> markers (re-runs replace "
                                       "only that part)."),
    out: Optional[str] = typer.Option(None, "-o", "--out", metavar="OUT.md",
                                      help="Write a new note instead, every block replaced by its figure "
                                           "(one PATH only)."),
    assets: str = typer.Option("assets", "--assets", metavar="DIR",
                               help="The images' folder, relative to the note written."),
    format: str = typer.Option("svg", "--format", "-f", metavar="svg|png",
                               help="Image format of blocks that do not say (format=png in a block)."),
    obsidian: bool = typer.Option(False, "--obsidian", help="Link images as Obsidian embeds: ![[...]]."),
    prune: bool = typer.Option(False, "--prune",
                               help="Delete images NOTE-<12 hex>.* in the assets folder that no block "
                                    "links any more."),
    renderer: str = typer.Option("auto", "--renderer", metavar="auto|system|embedded",
                                 help="Graphviz for the figures, as in expr (a block's renderer=... wins)."),
    force: bool = typer.Option(False, "--force",
                               help="Render every block again, changed or not (after changing --renderer, "
                                    "or upgrading bpviz)."),
    watch: bool = typer.Option(False, "--watch", "-w",
                               help="Stay running and render a note again each time it is saved "
                                    "(Ctrl-C stops)."),
) -> None:
    """Render the ```bpviz blocks of Markdown notes into figures (and derivations) in place.

    A block holds an expression program or a YAML spec; its info string takes the options of
    expr/spec without --, e.g. ```bpviz at="w=2, x=-2" highlight=w lang=zh note

    Example: bpviz md notes/ --in-place
    """
    from .mdnotes import IMAGE_FORMATS, Plan, notes_in
    if in_place and out is not None:
        raise UsageError("--in-place and -o both say where the result goes: give one of them")
    if not in_place and out is None:
        raise UsageError("say where the result goes: --in-place (blocks stay, figures go after them) "
                         "or -o OUT.md (a new note)")
    if format.lower() not in IMAGE_FORMATS:
        raise UsageError(f"--format must be svg or png, not {format!r}")
    from .write import RENDERERS
    if renderer.lower() not in RENDERERS:
        raise UsageError(f"--renderer must be one of {', '.join(RENDERERS)}, not {renderer!r}")
    notes = notes_in(paths)
    if out is not None:
        if len(notes) != 1 or Path(paths[0]).is_dir() or len(paths) != 1:
            raise UsageError("-o OUT.md takes one note; for several, use --in-place")
        if os.path.realpath(out) == os.path.realpath(notes[0]):
            raise UsageError(f"-o {out} is the note itself: use --in-place")
        if watch:
            raise UsageError("--watch goes with --in-place")
    if not notes:
        raise InputError(f"no Markdown notes (*.md) in {', '.join(paths)}")

    def plan(note: Path) -> Plan:
        target = Path(out) if out is not None else note
        folder = Path(assets) if os.path.isabs(assets) else target.parent / assets
        return Plan(source=note, target=target, assets=folder, in_place=out is None, obsidian=obsidian,
                    image_format=format.lower(), prune=prune,
                    renderer=None if renderer.lower() == "auto" else renderer.lower(), force=force)

    failures = _render_notes([plan(n) for n in notes])
    if watch:
        _watch(paths, notes, plan)
    elif failures:
        raise typer.Exit(1)


def _render_notes(plans: list) -> int:
    """Render notes, one line each; failures as PATH:LINE: message. Returns how many failed."""
    from .mdnotes import find_blocks, process, render_block
    bar, counts = None, {}
    if sys.stderr.isatty():          # blocks are counted ahead only for the bar (a terminal's)
        for plan in plans:
            try:
                counts[plan.source] = len(find_blocks(plan.source.read_text("utf-8", errors="replace")))
            except OSError:
                counts[plan.source] = 0
    total = sum(counts.values())
    if total > 1:
        from rich.progress import Progress
        bar = Progress(transient=True, console=None)
        bar.start()
        task = bar.add_task("rendering", total=total)
    failed = 0
    try:
        for plan in plans:
            done = [0]

            def render(block, folder, fmt, engine, _done=done):
                result = render_block(block, folder, fmt, engine)
                _done[0] += 1
                if bar is not None:
                    bar.advance(task)
                return result
            try:
                report = process(plan, render)
            except BpvizError as exc:
                failed += 1
                stderr.print(f"[bold red]error:[/] {_escape(exc.message)}")
                continue
            finally:
                if bar is not None:
                    bar.advance(task, max(counts[plan.source] - done[0], 0))
            for failure in report.failures:
                stderr.plain(str(failure))
            failed += len(report.failures)
            if not report.blocks:
                stderr.plain(f"{plan.source}: no bpviz blocks; " + ("left untouched" if plan.in_place else
                                                                     f"copied to {plan.target}"))
            else:
                what = (f"{report.blocks} block{'s' * (report.blocks != 1)}, "
                        f"{report.rendered - len(report.failures)} rendered"
                        + (f", {len(report.failures)} failed" if report.failures else "")
                        + (f", {len(report.removed)} stale image{'s' * (len(report.removed) != 1)} removed"
                           if report.removed else ""))
                stderr.plain(f"{plan.target}: {what}" + ("" if report.changed else "; unchanged"))
    finally:
        if bar is not None:
            bar.stop()
    return failed


def _watch(paths: list, notes: list, plan) -> None:
    """Render a note again whenever it is saved (a note new in a watched folder too); bpviz's own
    writes are recognised by their content and skipped."""
    import hashlib
    from watchfiles import Change, watch
    from .mdnotes import notes_in
    sums: dict = {}

    def digest(path: str):
        """The note's content hash; None for what is not a regular file (a named pipe called x.md would
        block a plain read for ever, and stop the watch)."""
        try:
            with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return None
                found = hashlib.sha256()
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    found.update(chunk)
                return found.hexdigest()
        except OSError:
            return None
    files = {os.path.realpath(p): p for p in paths if Path(p).is_file()}
    folders = [os.path.realpath(p) for p in paths if Path(p).is_dir()]
    for note in notes:
        sums[os.path.realpath(note)] = digest(str(note))

    def wanted(change, path: str) -> bool:
        real = os.path.realpath(path)
        if change == Change.deleted or not path.lower().endswith((".md", ".markdown")):
            return False
        if real in files:
            return True
        return any(real.startswith(folder + os.sep) and not any(part.startswith(".") for part in
                   Path(os.path.relpath(real, folder)).parts) for folder in folders)
    roots = sorted(set(folders) | {os.path.dirname(k) for k in files})
    stderr.plain(f"watching {len(notes)} note{'s' * (len(notes) != 1)}; Ctrl-C stops")
    try:
        for changes in watch(*roots, debounce=200, step=50, watch_filter=wanted):
            for path in sorted({p for _, p in changes}):
                key = os.path.realpath(path)
                now = digest(key)
                if now is None or now == sums.get(key):
                    continue                    # bpviz's own write, or a save that changed nothing
                shown = os.path.relpath(path)
                note = notes_in([shown if not shown.startswith("..") else path])[0]
                _render_notes([plan(note)])
                sums[key] = digest(key)
    except KeyboardInterrupt:
        stderr.plain("stopped watching")


@app.command()
@friendly
def doctor() -> None:
    """Show which Graphviz renderer bpviz will use for SVG/PNG and why, and which optional tools
    (PDF figures, LaTeX, Chinese LaTeX) this machine has."""
    import shutil
    from rich.table import Table
    from .render import printer
    from .write import _version, choose_renderer, find_embedded, find_system, find_tex_package
    table = Table(title="Graphviz renderers", header_style="bold")
    for column in ("renderer", "command", "version"):
        table.add_column(column, overflow="fold", no_wrap=column == "command")
    for kind, path in (("system (dot)", find_system()), ("embedded (graphviz-pure)", find_embedded())):
        try:
            version = _version(path) if path else "not found"
        except BpvizError as exc:
            version = exc.message
        table.add_row(kind, _escape(path or "-"), _escape(version))
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)   # paths whole in a pipe
    console.print(table)
    tools = Table(title="Optional tools", header_style="bold")
    for column in ("for", "status"):
        tools.add_column(column, overflow="fold")
    missing_pdf = printer("pdf").missing()
    tools.add_row("PDF figures (-o x.pdf; .tex notes)", _escape(missing_pdf or "cairosvg and cairo found"))
    pdflatex = shutil.which("pdflatex")
    tools.add_row("compiling .tex notes", _escape(pdflatex or "pdflatex not found (Debian: texlive-latex-base)"))
    cjk = find_tex_package("CJKutf8.sty")
    tools.add_row("--lang zh in .tex notes", _escape(cjk or "CJKutf8 not found (Debian: latex-cjk-chinese)"))
    console.print(tools)
    console.print(_fonts_table())
    try:
        chosen = choose_renderer("auto")
    except BpvizError as exc:
        console.print(f"[bold red]no renderer:[/] {_escape(exc.message)}")
        raise typer.Exit(1)
    console.print(f"bpviz will use the [bold]{chosen.kind}[/] renderer: {_escape(chosen.why)}. "
                  f"Choose with --renderer auto|system|embedded.")


def _fonts_table():
    """Which fonts PNG and PDF figures are drawn with, and whether Chinese text renders."""
    from rich.table import Table
    from . import fonts
    from .write import cairo_missing
    table = Table(title="Fonts for PNG and PDF figures (drawn from the SVG by cairosvg)", header_style="bold")
    for column in ("text", "drawn with", "renders"):
        table.add_column(column, overflow="fold")
    missing = cairo_missing()
    if missing:
        table.add_row("all", _escape(f"no cairo: {missing}; PNG comes from the renderer itself, which has "
                                     f"no Chinese font in the embedded case"), "[red]no[/]")
        return table
    for what, used, ok in fonts.report():
        table.add_row(_escape(what), _escape(used), "yes" if ok else "[red]no[/]")
    return table


_INTERRUPTED = []
INTERRUPTED = "interrupted; nothing was left half-written"
_FULL_OR_GONE = (errno.ENOSPC, errno.EPIPE, errno.EDQUOT, errno.EFBIG, errno.EIO)


def _terminated(signum, frame) -> None:
    _INTERRUPTED.append(signum)
    raise KeyboardInterrupt     # runs every cleanup (temporary files) on the way out


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGINT, _terminated)
    try:
        app()
    except KeyboardInterrupt:
        stderr.print(INTERRUPTED)
        sys.exit(130)
    except SystemExit as exc:
        if _INTERRUPTED and exc.code == 130:    # typer turns Ctrl-C into a silent exit 130
            stderr.print(INTERRUPTED)
        raise
    except Exception as exc:  # a bug in bpviz: say so in one line, traceback on request
        if _INTERRUPTED:        # Ctrl-C inside a C library's callback (cairo) comes back as its error
            stderr.print(INTERRUPTED)
            sys.exit(130)
        if isinstance(exc, OSError) and exc.errno in _FULL_OR_GONE:    # help or version text that
            stderr.plain(f"error: {stdout_error(exc).message}")             # found no room
            sys.exit(1)
        if os.environ.get("BPVIZ_DEBUG"):
            raise
        stderr.print(f"[bold red]internal error:[/] {type(exc).__name__}: {_escape(str(exc))} "
                     f"(set BPVIZ_DEBUG=1 for a traceback, and please report it)")
        sys.exit(3)


def console() -> None:
    """The `bpviz` command (the installed script): ``main``, then the end of the process without the
    interpreter's teardown, which frees every object of the job and every module one by one: about
    15 ms, more than a small job's own work (docs/performance.md). By then every file is written and
    closed and no thread runs; only the standard streams need flushing. A status that is not a
    number (a message), or a stream that cannot be flushed (a closed pipe), takes the ordinary way
    out. ``main`` itself (``python -m bpviz``, a caller's own code, a profiler) exits as usual."""
    try:
        main()
    except SystemExit as done:
        code = 0 if done.code is None else done.code
        if not isinstance(code, int) or isinstance(code, bool):
            raise
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            raise done from None
        os._exit(code & 0xFF)
