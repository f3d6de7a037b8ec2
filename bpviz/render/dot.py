"""The DOT printer: the finished graph as a Graphviz figure with values, gradients and
local derivatives. Builds DOT text in memory with the ``graphviz`` package; never renders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from ..errors import ProgramError, RenderError, UsageError, name_list
from ..graph import Graph, Node
from ..numeric import fmt, fmt_uni
from ..settings import make_settings
from ..escape import html, html_label
from ..ops import affine_pairs
from ..tensor import bar, plain, shape_text, summary

EDGE_LABELS = ("auto", "none", "symbolic", "numeric", "both")
RANKDIRS = ("LR", "TB", "RL", "BT")
THEMES = ("light", "dark")
FONT = "Arial"
LABEL_MARGIN = "0.08,0.02"  # inches around an edge label's text, across and along its edge
AUTO_BOTH_LIMIT = 40        # edges; beyond this, "auto" edge labels are numeric only
AUTO_NONE_LIMIT = 400       # edges; beyond this, "auto" draws no edge labels
FAST_LAYOUT_NODES = 150     # beyond this, cap dot's network simplex and crossing minimisation:
FAST_LAYOUT = dict(nslimit="2", nslimit1="2", mclimit="0.1", searchsize="10")
# Above FIGURE_NODES (--large): nslimit is a multiple of the node count (2 never capped anything), so
# no network-simplex iterations when placing nodes, and one crossing-minimisation pass (remincross off).
# A node used far apart is drawn once, next to its first use, and a use more than LEAF_SPAN (a leaf) or
# REF_SPAN ranks after the first gets a small reference card with its name: edges from a shared input
# across the whole figure made dot's layout quadratic (1,000 nodes: 445,000 virtual nodes, 100 s;
# docs/figures.md, "Renderers"). A network's layer uses its inputs in one rank: no reference cards.
LEAF_SPAN, REF_SPAN = 2, 16
LARGE_LAYOUT = dict(nslimit="0", mclimit="0.05", searchsize="10", remincross="false")
# Networks (docs/figures.md, "Networks"): drawn top to bottom; a spec's figure groups neurons above
# NETWORK_GROUP_NODES scalar nodes (bpviz.api), and above NETWORK_LABEL_EDGES edges "auto" draws no
# edge labels and neuron cards leave their weights out (they stay in the JSON, the table and the note)
NETWORK_GROUP_NODES = 20
NETWORK_LABEL_EDGES = 60
MAIN_PATH_WEIGHT = 10       # the output's longest path runs straight (Ng's w → c → a → d → J in one row)
LABEL_HEAD_WEIGHT = 2       # an edge's label sits on the edge, next to its head
LONG_LABEL = 40             # characters; a longer "∂h/∂t = rule = number" shows "∂h/∂t = number" under auto
LARGE_FIGURE_PX = 4000      # a figure wider or taller than this (at the PNG's dpi) gets a warning
_INDEXED = re.compile(r"^(.+)\[(\d+)(?:,(\d+))?\]$")     # h.z[2], h.W[2,1]

# Okabe-Ito-inspired: values blue, gradients vermillion. They differ without colour too, so the
# figure reads in greyscale and for colour-blind readers: the gradient row's tint is clearly darker
# (light theme: grey 221 against 245) or lighter (dark theme: 58 against 31) than the value row's,
# gradients are bold and values regular, and each row has its caption. Every text keeps a WCAG
# contrast of 4.5 on its row (tests/test_glyphs.py checks all of it).
PALETTES = {
    "light": dict(bg="#ffffff", text="#1f2328", muted="#545e69", value="#0b5fa5", grad="#a82c06",
                  value_bg="#eff6fc", grad_bg="#f8d5c0", fill="#ffffff", header="#eef0f3",
                  input_fill="#f2f7ee", input_border="#3f6b2a", const_border="#8c959f",
                  border="#57606a", output_border="#1f2328", edge="#8c959f",
                  highlight="#8250df", dim="#d0d7de", custom="#00705f"),
    "dark": dict(bg="#0d1117", text="#e6edf3", muted="#a3aab3", value="#79c0ff", grad="#ffbd85",
                 value_bg="#0f2237", grad_bg="#52341a", fill="#161b22", header="#262c36",
                 input_fill="#15231a", input_border="#7ee787", const_border="#6e7681",
                 border="#8b949e", output_border="#f0f6fc", edge="#6e7681",
                 highlight="#d2a8ff", dim="#30363d", custom="#4fd1bd"),
}

# The figure's own words, by --lang (math is never translated): the value rows' caption and the legend.
FIGURE_WORDS = {
    "en": dict(value="value", value_key="forward value", grad_key="gradient of {out} with respect to v",
               shapes_key="each card: a node and its shape; the gradient ∂{out}/∂v has the shape of v",
               summary_key="arrays larger than {n}×{n}: their minimum, maximum and norm ‖·‖",
               edges_key="edge labels: local derivatives; the edge {tail} → {head} shows ∂{head}/∂{tail}",
               fan_key="; at fan-out, upstream × local → contribution",
               vjp_key="edge labels: what the head sends back to its operand v, v̄ = ∂{out}/∂v "
                       "(a vector-Jacobian product)",
               vjp_fan_key="; at fan-out the shares add up (+=)", vjp_fan_shown=", each under its rule",
               custom="custom ∂",
               custom_key="dashed edge, custom ∂: a surrogate gradient (@grad) replaces the true local derivative"),
    "zh": dict(value="值", value_key="前向计算的值", grad_key="{out} 对 v 的梯度",
               shapes_key="每张卡片：一个节点及其形状；梯度 ∂{out}/∂v 与 v 形状相同",
               summary_key="大于 {n}×{n} 的数组：给出最小值、最大值和范数 ‖·‖",
               edges_key="边上标的是局部偏导数：边 {tail} → {head} 上是 ∂{head}/∂{tail}",
               fan_key="；扇出处另标 上游梯度 × 局部偏导数 → 贡献",
               vjp_key="边上标的是头节点传回其操作数 v 的量 v̄ = ∂{out}/∂v（向量–雅可比积）",
               vjp_fan_key="；扇出处各份相加（+=）", vjp_fan_shown="，每份写在其规则下方",
               custom="自定义 ∂",
               custom_key="虚线边，自定义 ∂：代理梯度（@grad）取代了真正的局部偏导数"),
}


_EM = {**dict.fromkeys("ijl", 0.222), **dict.fromkeys("ft!I .,:;|'", 0.278), **dict.fromkeys("r()[]-", 0.333),
       **dict.fromkeys("mMw", 0.833), "W": 0.944}


def text_width(text: str, size: float, bold: bool = False) -> float:
    """About how wide ``text`` is in Arial at ``size`` points (a CJK character 1 em), for sizing a
    cell before Graphviz measures it.

    >>> round(text_width("value", 10)), round(text_width("价格", 10))
    (24, 20)
    """
    import unicodedata
    em = 0.0
    for char in text:
        if char in _EM:
            em += _EM[char]
        elif char < "\x80":
            em += 0.667 if char.isupper() else 0.556 if char.isalnum() else 0.584
        else:
            em += 1.0 if unicodedata.east_asian_width(char) in "WF" else 0.6
    return em * size * (1.08 if bold else 1.0)


@dataclass(frozen=True)
class FigureOptions:
    edge_labels: str = "auto"
    rankdir: str = "AUTO"       # AUTO: LR for scalar graphs, TB for matrix graphs (cards stack down a page)
    digits: int = 4
    theme: str = "light"
    highlight: Optional[str] = None
    legend: bool = True
    max_cells: int = 4          # matrix mode: grids up to this many rows and columns
    lang: str = "en"            # the legend's and the row captions' language (FIGURE_WORDS)

    @classmethod
    def make(cls, **settings) -> "FigureOptions":
        """Build options, rejecting unknown keys and values."""
        opts = make_settings(cls, settings, "figure option(s)")
        for name, allowed in (("edge_labels", EDGE_LABELS), ("rankdir", RANKDIRS + ("AUTO",)), ("theme", THEMES),
                              ("lang", tuple(FIGURE_WORDS))):
            value = getattr(opts, name)
            if value not in allowed:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
        return opts


def num(value, digits: int) -> str:
    """A number for a figure: a typographic minus, scientific notation as 5.93×10⁻⁶."""
    return fmt_uni(value, digits)


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
    """The SVG figure as a vector PDF, by cairosvg with fallback fonts (LaTeX includes it at any
    size); bpviz.write.draw_svg."""
    return _graphviz(job, "pdf")


def pdf_missing() -> Optional[str]:
    """Why a PDF cannot be drawn here, or None (bpviz.write.cairo_missing)."""
    from ..write import cairo_missing
    missing = cairo_missing()
    return f"PDF needs cairosvg and the cairo library (pip install cairosvg; Debian: libcairo2): {missing}" \
        if missing else None


FIGURE_NODES = 400          # figures above this many nodes are drawn only with --large
TIMEOUT, LARGE_TIMEOUT = 60.0, 3600.0   # seconds the renderer may take


def too_large(graph: Graph) -> bool:
    return len(graph.nodes) > FIGURE_NODES


def is_network(graph: Graph) -> bool:
    """A graph built from a network spec (scalar, grouped or matrix view)."""
    return graph.spec is not None and graph.spec.values_key == "inputs"


def auto_rankdir(graph: Graph) -> str:
    """``--rankdir auto``: top to bottom for matrix programs and networks (cards stack down a page,
    units of a layer side by side), left to right for expression programs and graph specs."""
    return "TB" if graph.matrix or is_network(graph) else "LR"


@dataclass(frozen=True)
class FigureLayout:
    """How a figure was laid out, and whether bpviz chose it (``*_auto``) or the reader did: what a
    note says about its figure, and what the size warning suggests."""
    rankdir: str                    # "LR", "TB", ...
    rankdir_auto: bool
    edge_labels: str                # what the edges show: "none", "symbolic", "numeric", "both"
    edge_labels_auto: bool
    grouped: bool = False           # one card per neuron (--group neurons)
    grouped_auto: bool = False      # ... because the network has more than NETWORK_GROUP_NODES nodes
    compact: bool = False           # neuron cards without their weights (more than NETWORK_LABEL_EDGES edges)
    nodes: int = 0                  # cards drawn
    edges: int = 0                  # edges drawn

    def flags(self) -> list:
        """The command-line options that draw this figure, e.g. ``['--group neurons', '--rankdir TB',
        '--edge-labels none']``."""
        return ((["--group neurons"] if self.grouped else [])
                + [f"--rankdir {self.rankdir}", f"--edge-labels {self.edge_labels}"])


def figure_layout(graph: Graph, options: Optional[FigureOptions] = None, grouped_auto: bool = False) -> FigureLayout:
    return _Figure(graph, options or FigureOptions()).layout(grouped_auto)


def figure_pixels(data, fmt: str, dpi: int = 144) -> Optional[tuple]:
    """A rendered figure's width and height in pixels (an SVG or PDF at ``dpi``, as its PNG would be)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if fmt == "png" and data[:8] == b"\x89PNG\r\n\x1a\n":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    found = (re.search(rb'<svg[^>]*?width="([\d.]+)pt"[^>]*?height="([\d.]+)pt"', data[:4000]) if fmt == "svg" else
             re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data) if fmt == "pdf" else None)
    if not found:
        return None
    return round(float(found.group(1)) * dpi / 72), round(float(found.group(2)) * dpi / 72)


