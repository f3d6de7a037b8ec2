"""The library's whole job in one call: ``run(source, options) -> Result``.

parse -> graph -> values and gradients -> optional check -> the math a note needs (closed forms,
one gradient step) -> printing, all in memory. The ``Result`` holds the evaluated graph, the
check report, the note model and every ``(path, content)`` to write; ``Result.write()`` writes
them through bpviz.write. The command line only parses arguments into a ``Source`` and
``Options``, calls ``run``, prints, and maps errors to exit codes.

>>> result = run(Source.expression("e = (a + b) * (b + 1)", {"a": 2, "b": 1}), Options.make(out="-"))
>>> result.graph.gradients()
{'a': Fraction(2, 1), 'b': Fraction(5, 1)}
>>> [(path, content.splitlines()[1]) for path, content in result.files]
[('-', '  "format": 2,')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional

from .autodiff import evaluate, gradient_step
from .errors import BpvizError, CheckFailed, InputError, UsageError, ValuesError
from .graph import Graph
from .numeric import parse_number
from .parse.expr import parse_program
from .render import Job, Printer, choose_printer, printer
from .settings import make_settings
from .values import canonical, number, value

if TYPE_CHECKING:          # --check's code loads with --check (and notes), not for every job
    from .check import CheckReport

DIGITS = (1, 17)
DPI = (36, 600)
MAX_CELLS = (1, 12)


# -- what to differentiate -----------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """An expression program with its values, or a YAML spec; ``build()`` gives the evaluated graph."""
    text: str
    kind: str = "expr"                     # "expr" | "spec"
    name: str = "spec"                     # a spec's file name, for messages
    values: Mapping = field(default_factory=dict)   # expr: input values (numbers or decimal text)
    output: Optional[str] = None           # expr: the node to differentiate
    overrides: tuple = ()                  # spec: --set KEY.PATH=VALUE
    group: Optional[bool] = None           # spec: one node per neuron; None: in figures of networks
                                           # above NETWORK_GROUP_NODES nodes (bpviz.render.dot)
    shapes: Optional[Mapping] = None       # expr: shapes only, no values (name -> dims)
    view: str = "scalar"                   # spec: "scalar" (one node per number) or "matrix" (per layer)
    grads: tuple = ()                      # --grad OP=ste|ste-clip|RULE: ((op, rule), ...), custom gradients

    @classmethod
    def expression(cls, text: str, values: Optional[Mapping] = None, output: Optional[str] = None,
                   shapes: Optional[Mapping] = None, grads=()) -> "Source":
        return cls(text, "expr", values=values if values is not None else {}, output=output, shapes=shapes,
                   grads=grads)

    @classmethod
    def spec(cls, text: str, name: str = "spec", overrides=(), group: Optional[bool] = None,
             view: str = "scalar", grads=()) -> "Source":
        return cls(text, "spec", name=name, overrides=overrides, group=group, view=view, grads=grads)

    def __post_init__(self) -> None:
        if self.kind not in ("expr", "spec"):
            raise UsageError(f"a Source is an expression program (kind='expr') or a spec (kind='spec'), "
                             f"not {self.kind!r}")
        if not isinstance(self.text, str):
            raise InputError(f"the {'program' if self.kind == 'expr' else 'spec'} must be text, "
                             f"not {type(self.text).__name__}")
        overrides = self.overrides
        if isinstance(overrides, str):
            overrides = (overrides,)
        try:
            overrides = tuple(overrides or ())
        except TypeError:
            raise UsageError(f"--set takes KEY.PATH=VALUE text, not {overrides!r}") from None
        if not all(isinstance(item, str) for item in overrides):
            raise UsageError(f"--set takes KEY.PATH=VALUE text, not {overrides!r}")
        object.__setattr__(self, "overrides", overrides)
        object.__setattr__(self, "grads", _grads(self.grads))
        if self.view not in ("scalar", "matrix"):
            raise UsageError(f"view must be 'scalar' or 'matrix', not {self.view!r}")

    def build(self) -> Graph:
        grads = dict(self.grads)
        if self.kind == "spec":
            return build_spec(self.text, self.name, list(self.overrides), bool(self.group), self.view, grads)
        if self.shapes is not None:
            if self.values:
                raise UsageError("shapes only means no values: give shapes or values, not both")
            return evaluate(parse_program(self.text, output=self.output, grads=grads), {},
                            shapes=_shapes(self.shapes))
        return build_expression(self.text, exact_values(self.values), self.output, grads)


def _grads(grads) -> tuple:
    """``--grad`` as ((op, rule), ...): from a mapping, pairs, or ``OP=RULE`` texts; an op given twice
    is a UsageError."""
    if isinstance(grads, Mapping):
        grads = tuple(grads.items())
    elif isinstance(grads, str):
        grads = (grads,)
    pairs, seen = [], set()
    try:
        items = tuple(grads or ())
    except TypeError:
        raise UsageError(f"--grad takes OP=ste|ste-clip|RULE, not {grads!r}") from None
    for item in items:
        if isinstance(item, str):
            op, sep, rule = item.partition("=")
            if not sep or not op.strip() or not rule.strip():
                raise UsageError(f"--grad takes OP=ste, OP=ste-clip or OP=RULE (a rule in the operand u, e.g. "
                                 f"sign=step(1 - abs(u))), not {item!r}")
            item = (op.strip(), rule.strip())
        if not (isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise UsageError(f"--grad takes OP=ste|ste-clip|RULE, not {item!r}")
        if item[0] in seen:
            raise UsageError(f"--grad gives {item[0]!r} twice")
        seen.add(item[0])
        pairs.append(item)
    return tuple(pairs)


def exact_values(values: Mapping) -> dict:
    """A mapping of names to numbers as exact values; anything else is a ValuesError.

    >>> exact_values({"w": 2, "x": "-0.5", "y": 1.1})
    {'w': Fraction(2, 1), 'x': Fraction(-1, 2), 'y': Fraction(11, 10)}
    """
    if not isinstance(values, Mapping):
        raise ValuesError(f"values must be a mapping of names to numbers, not {type(values).__name__}")
    result = {}
    for name, raw in values.items():
        if not isinstance(name, str):
            raise ValuesError(f"value names must be text, not {name!r}")
        result[canonical(name)] = value(raw, f"the value of {name}")
    return result


def _shapes(shapes: Mapping) -> dict:
    """Shapes as given to the API: name -> a tuple of positive ints or symbols (text)."""
    from .values import parse_shapes
    if not isinstance(shapes, Mapping):
        raise ValuesError(f"shapes must be a mapping of names to shapes, not {type(shapes).__name__}")
    result = {}
    for name, dims in shapes.items():
        if isinstance(dims, str):
            dims = parse_shapes(f"{name}={dims}")[canonical(name)]
        try:
            dims = tuple(dims)
        except TypeError:
            raise ValuesError(f"the shape of {name!r} must be a tuple, not {dims!r}") from None
        text = ",".join(str(d) for d in dims)
        if not all((isinstance(d, int) and not isinstance(d, bool)) or isinstance(d, str) for d in dims):
            raise ValuesError(f"the shape of {name!r} must hold whole numbers or names, not {dims!r}")
        result.update(parse_shapes(f"{name}=({text}{',' if len(dims) == 1 else ''})"))
    return result


def build_expression(text: str, values: Mapping, output: Optional[str] = None,
                     grads: Optional[dict] = None) -> Graph:
    """Parse an expression program and evaluate it at exact ``values``; ``grads``: custom gradients
    by op name (``{"sign": "ste"}``)."""
    return evaluate(parse_program(text, output=output, grads=grads), values)


def build_spec(text: str, filename: str = "spec", overrides: Optional[list] = None,
               group: bool = False, view: str = "scalar", grads: Optional[dict] = None) -> Graph:
    """Parse a YAML spec (graph or network), apply ``--set`` overrides, and evaluate it; ``view``
    "matrix" draws a network with one node per layer quantity; ``grads`` (--grad) add to and override
    the spec's own ``gradients:``."""
    from .parse.spec import load_spec
    graph, values, doc = load_spec(text, filename, overrides, group, view, grads)
    key = graph.spec.values_key
    try:
        return evaluate(graph, values, hint=lambda missing: f"add {'it' if len(missing) == 1 else 'them'} "
                                                            f"under {key}:")
    except ValuesError as exc:
        raise doc.error((key,), exc.message) from None
    except BpvizError as exc:
        raise _at_yaml_line(exc, graph, doc) from None


