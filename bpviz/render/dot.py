"""The DOT printer: the finished graph as a Graphviz figure with values, gradients and
local derivatives. Builds DOT text in memory with the ``graphviz`` package; never renders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ..errors import ProgramError, RenderError, UsageError, name_list
from ..graph import Graph, Node
from ..numeric import fmt
from ..settings import make_settings
from ..escape import html, html_label
from ..ops import affine_pairs
from ..tensor import bar, plain, shape_text, summary

EDGE_LABELS = ("auto", "none", "symbolic", "numeric", "both")
RANKDIRS = ("LR", "TB", "RL", "BT")
THEMES = ("light", "dark")
FONT = "Arial"
AUTO_BOTH_LIMIT = 40        # edges; beyond this, "auto" edge labels are numeric only
AUTO_NONE_LIMIT = 400       # edges; beyond this, "auto" draws no edge labels
FAST_LAYOUT_NODES = 150     # beyond this, cap dot's network simplex and crossing minimisation:
FAST_LAYOUT = dict(nslimit="2", nslimit1="2", mclimit="0.1", searchsize="10")  # 10x faster layouts

# Okabe-Ito-inspired: values blue, gradients vermillion; each also differs by its row's tint and
# caption, so the figure reads in greyscale and for colour-blind readers.
PALETTES = {
    "light": dict(bg="#ffffff", text="#1f2328", muted="#59636e", value="#0b5fa5", grad="#c4320a",
                  value_bg="#eaf3fb", grad_bg="#fdeee6", fill="#ffffff", header="#eef0f3",
                  input_fill="#f2f7ee", input_border="#3f6b2a", const_border="#8c959f",
                  border="#57606a", output_border="#1f2328", edge="#8c959f",
                  highlight="#8250df", dim="#d0d7de"),
    "dark": dict(bg="#0d1117", text="#e6edf3", muted="#9198a1", value="#79c0ff", grad="#ffa657",
                 value_bg="#0f2237", grad_bg="#33210f", fill="#161b22", header="#262c36",
                 input_fill="#15231a", input_border="#7ee787", const_border="#6e7681",
                 border="#8b949e", output_border="#f0f6fc", edge="#6e7681",
                 highlight="#d2a8ff", dim="#30363d"),
}


@dataclass(frozen=True)
class FigureOptions:
    edge_labels: str = "auto"
    rankdir: str = "AUTO"       # AUTO: LR for scalar graphs, TB for matrix graphs (cards stack down a page)
    digits: int = 4
    theme: str = "light"
    highlight: Optional[str] = None
    legend: bool = True
    max_cells: int = 4          # matrix mode: grids up to this many rows and columns

    @classmethod
    def make(cls, **settings) -> "FigureOptions":
        """Build options, rejecting unknown keys and values."""
        opts = make_settings(cls, settings, "figure option(s)")
        for name, allowed in (("edge_labels", EDGE_LABELS), ("rankdir", RANKDIRS + ("AUTO",)), ("theme", THEMES)):
            value = getattr(opts, name)
            if value not in allowed:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
        return opts


def num(value, digits: int) -> str:
    """A number for a figure, with a typographic minus."""
    return minus(fmt(value, digits))


def minus(text: str) -> str:
    """Text of numbers with typographic minus signs (``−0.5``, ``1e−07``)."""
    return text.replace("-", "−")


THIN = "&#8201;"            # a thin space each side of a grid entry keeps −1 −2 apart
_SUPERSCRIPTS = str.maketrans("0123456789×", "⁰¹²³⁴⁵⁶⁷⁸⁹ˣ")


def shape_label(shape: tuple) -> str:
    """A node's shape on its card: ``ℝ³ˣ⁴`` when every dimension is a number, else ``N×Dx``.

    >>> shape_label((3, 4)), shape_label((3,)), shape_label(()), shape_label(("N", "Dx")), shape_label((256, 784))
    ('ℝ³ˣ⁴', 'ℝ³', 'ℝ', 'N×Dx', 'ℝ²⁵⁶ˣ⁷⁸⁴')
    """
    if any(isinstance(d, str) for d in shape):
        return shape_text(shape)
    return "ℝ" + (shape_text(shape).translate(_SUPERSCRIPTS) if shape else "")


def render_dot(graph: Graph, options: Optional[FigureOptions] = None) -> str:
    return _Figure(graph, options or FigureOptions()).source()


def print_dot(job) -> str:
    return render_dot(job.graph, job.options.figure_options())


def print_svg(job) -> str:
    return _graphviz(job, "svg").decode("utf-8")


def print_png(job) -> bytes:
    return _graphviz(job, "png")


def print_pdf(job) -> bytes:
    """The SVG figure as a vector PDF, by cairosvg (LaTeX includes it at any size)."""
    import cairosvg
    pdf = cairosvg.svg2pdf(bytestring=_graphviz(job, "svg"))
    # cairo stamps the time of the run; the same input must give the same bytes (and the same
    # length keeps the PDF's byte offsets right)
    return re.sub(rb"/(CreationDate|ModDate) \(D:\d{14}", rb"/\1 (D:20000101000000", pdf)


def pdf_missing() -> Optional[str]:
    try:
        import cairosvg  # noqa: F401  (loads the cairo library through cairocffi)
    except ImportError as exc:
        return f"PDF needs cairosvg and the cairo library (pip install cairosvg; Debian: libcairo2): {exc}"
    except OSError as exc:
        return f"PDF needs the cairo library (Debian: apt-get install libcairo2): {exc}"
    return None


FIGURE_NODES = 400          # figures above this many nodes are drawn only with --large
TIMEOUT, LARGE_TIMEOUT = 60.0, 3600.0   # seconds the renderer may take


def too_large(graph: Graph) -> bool:
    return len(graph.nodes) > FIGURE_NODES


def _graphviz(job, fmt: str) -> bytes:
    from ..write import choose_renderer, render_graphviz
    graph, options = job.graph, job.options
    if too_large(graph) and not options.large:
        raise RenderError(f"the figure would have {len(graph.nodes):,} nodes, more than the {FIGURE_NODES} "
                          f"drawn by default: add --large to draw it anyway (it can take minutes), use "
                          f"--group neurons for a network, or write -o FILE.dot")
    renderer = choose_renderer(options.renderer)
    if too_large(graph):
        job.say(f"laying out {len(graph.nodes):,} nodes with the {renderer.kind} renderer; this can take minutes")
    elif len(graph.nodes) > FAST_LAYOUT_NODES:
        job.say(f"laying out {len(graph.nodes):,} nodes with the {renderer.kind} renderer")
    return render_graphviz(print_dot(job), fmt, renderer, dpi=options.dpi,
                           timeout=LARGE_TIMEOUT if options.large else TIMEOUT)


class _Figure:
    def __init__(self, graph: Graph, options: FigureOptions):
        self.g, self.o = graph, options
        self.rankdir = options.rankdir if options.rankdir != "AUTO" else ("TB" if graph.matrix else "LR")
        self.p = PALETTES[options.theme]
        self.folded = self._folded()
        edges = sum(1 for src, dst, slot in graph.edges() if src not in self.folded)
        mode = options.edge_labels
        if mode == "auto":
            mode = "both" if edges <= AUTO_BOTH_LIMIT else ("numeric" if edges <= AUTO_NONE_LIMIT else "none")
        self.edge_mode = mode
        # --group neurons on a larger network: edges into neurons carry no labels under "auto"
        self.quiet_neurons = bool(self.folded) and options.edge_labels == "auto" and edges > AUTO_BOTH_LIMIT
        self.on_path = self._highlighted() if options.highlight else None

    def _folded(self) -> set:
        """Parameters drawn inside their neuron's card (--group neurons): a weight or bias leaf
        used by exactly one collapsed neuron. A shared bias stays a node of its own, so its
        gradient still shows as the sum over the units it feeds."""
        g = self.g
        params = set(g.params)
        folded = set()
        for node in g.nodes:
            uses = g.consumers[node.index]
            if node.name in params and len(uses) == 1 and g.nodes[uses[0][0]].op.neuron:
                folded.add(node.index)
        return folded

    # -- what to emphasise --------------------------------------------------------------------
    def _highlighted(self) -> set:
        """Nodes on some path from the highlighted node to the output (the chain-rule paths)."""
        g = self.g
        if self.o.highlight not in g:
            names = name_list(n.name for n in g.nodes if n.kind != "const")
            raise ProgramError(f"--highlight {self.o.highlight!r} is not a node (nodes: {names})")
        start = g.node(self.o.highlight).index
        below = [False] * len(g.nodes)        # descendants of start
        below[start] = True
        for node in g.nodes:
            if any(below[i] for i in node.inputs):
                below[node.index] = True
        above = [False] * len(g.nodes)        # ancestors of the output
        above[g.output] = True
        for node in reversed(g.nodes):
            if above[node.index]:
                for i in node.inputs:
                    above[i] = True
        return {i for i in range(len(g.nodes)) if below[i] and above[i]}

    # -- the document -------------------------------------------------------------------------
    def source(self) -> str:
        import graphviz
        p, g = self.p, self.g
        dot = graphviz.Digraph("bpviz", format="svg")
        rankdir = self.rankdir
        dot.attr(rankdir=rankdir, bgcolor=p["bg"], fontname=FONT, fontcolor=p["text"],
                 nodesep="0.35", ranksep="0.55" if rankdir in ("LR", "RL") else "0.45",
                 pad="0.25", newrank="true")
        if len(g.nodes) > FAST_LAYOUT_NODES:
            dot.attr(**FAST_LAYOUT)
        heading = self.heading()
        if heading:
            dot.attr(label=html_label(heading), labelloc="t", labeljust="l")
        dot.attr("node", shape="box", style="rounded,filled", fontname=FONT, fontcolor=p["text"],
                 fillcolor=p["fill"], color=p["border"], margin="0.04,0.03", penwidth="1.2")
        dot.attr("edge", color=p["edge"], fontname=FONT, fontcolor=p["muted"], fontsize="10",
                 arrowsize="0.7", penwidth="1.1")
        for node in g.nodes:
            if node.index not in self.folded:
                dot.node(node.id, html_label(self.node_label(node)), **self.node_style(node))
        for src, dst, slot in g.edges():
            if src in self.folded:
                continue
            dot.edge(g.nodes[src].id, g.nodes[dst].id, **self.edge_style(src, dst, slot))
        return dot.source

    def node_style(self, node: Node) -> dict:
        p = self.p
        style = {}
        if node.kind == "input":
            style.update(fillcolor=p["input_fill"], color=p["input_border"], penwidth="1.6")
        elif node.kind == "const":
            style.update(style="rounded,dashed,filled", color=p["const_border"])
        if node.index == self.g.output:
            style.update(color=p["output_border"], penwidth="2.6")
        if self.on_path is not None:
            if node.index in self.on_path:
                style.update(color=p["highlight"], penwidth="2.8")
            else:
                style.update(color=p["dim"])
        return style

    def node_label(self, node: Node) -> str:
        p, g = self.p, self.g
        if node.kind == "const":
            return (f'<table border="0" cellborder="0" cellspacing="0" cellpadding="2"><tr><td>'
                    f'<font point-size="12" color="{p["muted"]}">{html(num(node.value, self.o.digits))}</font>'
                    f'</td></tr></table>')
        rows = [self._header(node)]
        if node.op is not None and node.op.neuron:     # a collapsed neuron shows its sum
            rows.append(f'<tr><td colspan="2" align="left" cellpadding="2"><font point-size="10" '
                        f'color="{p["muted"]}">{html(self._neuron_sum(node))}</font></td></tr>')
            rows += [self._param_row(g.nodes[i]) for i in node.inputs if i in self.folded]
        rows += self._value_rows(node)
        return ('<table border="0" cellborder="0" cellspacing="0" cellpadding="3">'
                + "".join(rows) + "</table>")

    def _header(self, node: Node) -> str:
        """An operation's symbol and name, or an input's name; with values in matrix mode, then its
        shape (a figure of shapes only gives it a row of its own)."""
        p = self.p
        shape = (f'  <font point-size="11" color="{p["muted"]}">{html(shape_label(node.shape))}</font>'
                 if self.g.matrix and not self.g.shapes_only else "")
        if node.kind == "input":
            return (f'<tr><td colspan="2" cellpadding="3"><font point-size="15"><b>{html(node.name)}'
                    f'</b></font>{shape}</td></tr>')
        symbol = f'<font point-size="17"><b>{html(node.symbol)}</b></font>'
        name = (f'<font point-size="12" color="{p["muted"]}">{html(node.name)}</font>' if not node.named
                else f'<font point-size="13"><b>{html(node.name)}</b></font>')
        return (f'<tr><td colspan="2" bgcolor="{p["header"]}" cellpadding="3">'
                f'{symbol}  {name}{shape}</td></tr>')

    def _value_rows(self, node: Node) -> list:
        """The value row and the gradient row: numbers, or arrays as grids or summaries; in a figure
        of shapes only, the shape instead."""
        p, d, g = self.p, self.o.digits, self.g
        caption = f"∂{g.out.name}/∂{node.name}"
        if g.shapes_only:
            return [self._shape_row(node)]
        if g.matrix and node.shape:
            return self._array_rows(node, caption)
        grad = num(node.grad, d) if node.index == g.output else self._grad_text(node)
        return [self._row("value", num(node.value, d), p["value"], p["value_bg"]),
                self._row(caption, grad, p["grad"], p["grad_bg"])]

    def _shape_row(self, node: Node) -> str:
        return (f'<tr><td colspan="2" cellpadding="3" width="60"><font point-size="13">'
                f'{html(shape_label(node.shape))}</font></td></tr>')

    def _grad_text(self, node: Node) -> str:
        """A gradient; at fan-out, the sum of its out-edges' contributions: ``2 + 3 = 5``."""
        d, g = self.o.digits, self.g
        uses = [c for c in g.consumers[node.index]]
        total = num(node.grad, d)
        if len(uses) < 2:
            return total
        parts = [num(plain(g.contribution(dst, slot)), d) for dst, slot in uses]
        if len(parts) > 4:
            return f"Σ {total}"
        terms = parts[0] + "".join(f" − {t[1:]}" if t.startswith("−") else f" + {t}" for t in parts[1:])
        return f"{terms} = {total}"

    def _neuron_sum(self, node: Node) -> str:
        """Σ w·x + b, with the middle terms elided when the neuron has more than three inputs."""
        pairs, bias = affine_pairs(self.g.operand_names(node), node.param)
        if len(pairs) <= 3:
            return self.g.formula(node, "uni")
        terms = [f"{w}·{x}" for w, x in (pairs[0], pairs[-1])]
        return " + ".join([terms[0], "…", terms[1]] + ([bias] if bias is not None else []))

    def _param_row(self, param: Node) -> str:
        """A folded weight or bias inside its neuron: name, value, and gradient."""
        p, d = self.p, self.o.digits
        return (f'<tr><td align="left" cellpadding="2"><font point-size="10" color="{p["muted"]}">'
                f'{html(param.name)} = </font><font point-size="11" color="{p["value"]}">'
                f'{html(num(param.value, d))}</font></td><td align="right" cellpadding="2">'
                f'<font point-size="10" color="{p["muted"]}">∂{html(self.g.out.name)}: </font>'
                f'<font point-size="11" color="{p["grad"]}"><b>{html(num(param.grad, d))}</b></font></td></tr>')

    def _row(self, caption: str, number: str, color: str, bg: str) -> str:
        return self._cells(caption, self._number(number, color), bg)

    @staticmethod
    def _number(number: str, color: str) -> str:
        return f'<font point-size="13" color="{color}"><b>{html(number)}</b></font>'

    def _cells(self, caption: str, content: str, bg: str) -> str:
        """A captioned row of a card; ``content`` is markup."""
        return (f'<tr><td align="left" bgcolor="{bg}"><font point-size="10" color="{self.p["muted"]}">'
                f'{html(caption)}</font></td><td align="right" bgcolor="{bg}" cellpadding="4">{content}</td></tr>')

    # -- arrays (matrix mode) -------------------------------------------------------------------
    def _array_rows(self, node: Node, caption: str) -> list:
        """An array's value and gradient rows: one table of bracketed grids sharing their columns
        (the two have the same shape) when they fit in max_cells, else a one-line summary each."""
        p = self.p
        blocks = (("value", node.value, p["value"], p["value_bg"]),
                  (caption, node.grad, p["grad"], p["grad_bg"]))
        if not self._fits(node.value):
            return [self._cells(text, self._summary(a, color), bg) for text, a, color, bg in blocks]
        rows = [row for text, a, color, bg in blocks for row in self._grid(a, color, bg, text)]
        return [f'<tr><td colspan="2" cellpadding="0">{self._table(rows)}</td></tr>']

    def _array(self, value, color: str) -> str:
        """A value on its own (an edge's contribution): a number, a grid, or a summary."""
        value = plain(value)
        if not getattr(value, "shape", ()):
            return self._number(num(value, self.o.digits), color)
        return self._table(self._grid(value, color)) if self._fits(value) else self._summary(value, color)

    def _fits(self, value) -> bool:
        return max(value.shape) <= self.o.max_cells

    def _summary(self, value, color: str) -> str:
        return f'<font point-size="10" color="{color}">{html(minus(summary(value, self.o.digits)))}</font>'

    @staticmethod
    def _table(rows: list) -> str:
        return ('<table border="0" cellborder="0" cellspacing="0" cellpadding="2">'
                + "".join(rows) + "</table>")

    def _grid(self, value, color: str, bg: str = "", caption: Optional[str] = None) -> list:
        """A vector or matrix in brackets, entries right-aligned; a vector is one row. Rows of a
        table whose columns are: [caption] [ entries… ] and a margin; a thin band above and below
        keeps brackets of stacked grids apart."""
        d, h = self.o.digits, (1 if value.ndim == 1 else value.shape[0])
        matrix = value.reshape(h, -1)
        fill = f' bgcolor="{bg}"' if bg else ""
        band = f'<td colspan="{matrix.shape[1] + 3}" height="3" cellpadding="0"{fill}></td>'
        head = (f'<td rowspan="{h + 2}" align="left" cellpadding="3"{fill}><font point-size="10" '
                f'color="{self.p["muted"]}">{html(caption)}</font></td>' if caption is not None else "")
        bracket = f'<td rowspan="{h}" width="3" border="1" sides="%sTB" color="{color}"{fill}></td>'
        rows = [f"<tr>{head}{band}</tr>"]
        for i, entries in enumerate(matrix):
            cells = "".join(f'<td align="right"{fill}><font point-size="11" color="{color}">{THIN}'
                            f'{html(num(plain(v), d))}{THIN}</font></td>' for v in entries)
            if i == 0:
                cells = bracket % "L" + cells + bracket % "R" + f'<td rowspan="{h}" width="3"{fill}></td>'
            rows.append(f"<tr>{cells}</tr>")
        return rows + [f"<tr>{band}</tr>"]

    def edge_style(self, src: int, dst: int, slot: int) -> dict:
        g, p = self.g, self.p
        source, node = g.nodes[src], g.nodes[dst]
        style: dict = {}
        if self.on_path is not None:
            if src in self.on_path and dst in self.on_path:
                style.update(color=p["highlight"], penwidth="2.6")
            else:
                style.update(color=p["dim"])
        if self.edge_mode == "none" or source.kind == "const":
            return style
        if self.quiet_neurons and node.op.neuron:
            return style        # the weight and its gradient are in the neuron's card already
        label = self._vjp_label(src, dst, slot) if g.matrix else self._local_label(src, dst, slot)
        style["label"] = html_label(label)
        return style

    def _local_label(self, src: int, dst: int, slot: int) -> str:
        """∂head/∂tail as a rule and a number; at fan-out, also upstream × local → contribution."""
        g, p, d = self.g, self.p, self.o.digits
        source, node = g.nodes[src], g.nodes[dst]
        partial = f"∂{node.name}/∂{source.name}"
        symbolic = g.local_formula(node, slot, "uni")
        numeric = num(node.local[slot], d)
        if self.edge_mode == "symbolic":
            line = f"{partial} = {symbolic}"
        elif self.edge_mode == "numeric":
            line = f"{partial} = {numeric}"
        else:
            same = symbolic.replace("−", "-") == fmt(node.local[slot], d)
            line = f"{partial} = {symbolic}" + ("" if same else f" = {numeric}")
        label = f'<font color="{p["muted"]}">{html(line)}</font>'
        if len(g.consumers[src]) > 1 and self.edge_mode != "symbolic":
            contribution = num(g.contribution(dst, slot), d)
            label += (f'<br/><font color="{p["grad"]}">{html(num(node.grad, d))} × {html(numeric)}'
                      f' → {html(contribution)}</font>')
        return label

    def _vjp_label(self, src: int, dst: int, slot: int) -> str:
        """What the head sends back to the tail, as a vector-Jacobian product: ``X̄ = Z̄·Wᵀ``. At
        fan-out the contributions add (``X̄ +=``), and unless symbolic this one is shown too."""
        g, p = self.g, self.p
        fan = len(g.consumers[src]) > 1
        rule = (f"{bar(g.nodes[src].name, 'uni')} {'+=' if fan else '='} "
                f"{g.local_formula(g.nodes[dst], slot, 'uni')}")
        text = f'<font color="{p["muted"]}">{html(rule)}</font>'
        if not fan or self.edge_mode == "symbolic" or g.shapes_only:
            return text
        return (f'<table border="0" cellborder="0" cellspacing="0" cellpadding="1"><tr><td>{text}</td></tr>'
                f'<tr><td>{self._array(g.contribution(dst, slot), p["grad"])}</td></tr></table>')

    def heading(self) -> str:
        """The title (for specs) and a one-line legend, above the graph."""
        p = self.p
        lines = []
        if self.g.title:
            lines.append(f'<tr><td align="left"><font point-size="16"><b>{html(self.g.title)}</b></font></td></tr>')
        if self.o.legend:
            legend = self._cards_key()
            if self.edge_mode != "none":
                legend += (f'<br align="left"/><font color="{p["muted"]}">{html(self._edges_key())}'
                           f'</font><br align="left"/>')
            lines.append(f'<tr><td align="left" cellpadding="2"><font point-size="10">{legend}</font></td></tr>'
                         f'<tr><td cellpadding="4"> </td></tr>')
        if not lines:
            return ""
        return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="2">{"".join(lines)}</table>'

    def _cards_key(self) -> str:
        p, out, g = self.p, html(self.g.out.name), self.g
        if g.shapes_only:
            return (f'<font color="{p["muted"]}">each card: a node and its shape; the gradient ∂{out}/∂v '
                    f'has the shape of v</font>')
        key = (f'<font color="{p["value"]}"><b>value</b></font>'
               f'<font color="{p["muted"]}">  forward value       </font>'
               f'<font color="{p["grad"]}"><b>∂{out}/∂v</b></font>'
               f'<font color="{p["muted"]}">  gradient of {out} with respect to v</font>')
        if g.matrix and any(n.shape and not self._fits(n.value) for n in g.nodes):
            n = self.o.max_cells
            key += (f'<font color="{p["muted"]}">; arrays larger than {n}×{n}: their minimum, maximum '
                    f'and norm ‖·‖</font>')
        return key

    def _edges_key(self) -> str:
        fans_out = self._fans_out()
        if not self.g.matrix:
            return ("edge label: local derivative ∂head/∂tail"
                    + ("; at fan-out, upstream × local → contribution" if fans_out else ""))
        shown = self.edge_mode != "symbolic" and not self.g.shapes_only
        fan_out = f"; at fan-out the shares add up (+=){', each under its rule' if shown else ''}"
        return (f"edge label: what the head sends back to its operand v, v̄ = ∂{self.g.out.name}/∂v "
                f"(a vector-Jacobian product)" + (fan_out if fans_out else ""))

    def _fans_out(self) -> bool:
        return any(len(c) > 1 for n, c in zip(self.g.nodes, self.g.consumers) if n.kind != "const")