def size_warning(layout: FigureLayout, pixels: Optional[tuple], network: bool) -> Optional[str]:
    """One line when a figure will not read at page width (wider or taller than LARGE_FIGURE_PX) or
    its layout is slow (more than FAST_LAYOUT_NODES cards), with the options that shrink it."""
    big = pixels is not None and max(pixels) > LARGE_FIGURE_PX
    slow = layout.nodes > FAST_LAYOUT_NODES
    if not (big or slow):
        return None
    tips = ((["--group neurons"] if network and not layout.grouped else [])
            + (["--rankdir TB"] if layout.rankdir in ("LR", "RL") else [])
            + (["--edge-labels none"] if layout.edge_labels != "none" else []))
    what = (f"the figure is {pixels[0]:,}×{pixels[1]:,} px, too large to read at page width" if big else
            f"the figure has {layout.nodes:,} nodes and {layout.edges:,} edges, slow to lay out")
    if big and slow:
        what += f" ({layout.nodes:,} nodes, slow to lay out)"
    return what + (f": try {', '.join(tips[:-1])}{' or ' if len(tips) > 1 else ''}{tips[-1]}" if tips else "")


def _ranks(graph: Graph, drawn: set) -> list:
    """The rank dot will most likely give each drawn node: one past its deepest operand, and a
    leaf one before its first consumer (dot pulls leaves next to their use)."""
    rank = [0] * len(graph.nodes)
    for node in graph.nodes:
        operands = [rank[i] for i in node.inputs if i in drawn]
        rank[node.index] = 1 + max(operands) if operands else 0
    for node in graph.nodes:
        if node.index in drawn and not any(i in drawn for i in node.inputs):
            uses = [rank[d] for d, slot in graph.consumers[node.index] if d in drawn]
            if uses:
                rank[node.index] = min(uses) - 1
    return rank