def _at_yaml_line(exc: BpvizError, graph: Graph, doc) -> BpvizError:
    """An error a graph spec's program met at a node (log of 0 at the given values), placed at the
    YAML entry the node comes from: the program's own line and column mean nothing to the spec's
    author."""
    paths = graph.spec.program_paths
    line, where = getattr(exc, "line", None), getattr(exc, "where", None)
    if where in graph.spec.places:              # a network's layer or loss
        path = graph.spec.places[where]
    elif paths and line and where and 1 <= line <= len(paths):
        path = paths[line - 1]
    else:
        return exc
    placed = doc.error(path, exc.message.replace(f" ({where})", "", 1))
    return type(exc)(placed.message)            # the same kind (and exit status) of error


# -- how to show it -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Options:
    """Every output option of ``run``; build it with ``Options.make``, which rejects unknown keys
    and checks every value (as sympy's printer settings do)."""
    out: Optional[str] = None              # a path, "-" for standard output, None for the default
    format: Optional[str] = None           # a printer name; else from out's extension
    check: bool = False                    # compare with sympy's diff and finite differences
    digits: int = 4                        # significant digits of inexact numbers
    edge_labels: str = "auto"              # figures
    rankdir: str = "AUTO"                  # LR for scalar graphs, TB for matrix graphs
    theme: str = "light"
    highlight: Optional[str] = None
    legend: bool = True
    renderer: str = "auto"                 # SVG/PNG: auto | system | embedded
    dpi: int = 144
    max_cells: int = 4                     # matrix figures: grids up to this many rows and columns
    large: bool = False                    # draw figures beyond FIGURE_NODES (slow, memory bounded)
    lang: str = "en"                       # notes, figures' legends
    lr: Optional[Fraction] = None
    wrt: tuple = ()
    params: tuple = ()
    embed: bool = False
    figure: bool = True
    tex_fragment: bool = False
    md_fragment: bool = False
    frames: Optional[str] = None           # a folder for the step-through frames (step-01.svg ...)
    frames_format: str = "svg"             # svg | png

    @classmethod
    def make(cls, **settings) -> "Options":
        return make_settings(cls, settings)

    def __post_init__(self) -> None:
        """Check every value and normalise it (case, tuples, an exact rate), however the object was
        made: a bad option is a UsageError before any work."""
        from .render.prose import LANGUAGES
        from .write import RENDERERS
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        for name in ("out", "format", "highlight", "frames"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise UsageError(f"--{name} must be text, not {getattr(self, name)!r}")
        if self.out == "":
            raise UsageError("-o needs a file name ('-' for standard output)")
        for name in ("check", "legend", "embed", "figure", "tex_fragment", "md_fragment", "large"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"--{name.replace('_', '-')} is on or off (True or False), "
                                 f"not {getattr(self, name)!r}")
        for name, case in (("edge_labels", str.lower), ("rankdir", str.upper), ("theme", str.lower),
                           ("renderer", str.lower), ("lang", str.lower)):
            if not isinstance(getattr(self, name), str):
                raise UsageError(f"--{name.replace('_', '-')} must be text, not {getattr(self, name)!r}")
            set_(name, case(getattr(self, name)))
        for name in ("wrt", "params"):
            set_(name, _names(getattr(self, name), name))
        set_("lr", _rate(self.lr))
        if not isinstance(self.frames_format, str) or self.frames_format.lower() not in ("svg", "png"):
            raise UsageError(f"--frames-format must be svg or png, not {self.frames_format!r}")
        set_("frames_format", self.frames_format.lower())
        if self.frames is not None and not self.frames.strip() or self.frames == "-":
            raise UsageError("--frames needs a folder name (frames are files: they cannot go to standard output)")
        if self.frames is None and self.frames_format != "svg":
            raise UsageError("--frames-format goes with --frames DIR")
        if self.lang not in LANGUAGES:
            raise UsageError(f"--lang must be one of {', '.join(LANGUAGES)}, not {self.lang!r}")
        if self.renderer not in RENDERERS:
            raise UsageError(f"--renderer must be one of {', '.join(RENDERERS)}, not {self.renderer!r}")
        for name, (low, high) in (("digits", DIGITS), ("dpi", DPI), ("max_cells", MAX_CELLS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise UsageError(f"--{name} must be a whole number from {low} to {high}, not {value!r}")
        if (self.edge_labels, self.rankdir, self.theme, self.lang) != ("auto", "AUTO", "light", "en"):
            self.figure_options()                  # checks edge_labels, rankdir and theme; the defaults
                                                   # are good, and jobs without figures skip their code

    def figure_options(self):
        from .render.dot import FigureOptions
        return FigureOptions.make(edge_labels=self.edge_labels, rankdir=self.rankdir, digits=self.digits,
                                  theme=self.theme, highlight=self.highlight, legend=self.legend,
                                  max_cells=self.max_cells, lang=self.lang)


def _names(value, option: str) -> tuple:
    """One name or several, as a tuple of text."""
    names = (value,) if isinstance(value, str) else value
    try:
        names = tuple(names)
    except TypeError:
        names = (names,)
    if all(isinstance(name, str) for name in names):       # --param w,b is --param w --param b
        names = tuple(part.strip() for name in names for part in _outside_brackets(name) if part.strip())
    flag = "--param" if option == "params" else f"--{option}"
    for name in names:
        if not isinstance(name, str):
            raise UsageError(f"{flag} takes names, not {name!r}")
    return names


def _outside_brackets(text: str) -> list:
    """``text`` split at commas that are not inside brackets: ``w,h.W[1,2]`` is two names.

    >>> _outside_brackets("w, h.W[1,2],b")
    ['w', ' h.W[1,2]', 'b']
    """
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += (c == "[") - (c == "]")
        if c == "," and depth <= 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _rate(lr) -> Optional[Fraction]:
    if lr is None or isinstance(lr, Fraction) and lr > 0:
        return lr
    if isinstance(lr, str):
        try:
            rate = parse_number(lr)
        except (ValueError, ArithmeticError):
            raise UsageError(f"--lr must be a number, not {lr!r}") from None
    else:
        try:
            rate = number(lr, "--lr")
        except ValuesError as exc:
            raise UsageError(exc.message) from None
    if rate <= 0:
        raise UsageError(f"--lr must be positive, not {lr}")
    return rate


# -- the result ------------------------------------------------------------------------------------

@dataclass
class Result:
    graph: Graph
    printer: Printer
    check: Optional[CheckReport] = None
    note: Optional[object] = None          # bpviz.render.note.Note, for .md and .tex
    files: list = field(default_factory=list)   # [(path, str | bytes)]; "-" is standard output
    directories: list = field(default_factory=list)   # folders ``write`` makes first (--frames DIR)
    removals: list = field(default_factory=list)      # stale files ``write`` deletes once all is written
    display: Optional[object] = None       # what the terminal printer shows (a rich renderable)
    warnings: list = field(default_factory=list)
    layout: Optional[object] = None        # a drawn figure's bpviz.render.dot.FigureLayout

    @property
    def written(self) -> list:
        """The paths ``write`` creates (standard output left out)."""
        return [path for path, _ in self.files if path != "-"]

    def write(self) -> None:
        from .write import remove_files, write_files
        write_files(self.files, tuple(self.directories))
        remove_files(self.removals)

    def check_failure(self) -> Optional[CheckFailed]:
        """The error to report when ``--check`` found a disagreement, else None."""
        if self.check is None or self.check.ok:
            return None
        return CheckFailed(f"gradients disagree: largest relative error {self.check.worst:.2e} "
                           f"> tolerance {self.check.tolerance:.0e}")


NOTE_ONLY = ("wrt", "params", "embed", "tex_fragment", "md_fragment")
FIGURE_ONLY = ("edge_labels", "rankdir", "theme", "highlight", "legend", "dpi", "large", "max_cells")


def run(source: Source, options: Optional[Options] = None, progress=None) -> Result:
    """Build, evaluate, optionally check, and print ``source`` as ``options`` ask; nothing is written.
    ``progress(message)``, if given, hears about slow work (a --large figure) as it starts."""
    if not isinstance(source, Source):
        raise UsageError(f"run() takes a bpviz.api.Source, not {type(source).__name__}")
    if isinstance(options, Mapping):
        options = Options.make(**options)
    options = options if options is not None else Options()
    if not isinstance(options, Options):
        raise UsageError(f"run() takes bpviz.api.Options, not {type(options).__name__}")
    chosen = choose_printer(options.out, options.format)
    wrong_fragment = ("md_fragment" if options.md_fragment and chosen.name != "md" else
                      "tex_fragment" if options.tex_fragment and chosen.name != "tex" else None)
    if wrong_fragment:
        raise UsageError(f"--{wrong_fragment.replace('_', '-')} applies to {wrong_fragment[:-9]} notes, "
                         f"not {chosen.name}")
    if not options.figure and not chosen.note:
        raise UsageError("--no-figure applies to notes (-o FILE.md or FILE.tex)")
    if not chosen.note and any(getattr(options, k) for k in NOTE_ONLY):
        raise UsageError("--wrt, --param, --embed, --tex-fragment and --md-fragment apply to notes "
                         "(-o FILE.md or FILE.tex)")
    if not (chosen.note or chosen.terminal or chosen.draws) and options.lang != "en":
        raise UsageError("--lang applies to notes, figures and the terminal table")
    if options.embed and not chosen.embeds:
        raise UsageError(f"--embed applies to Markdown notes; a {chosen.name} note has its figure beside it")
    figure_options = [name for name in FIGURE_ONLY
                      if getattr(options, name) != Options.__dataclass_fields__[name].default]
    if figure_options and not (chosen.draws or chosen.note):
        flags = ", ".join(("--no-" if getattr(options, name) is False else "--") + name.replace("_", "-")
                          for name in figure_options)
        raise UsageError(f"{flags} shape{'s' if len(figure_options) == 1 else ''} figures, and {chosen.name} "
                         f"output has none (-o FILE.svg, .png, .pdf, .md or .tex)")
    if options.lr is not None and not chosen.note:
        raise UsageError("--lr adds a gradient step to a note (-o FILE.md or FILE.tex)")
    if chosen.terminal and options.out not in (None, "-"):
        raise UsageError(f"the {chosen.name} format prints to the terminal; use -f json or a file extension")
    if source.kind == "expr" and source.shapes is not None and (options.check or options.lr is not None):
        raise UsageError(f"{'--check' if options.check else '--lr'} needs numbers, and --shape gives shapes "
                         f"only: give values with --at or --values instead")
    if options.params and options.lr is None and source.kind == "expr":
        raise UsageError("--param names what --lr updates; give --lr too (e.g. --lr 0.1 --param w,b)")
    if chosen.note and options.lr is not None and source.kind == "expr" and not options.params:
        raise UsageError("--lr updates parameters: say which inputs they are, e.g. --param w,b "
                         "(the others are data and stay as they are)")
    graph = source.build()
    result = Result(graph=graph, printer=chosen)
    if options.check:
        from .check import check
        result.check = check(graph)
    result.warnings += graph.warnings
    job = Job(graph=graph, options=options, check=result.check, progress=progress)
    drawn, grouped = _figure_job(source, job) if chosen.draws or chosen.note else (job, False)
    if chosen.note:
        figure, result.files = _note_figure(chosen, drawn, grouped, result)
        result.note = job.note = note_for(graph, options, figure)
    if options.frames is not None:
        from .render.steps import frames
        result.directories.append(options.frames)
        result.files += frames(drawn, options.frames, options.frames_format)
        result.removals += _stale_frames(options.frames, {path for path, _ in result.files})
    output = chosen.render(drawn if chosen.draws else job)
    if chosen.draws:
        _figure_done(result, drawn, grouped, output, chosen.name)
    if chosen.terminal:
        result.display = output
    else:
        result.files.append((options.out or "-", output))
    result.warnings += [w for w in job.warnings + drawn.warnings if w not in result.warnings]
    return result


def _stale_frames(folder: str, written: set) -> list:
    """Frames of an earlier run in the folder (step-N.svg/.png) that this run does not write: left
    there, they would play after the new ones."""
    import os
    import re
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    frame = re.compile(r"step-\d+\.(svg|png)")
    return [os.path.join(folder, name) for name in names
            if frame.fullmatch(name) and os.path.join(folder, name) not in written
            and os.path.isfile(os.path.join(folder, name))]


def _figure_job(source: Source, job: Job) -> tuple:
    """The job a figure draws, and whether bpviz grouped its neurons: a network spec's figure
    above NETWORK_GROUP_NODES scalar nodes draws one card per neuron unless the reader chose
    --group (the JSON, the table and the note keep every weight as a node)."""
    graph = job.graph
    if not (source.kind == "spec" and source.group is None and source.view == "scalar" and not graph.matrix):
        return job, False                   # (an expression's note need not load the figure code)
    from dataclasses import replace
    from .render.dot import NETWORK_GROUP_NODES, is_network
    if not (is_network(graph) and len(graph.nodes) > NETWORK_GROUP_NODES):
        return job, False
    grouped = build_spec(source.text, source.name, list(source.overrides), True)
    grouped.adopt_names(graph)
    return replace(job, graph=grouped), True


def _figure_done(result: Result, job: Job, grouped: bool, image, fmt: str):
    """Record how a rendered figure was laid out, and warn in one line when it will not read at
    page width or was slow to lay out. Returns the layout."""
    from .render.dot import figure_layout, figure_pixels, is_network, size_warning
    layout = result.layout = figure_layout(job.graph, job.options.figure_options(), grouped)
    if fmt != "dot":            # DOT text is not laid out here
        warning = size_warning(layout, figure_pixels(image, fmt, job.options.dpi), is_network(job.graph))
        if warning:
            result.warnings.append(warning)
    return layout


def _note_figure(note_printer: Printer, job: Job, grouped: bool = False, result: Optional[Result] = None) -> tuple:
    """A note's figure: a file beside the note (its link relative), inlined as a data URI with
    --embed, or left out, with the reason the note gives. A drawn figure's ``fields["layout"]`` is
    its FigureLayout (bpviz.render.dot): the options that drew it, for the note to say."""
    from .render.note import Figure
    options = job.options
    if not options.figure:
        return Figure(reason="no_figure"), []
    out = options.out or "-"
    inline = note_printer.embeds and options.embed
    from .write import is_device
    if (out == "-" or is_device(out)) and not inline:      # no file can go beside a pipe or /dev/null
        return Figure(reason="figure_stdout" if note_printer.embeds else "figure_stdout_file"), []
    from .render.dot import FIGURE_NODES, too_large
    if too_large(job.graph) and not options.large:
        return Figure(reason="figure_too_large", fields={"nodes": f"{len(job.graph.nodes):,}",
                                                         "limit": FIGURE_NODES}), []
    figure_printer = next((p for p in map(printer, note_printer.figure) if not p.missing()),
                          printer(note_printer.figure[-1]))
    image = figure_printer.render(job)
    layout = {"layout": _figure_done(result if result is not None else Result(job.graph, note_printer), job,
                                     grouped, image, figure_printer.name)}
    if inline:
        import base64
        data = image.encode("utf-8") if isinstance(image, str) else image
        return Figure(link=f"data:{figure_printer.mime};base64," + base64.b64encode(data).decode("ascii"),
                      fields=layout), []
    beside = Path(out).with_suffix(figure_printer.extensions[0])
    if figure_printer.extensions[0] == note_printer.compiles_to:     # pdflatex writes NAME.pdf itself
        beside = beside.with_name(f"{beside.stem}-figure{beside.suffix}")
    return Figure(link=beside.name, fields=layout), [(str(beside), image)]


def note_for(graph: Graph, options: Options, figure=None):
    """The note model: which gradients to derive, sympy's closed forms and one gradient step,
    computed here, then laid out by bpviz.render.note."""
    from .check import CLOSED_FORM_NODES, SYMPY_DEPTH, closed_forms, function_depth, sympy_refusal
    from .render.note import Figure, build_note
    if options.wrt:
        wrt = [graph.node(name).name for name in options.wrt]
    else:   # a network's parameters (not its data inputs), or every input of a formula
        wrt = graph.params or [n.name for n in graph.inputs]
    closed = None
    skipped = (("closed_form_skipped", {"limit": CLOSED_FORM_NODES}) if len(graph.nodes) > CLOSED_FORM_NODES
               else ("closed_form_matrix", {}) if graph.matrix else sympy_refusal(graph))
    if skipped is None:
        try:
            closed = closed_forms(graph, [n for n in wrt if graph.node(n).kind == "input"])
        except RecursionError:
            skipped = ("closed_form_too_deep", {"depth": function_depth(graph), "limit": SYMPY_DEPTH})
    rate = options.lr if options.lr is not None else (graph.spec.learning_rate if graph.spec else None)
    step = gradient_step(graph, rate, list(options.params) or None) if rate is not None else None
    return build_note(graph, lang=options.lang, digits=options.digits, wrt=wrt, closed=closed,
                      closed_skipped=skipped, step=step,
                      figure=figure or Figure(reason="no_figure"))


def note_markdown(graph: Graph, options: Options) -> str:
    """The Markdown note of an evaluated graph as a fragment, for a figure shown just above it (a
    ```bpviz block of `bpviz md`, a notebook): no title, no figure link of its own."""
    from dataclasses import replace
    from .render.note import Figure
    if options.lr is not None and graph.spec is None and not options.params:
        raise UsageError("lr updates parameters: say which inputs they are, e.g. param=w,b "
                         "(the others are data and stay as they are)")
    if options.params and options.lr is None and graph.spec is None:
        raise UsageError("param names what lr updates; give lr too")
    options = replace(options, format="md", out=None, md_fragment=True, figure=True, embed=False)
    job = Job(graph=graph, options=options)
    job.note = note_for(graph, options, Figure(reason="shown_above"))
    return printer("md").render(job)


__all__ = ["Source", "Options", "Result", "run", "note_for", "note_markdown", "build_expression", "build_spec", "exact_values"]
