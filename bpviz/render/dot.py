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
    rankdir: str = "LR"
    digits: int = 4
    theme: str = "light"
    highlight: Optional[str] = None
    legend: bool = True
    max_cells: int = 4          # matrix mode: grids up to this many rows and columns

    @classmethod
    def make(cls, **settings) -> "FigureOptions":
        """Build options, rejecting unknown keys and values."""
        opts = make_settings(cls, settings, "figure option(s)")
        for name, allowed in (("edge_labels", EDGE_LABELS), ("rankdir", RANKDIRS), ("theme", THEMES)):
            value = getattr(opts, name)
            if value not in allowed:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
        return opts


def num(value, digits: int) -> str:
    """A number for a figure, with a typographic minus."""
    return fmt(value, digits).replace("-", "−")


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
        dot.attr(rankdir=self.o.rankdir, bgcolor=p["bg"], fontname=FONT, fontcolor=p["text"],
                 nodesep="0.35", ranksep="0.55" if self.o.rankdir in ("LR", "RL") else "0.45",
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
        p, d, g = self.p, self.o.digits, self.g
        out = g.out.name
        rows = []
        if node.kind == "op":
            symbol = f'<font point-size="17"><b>{html(node.symbol)}</b></font>'
            name = (f'<font point-size="12" color="{p["muted"]}">{html(node.name)}</font>' if not node.named
                    else f'<font point-size="13"><b>{html(node.name)}</b></font>')
            rows.append(f'<tr><td colspan="2" bgcolor="{p["header"]}" cellpadding="3">'
                        f'{symbol}  {name}</td></tr>')
        elif node.kind == "input":
            rows.append(f'<tr><td colspan="2" cellpadding="3"><font point-size="15"><b>{html(node.name)}'
                        f'</b></font></td></tr>')
        else:
            return (f'<table border="0" cellborder="0" cellspacing="0" cellpadding="2"><tr><td>'
                    f'<font point-size="12" color="{p["muted"]}">{html(num(node.value, d))}</font>'
                    f'</td></tr></table>')
        if node.op is not None and node.op.neuron:     # a collapsed neuron shows its sum
            rows.append(f'<tr><td colspan="2" align="left" cellpadding="2"><font point-size="10" '
                        f'color="{p["muted"]}">{html(self._neuron_sum(node))}</font></td></tr>')
            rows += [self._param_row(g.nodes[i]) for i in node.inputs if i in self.folded]
        rows.append(self._row("value", num(node.value, d), p["value"], p["value_bg"]))
        if node.index != g.output:
            rows.append(self._row(f"∂{out}/∂{node.name}", self._grad_text(node), p["grad"], p["grad_bg"]))
        else:
            rows.append(self._row(f"∂{out}/∂{out}", num(node.grad, d), p["grad"], p["grad_bg"]))
        return ('<table border="0" cellborder="0" cellspacing="0" cellpadding="3">'
                + "".join(rows) + "</table>")

    def _grad_text(self, node: Node) -> str:
        """A gradient; at fan-out, the sum of its out-edges' contributions: ``2 + 3 = 5``."""
        d, g = self.o.digits, self.g
        uses = [c for c in g.consumers[node.index]]
        total = num(node.grad, d)
        if len(uses) < 2:
            return total
        parts = [num(g.contribution(dst, slot), d) for dst, slot in uses]
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
        p = self.p
        return (f'<tr><td align="left" bgcolor="{bg}"><font point-size="10" color="{p["muted"]}">'
                f'{html(caption)}</font></td><td align="right" bgcolor="{bg}" cellpadding="4">'
                f'<font point-size="13" color="{color}"><b>{html(number)}</b></font></td></tr>')

    def edge_style(self, src: int, dst: int, slot: int) -> dict:
        g, p, d = self.g, self.p, self.o.digits
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
        lines = []
        partial = f"∂{node.name}/∂{source.name}"
        symbolic = g.local_formula(node, slot, "uni")
        numeric = num(node.local[slot], d)
        if self.edge_mode == "symbolic":
            lines.append(f"{partial} = {symbolic}")
        elif self.edge_mode == "numeric":
            lines.append(f"{partial} = {numeric}")
        else:
            same = symbolic.replace("−", "-") == fmt(node.local[slot], d)
            lines.append(f"{partial} = {symbolic}" + ("" if same else f" = {numeric}"))
        label = f'<font color="{p["muted"]}">{html(lines[0])}</font>'
        if len(g.consumers[src]) > 1 and self.edge_mode != "symbolic":
            contribution = num(g.contribution(dst, slot), d)
            label += (f'<br/><font color="{p["grad"]}">{html(num(node.grad, d))} × {html(numeric)}'
                      f' → {html(contribution)}</font>')
        style["label"] = html_label(label)
        return style

    def heading(self) -> str:
        """The title (for specs) and a one-line legend, above the graph."""
        p, out = self.p, html(self.g.out.name)
        lines = []
        if self.g.title:
            lines.append(f'<tr><td align="left"><font point-size="16"><b>{html(self.g.title)}</b></font></td></tr>')
        if self.o.legend:
            legend = (f'<font color="{p["value"]}"><b>value</b></font>'
                      f'<font color="{p["muted"]}">  forward value       </font>'
                      f'<font color="{p["grad"]}"><b>∂{out}/∂v</b></font>'
                      f'<font color="{p["muted"]}">  gradient of {out} with respect to v</font>')
            if self.edge_mode != "none":
                legend += (f'<br align="left"/><font color="{p["muted"]}">edge label: local derivative ∂head/∂tail'
                           f'{"; at fan-out, upstream × local → contribution" if self._fans_out() else ""}'
                           f'</font><br align="left"/>')
            lines.append(f'<tr><td align="left" cellpadding="2"><font point-size="10">{legend}</font></td></tr>'
                         f'<tr><td cellpadding="4"> </td></tr>')
        if not lines:
            return ""
        return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="2">{"".join(lines)}</table>'

    def _fans_out(self) -> bool:
        return any(len(c) > 1 for n, c in zip(self.g.nodes, self.g.consumers) if n.kind != "const")