def _order_key(node: Node, params: set) -> Optional[tuple]:
    """Where a network's node goes in its rank: data inputs, then units by index, then biases;
    None for the rest (dot places them)."""
    indexed = _INDEXED.match(node.name)
    if node.kind == "input" and node.name not in params:
        return (0, node.index)
    if node.kind == "op" and indexed and indexed.group(1).endswith((".z", ".a")):
        return (1, indexed.group(1), int(indexed.group(2)))
    if node.name in params and (indexed.group(1) if indexed else node.name).endswith(".b"):
        return (2, node.index)
    return None


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
                           timeout=LARGE_TIMEOUT if options.large else TIMEOUT, on_cap=job.warn)


class _Figure:
    def __init__(self, graph: Graph, options: FigureOptions):
        self.g, self.o = graph, options
        self.network = is_network(graph)
        self.rankdir = auto_rankdir(graph) if options.rankdir == "AUTO" else options.rankdir
        self.p = PALETTES[options.theme]
        self.folded = self._folded()
        edges = sum(1 for src, dst, slot in graph.edges() if src not in self.folded)
        mode = options.edge_labels
        if mode == "auto":
            mode = "both" if edges <= AUTO_BOTH_LIMIT else ("numeric" if edges <= AUTO_NONE_LIMIT else "none")
            if self.network and edges > NETWORK_LABEL_EDGES:
                mode = "none"
        self.edge_mode = mode
        # --group neurons on a larger network: edges into neurons carry no labels under "auto"
        self.quiet_neurons = bool(self.folded) and options.edge_labels == "auto" and edges > AUTO_BOTH_LIMIT
        # ... and above NETWORK_LABEL_EDGES its cards show each neuron's value and gradient only
        self.compact = self.quiet_neurons and edges > NETWORK_LABEL_EDGES
        self.edges = edges
        self.on_path = self._highlighted() if options.highlight else None

    def layout(self, grouped_auto: bool = False) -> FigureLayout:
        return FigureLayout(rankdir=self.rankdir, rankdir_auto=self.o.rankdir == "AUTO",
                            edge_labels=self.edge_mode, edge_labels_auto=self.o.edge_labels == "auto",
                            grouped=any(n.op is not None and n.op.neuron for n in self.g.nodes),
                            grouped_auto=grouped_auto, compact=self.compact,
                            nodes=len(self.g.nodes) - len(self.folded), edges=self.edges)

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
        across = rankdir in ("LR", "RL")
        # a labelled edge is two hops (tail — label → head), so each hop gets less room
        ranksep = ("0.55" if across else "0.45") if self.edge_mode == "none" else ("0.25" if across else "0.2")
        dot.attr(rankdir=rankdir, bgcolor=p["bg"], fontname=FONT, fontcolor=p["text"],
                 nodesep="0.25" if self.network else "0.35", ranksep=ranksep, pad="0.25", newrank="true")
        large = too_large(g)
        if large:
            dot.attr(**LARGE_LAYOUT)
        elif len(g.nodes) > FAST_LAYOUT_NODES:
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
        main = self._main_path()
        used: dict = {}
        rank = _ranks(g, set(range(len(g.nodes)))) if large else None
        for src, dst, slot in g.edges():
            if src in self.folded:
                continue
            style = self.edge_style(src, dst, slot)
            tail, head = g.nodes[src].id, g.nodes[dst].id
            if large:
                # a use far from the first: a reference card beside it
                if src in used and rank[dst] - used[src] > (REF_SPAN if g.nodes[src].inputs else LEAF_SPAN):
                    ref = f"{tail}_r{dst}_{slot}"
                    dot.node(ref, html(g.nodes[src].name), shape="box", style="rounded,dashed",
                             fontsize="11", margin="0.03,0.01", **self._ref_style(g.nodes[src]))
                    tail = ref
                used.setdefault(src, rank[dst])
            weight = MAIN_PATH_WEIGHT if (src, dst) in main else 1
            label = style.pop("label", None)
            if label is None:
                dot.edge(tail, head, **style, **({"weight": str(weight)} if weight > 1 else {}))
                continue
            # the label as a node on its own edge, next to the head: tail — label → head. Graphviz's
            # edge labels sit beside their edge and were read as the neighbouring edge's
            stop = f"e{src}_{dst}_{slot}"
            # a margin around the text (shape=plain has none): system dot sizes it a little narrower
            # than the font draws it, and its edge ran into the label's first and last characters
            dot.node(stop, label, shape="none", width="0", height="0", margin=LABEL_MARGIN, style="solid",
                     fontsize="10", fontcolor=p["muted"])
            dot.edge(tail, stop, arrowhead="none", **style, **({"weight": str(weight)} if weight > 1 else {}))
            dot.edge(stop, head, **style, weight=str(max(weight, LABEL_HEAD_WEIGHT)))
        for chain in self._orders():    # one rank each, in this order: invisible edges
            with dot.subgraph() as same:
                same.attr(rank="same")
                for tail, head in zip(chain, chain[1:]):
                    same.edge(tail, head, style="invis")
        return dot.source

    def _main_path(self) -> set:
        """The edges of the output's longest path through drawn, non-constant nodes (ties: the first
        operand), weighted so that it runs straight: Ng's w → c → a → d → J reads in one row. The
        units of a network's layer are alike, so none is singled out (its matrix view has one chain)."""
        g = self.g
        if self.network and not g.matrix:
            return set()
        drawn = lambda i: i not in self.folded and g.nodes[i].kind != "const"  # noqa: E731
        depth = [0] * len(g.nodes)
        for node in g.nodes:
            depth[node.index] = 1 + max((depth[i] for i in node.inputs if drawn(i)), default=-1)
        path, at = set(), g.output
        while True:
            operands = [i for i in g.nodes[at].inputs if drawn(i)]
            if not operands:
                return path
            best = max(depth[i] for i in operands)
            nxt = next(i for i in operands if depth[i] == best)
            path.add((nxt, at))
            at = nxt

    def _orders(self) -> list:
        """Chains of node ids to keep in one rank, in this order: a network's inputs (then the
        first layer's shared bias), each layer's units by index, each later shared bias after the
        units that feed its layer (in the matrix view, after the product it is added to). Ranks are
        forced only for these: elsewhere dot's own ordering reads better (``ordering=in`` on every
        operand widened the matrix examples by half)."""
        g = self.g
        if not self.network:
            return []
        drawn = {n.index for n in g.nodes if n.index not in self.folded}
        rank = _ranks(g, drawn)
        params = set(g.params)
        keys = {n.index: _order_key(n, params) for n in g.nodes if n.index in drawn}
        keys = {i: key for i, key in keys.items() if key is not None}
        for i, key in list(keys.items()):
            if key[0] == 2:     # a bias goes after what its units add it to (h.W·x in the matrix view)
                for dst, slot in g.consumers[i]:
                    for j in g.nodes[dst].inputs:
                        if j in drawn and j not in keys and rank[j] == rank[i]:
                            keys[j] = (1, "", j)
        ranks: dict = {}
        for i, key in sorted(keys.items()):
            ranks.setdefault(rank[i], []).append((key, g.nodes[i].id))
        return [[node_id for key, node_id in sorted(items)] for r, items in sorted(ranks.items()) if len(items) > 1]

    def _ref_style(self, node: Node) -> dict:
        """A reference card's colours: its leaf's border, dimmed like it under --highlight."""
        style = self.node_style(node)
        return {k: v for k, v in style.items() if k == "color"}

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
            if not self.compact:      # a large network's weights do not fit a page: JSON, table, note
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
        return [self._row(self._words()["value"], num(node.value, d), p["value"], p["value_bg"]),
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
        if self.compact:            # a large network's card: the kind of sum, not its terms
            return f"Σ w·x{' + b' if bias is not None else ''} ({len(pairs)} inputs)"
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

    def _number(self, number: str, color: str, size: int = 13) -> str:
        return f'<font point-size="{size}" color="{color}">{self._weight(html(number), color)}</font>'

    def _weight(self, markup: str, color: str) -> str:
        """Values regular, gradients (and what else is drawn in their colour) bold: the two rows
        differ in greyscale, not only in hue."""
        return markup if color == self.p["value"] else f"<b>{markup}</b>"

    def _cells(self, caption: str, content: str, bg: str) -> str:
        """A captioned row of a card; ``content`` is markup."""
        return (f'<tr><td align="left" bgcolor="{bg}"><font point-size="10" color="{self.p["muted"]}">'
                f'{html(caption)}</font></td><td align="right" bgcolor="{bg}" cellpadding="4">{content}</td></tr>')

    # -- arrays (matrix mode) -------------------------------------------------------------------
    def _array_rows(self, node: Node, caption: str) -> list:
        """An array's value and gradient rows: one table of bracketed grids sharing their columns
        (the two have the same shape) when they fit in max_cells, else a one-line summary each."""
        p = self.p
        blocks = ((self._words()["value"], node.value, p["value"], p["value_bg"]),
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
        return f'<font point-size="10" color="{color}">{self._weight(html(minus(summary(value, self.o.digits))), color)}</font>'

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
            cells = "".join(f'<td align="right"{fill}><font point-size="11" color="{color}">'
                            f'{self._weight(THIN + html(num(plain(v), d)) + THIN, color)}</font></td>'
                            for v in entries)
            if i == 0:
                cells = bracket % "L" + cells + bracket % "R" + f'<td rowspan="{h}" width="3"{fill}></td>'
            rows.append(f"<tr>{cells}</tr>")
        return rows + [f"<tr>{band}</tr>"]

    def edge_style(self, src: int, dst: int, slot: int) -> dict:
        g, p = self.g, self.p
        source, node = g.nodes[src], g.nodes[dst]
        style: dict = {}
        custom = g.is_custom(node, slot) and not g.matrix
        if custom:                  # a surrogate gradient: dashed (it reads in greyscale too), its own colour
            style.update(style="dashed", color=p["custom"], penwidth="1.6")
        if self.on_path is not None:
            if src in self.on_path and dst in self.on_path:
                style.update(color=p["highlight"], penwidth="2.6")
            else:
                style.update(color=p["dim"])
        if custom and (self.edge_mode == "none" or source.kind == "const"):
            style["label"] = html_label(f'<font color="{p["custom"]}">{html(self._words()["custom"])}</font>')
            return style
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
            if self.o.edge_labels == "auto" and len(line) > LONG_LABEL:    # σ(h.z[1])·(1 − σ(h.z[1]))
                line = f"{partial} = {numeric}"
        label = f'<font color="{p["muted"]}">{html(line)}</font>'
        if g.is_custom(node, slot):
            label = f'<font color="{p["custom"]}"><b>{html(self._words()["custom"])}</b></font><br/>' + label
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
        """The title (for specs) and the legend, above the graph: the two rows of a card as swatches
        of their tints (so the key reads in greyscale too), then what the edges show."""
        p = self.p
        lines = []
        if self.g.title:
            lines.append(f'<tr><td align="left"><font point-size="16"><b>{html(self.g.title)}</b></font></td></tr>')
        if self.o.legend:
            edges = self._edges_key() if self.edge_mode != "none" else ""
            # the widest line sets the heading's width, and Graphviz would spread the spare width of a
            # narrower swatch row over its swatches: the row is made the widest line
            custom = self._words()["custom_key"] if not self.g.matrix and any(n.custom for n in self.g.nodes) else ""
            widest = max(text_width(edges, 10) + 4, text_width(custom, 10) + 4,
                         text_width(self.g.title or "", 16, bold=True) + 4)
            lines.append(f'<tr><td align="left" cellpadding="0">{self._cards_key(1.1 * widest)}</td></tr>')
            if edges:
                lines.append(f'<tr><td align="left" cellpadding="2"><font point-size="10" color="{p["muted"]}">'
                             f'{html(edges)}</font></td></tr>')
            if custom:
                lines.append(f'<tr><td align="left" cellpadding="2"><font point-size="10" color="{p["custom"]}">'
                             f'{html(custom)}</font></td></tr>')
            lines.append('<tr><td cellpadding="4"> </td></tr>')
        if not lines:
            return ""
        return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="2">{"".join(lines)}</table>'

    def _words(self) -> dict:
        return FIGURE_WORDS[self.o.lang]

    def _cards_key(self, at_least: float = 0.0) -> str:
        """The row of swatches: ``value`` on the value row's tint, ``∂J/∂v`` on the gradient row's,
        each with its meaning; its last cell stretches the row to ``at_least`` points."""
        p, g, w = self.p, self.g, self._words()
        out = g.out.name
        if g.shapes_only:
            parts = [("", w["shapes_key"].format(out=out))]
        else:
            parts = [("value", w["value"]), ("", w["value_key"]), ("gap", ""), ("grad", f"∂{out}/∂v"),
                     ("", w["grad_key"].format(out=out))]
            if g.matrix and any(n.shape and not self._fits(n.value) for n in g.nodes):
                parts += [("gap", ""), ("", w["summary_key"].format(n=self.o.max_cells))]
        cells, used = [], 0.0
        for i, (kind, text) in enumerate(parts):
            if kind == "gap":
                cells.append('<td width="14"></td>')
                used += 14
            elif kind:
                cells.append(f'<td bgcolor="{p[kind + "_bg"]}" cellpadding="3">{self._number(text, p[kind], 10)}</td>')
                used += text_width(text, 10, bold=kind == "grad") + 6
            else:
                room = at_least - 0.9 * used if i == len(parts) - 1 else 0
                width = f' width="{room:.0f}"' if room > text_width(text, 10) + 4 else ""
                cells.append(f'<td align="left"{width}><font point-size="10" color="{p["muted"]}">{html(text)}</font></td>')
                used += text_width(text, 10) + 4
        return f'<table border="0" cellborder="0" cellspacing="0" cellpadding="2"><tr>{"".join(cells)}</tr></table>'

    def _edges_key(self) -> str:
        fans_out, w = self._fans_out(), self._words()
        if not self.g.matrix:
            tail, head = self._example_edge()
            return (w["edges_key"].format(tail=tail, head=head)
                    + (w["fan_key"] if fans_out else ""))
        shown = self.edge_mode != "symbolic" and not self.g.shapes_only
        fan_out = w["vjp_fan_key"] + (w["vjp_fan_shown"] if shown else "")
        return w["vjp_key"].format(out=self.g.out.name) + (fan_out if fans_out else "")

    def _example_edge(self) -> tuple:
        """The names at the ends of the first labelled edge, into the output when one is: the legend's
        example (``the edge d → J shows ∂J/∂d``)."""
        g = self.g
        labelled = [(src, dst) for src, dst, slot in g.edges()
                    if src not in self.folded and g.nodes[src].kind != "const"
                    and not (self.quiet_neurons and g.nodes[dst].op.neuron)]
        src, dst = next(((s, d) for s, d in labelled if d == g.output), labelled[0] if labelled else (0, g.output))
        return g.nodes[src].name, g.nodes[dst].name

    def _fans_out(self) -> bool:
        return any(len(c) > 1 for n, c in zip(self.g.nodes, self.g.consumers) if n.kind != "const")
