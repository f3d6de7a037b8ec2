"""The step-through printer: the backward pass as a sequence, in one self-contained HTML page
(``-o steps.html``) or as numbered frames (``--frames DIR``); docs/steps.md.

The figure is the DOT printer's SVG, drawn once: nodes never move, and each step only restyles
it. Steps, numbered from 1: one per operation in topological order (its value appears), the seed
(the output's gradient, 1), then one per edge in reverse topological order (upstream × local is
sent back; a node's gradient is complete when its last out-edge has reported, and at fan-out it
shows as the growing sum). ``plan`` works the sequence out once, as data; the page's script and
``frames`` read the same data, so the two show the same states.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

from ..errors import RenderError
from ..escape import html, html_attr, one_line, script_json
from ..numeric import fmt_uni
from .prose import prose

STEP_NODES = 300            # graphs above this many nodes get no step-through (one neuron card per unit: fewer)
PNG_FRAMES = 60             # PNG frames drawn without --large: each takes about a second (SVG frames: milliseconds)
PROGRAM_CHARS = 400         # the program shown above the figure, at most
FORMULA_CHARS = 100         # a forward step's formula with numbers, at most (a wide neuron's Σ w·x + b)
SPEEDS = ((2400, "0.5×"), (1200, "1×"), (600, "2×"), (300, "4×"))
DEFAULT_SPEED = 1200
FUTURE_OPACITY = "0.22"
_SPEC_NAME = re.compile(r"^([^\W\d]\w*\.)([^\W\d])(.*)$")     # h.z[1]: the bar goes on the z


# -- the sequence ---------------------------------------------------------------------------------

@dataclass
class Step:
    kind: str                   # "forward" | "seed" | "backward"
    active: int                 # the node whose number changes (a folded weight's neuron card)
    words: str
    math: str
    edge: Optional[int] = None  # backward: the edge's index in graph.edges() order
    src: Optional[int] = None   # backward: the node that receives the gradient (drawn or not)


@dataclass
class NodeTimeline:
    shown: int = 0              # the step its value appears (0: known from the start, a leaf)
    first: Optional[int] = None  # the step its gradient row starts to fill
    done: Optional[int] = None  # the step its gradient is complete
    grads: list = field(default_factory=list)   # scalars: [(step, text)], the gradient row as it grows


@dataclass
class Plan:
    steps: list
    nodes: list                 # NodeTimeline per node index
    edges: list                 # (src, dst, slot, shown, back) per edge, in graph.edges() order

    def node_state(self, i: int, s: int) -> str:
        n, step = self.nodes[i], self.steps[s - 1]
        if step.active == i:
            return "active"
        if n.shown > s:
            return "future"
        return "done" if n.done is not None and n.done <= s else "forward"

    def edge_state(self, k: int, s: int) -> str:
        src, dst, slot, shown, back = self.edges[k]
        step = self.steps[s - 1]
        if step.edge == k or (step.kind == "forward" and step.active == dst):
            return "active"
        if shown > s:
            return "future"
        return "done" if back <= s else "forward"

    def grad_text(self, i: int, s: int) -> Optional[str]:
        text = None
        for at, t in self.nodes[i].grads:
            if at <= s:
                text = t
        return text


def _scalar(value) -> bool:
    return isinstance(value, (Fraction, float, int))


def _bar(name: str, out: str) -> str:
    """v̄ in Unicode: the bar on the first letter, on the variable of a spec name (``h.z̄[1]``); a
    constant's gradient is ∂J/∂2 (a bar on a digit reads as part of the number), and so is a Chinese
    name's (no font draws a bar over 价)."""
    if not name[:1].isalpha() or ord(name[0]) >= 0x2000:
        return f"∂{out}/∂{name}"
    spec = _SPEC_NAME.match(name)
    if spec:
        return spec.group(1) + spec.group(2) + "\u0304" + spec.group(3)
    return name[:1] + "\u0304" + name[1:]


def _sum_text(parts: list, total: Optional[str]) -> str:
    """A growing sum of shares, ``3 + …``, then ``3 + 2 = 5``; above four shares only the total."""
    if len(parts) > 4 and total is not None:
        return f"Σ {total}"
    shown = parts if len(parts) <= 4 else parts[:1] + ["…"] + parts[-1:]
    terms = shown[0] + "".join(f" − {t[1:]}" if t.startswith("−") else f" + {t}" for t in shown[1:])
    return f"{terms} = {total}" if total is not None else f"{terms} + …"


def plan(graph, digits: int = 4, lang: str = "en") -> Plan:
    """The steps of ``graph`` (evaluated) and, per node and edge, when what appears."""
    from ..tensor import plain
    t = prose(lang)
    nodes, out = graph.nodes, graph.out
    num = lambda v: fmt_uni(plain(v), digits)                                   # noqa: E731
    operand = lambda text: f"({text})" if text.startswith("−") or "×" in text else text   # noqa: E731
    timeline = [NodeTimeline() for _ in nodes]
    steps: list = []
    # forward: every operation in topological order
    for node in nodes:
        if node.kind != "op":
            continue
        steps.append(Step("forward", node.index, _forward_words(graph, node, t), _forward_math(graph, node, num)))
        timeline[node.index].shown = len(steps)
    # the seed
    steps.append(Step("seed", graph.output, t("steps_do_seed", output=out.name),
                      f"{_bar(out.name, out.name)} = ∂{out.name}/∂{out.name} = 1"))
    seed = timeline[graph.output]
    seed.first = seed.done = len(steps)
    seed.grads.append((len(steps), num(out.grad)))
    # backward: every edge in reverse topological order
    index = {edge: k for k, edge in enumerate(graph.edges())}
    folded = _folded(graph)
    shares: dict = {}                       # src -> ([share texts], running sum)
    for node in reversed(nodes):
        for slot, src in enumerate(node.inputs):
            source = nodes[src]
            uses = len(graph.consumers[src])
            parts, running = shares.setdefault(src, ([], 0))
            contribution = plain(graph.contribution(node.index, slot))
            k = len(parts) + 1
            scalar = _scalar(contribution) and _scalar(source.grad)
            if scalar:
                running = running + contribution
                parts.append(num(contribution))
                shares[src] = (parts, running)
            else:
                parts.append("")
            last = k == uses
            words = (t("steps_do_edge", head=node.name, tail=source.name) if uses == 1 else
                     t("steps_do_last" if last else "steps_do_share", head=node.name, tail=source.name,
                       k=k, n=uses))
            verb = "=" if uses == 1 else "+="
            if not graph.matrix and graph.is_custom(node, slot):     # a surrogate gradient says so
                words += " " + t("steps_custom", rule=graph.local_formula(node, slot, "uni"))
            if scalar and not graph.matrix:
                math = (f"{_bar(source.name, out.name)} {verb} {_bar(node.name, out.name)} · "
                        f"∂{node.name}/∂{source.name} = "
                        f"{operand(num(node.grad))} · {operand(num(node.local[slot]))} = {num(contribution)}")
            else:
                math = f"{_bar(source.name, out.name)} {verb} {graph.local_formula(node, slot, 'uni')}"
                if scalar:
                    math += f" = {num(contribution)}"
            line = timeline[src]
            step = len(steps) + 1
            if scalar:
                text = num(source.grad) if uses == 1 else _sum_text(parts, num(source.grad) if last else None)
                line.grads.append((step, text))
                if uses > 1:
                    math += f" ⇒ {_bar(source.name, out.name)} = {text}"
            line.first = line.first or step
            if last:
                line.done = step
            steps.append(Step("backward", node.index if src in folded else src, words, math,
                              edge=index[(src, node.index, slot)], src=src))
    edges = [(src, dst, slot, timeline[dst].shown, 0) for src, dst, slot in graph.edges()]
    for step_no, step in enumerate(steps, 1):
        if step.edge is not None:
            src, dst, slot, shown, _ = edges[step.edge]
            edges[step.edge] = (src, dst, slot, shown, step_no)
    return Plan(steps, timeline, edges)


def _forward_words(graph, node, t) -> str:
    names: list = []
    for i in node.inputs:
        if graph.nodes[i].name not in names:
            names.append(graph.nodes[i].name)
    return t("steps_do_forward", node=node.name, inputs=t("list_sep").join(names))


def _forward_math(graph, node, num) -> str:
    """``c = w·x = 2 · (−2) = −4``: the definition, with numbers, and the value."""
    from ..tensor import plain
    from .dot import shape_label
    head = f"{node.name} = {graph.formula(node, 'uni')}"
    value = plain(node.value)
    if not _scalar(value):
        return f"{head}  ∈ {shape_label(node.shape)}"
    operands = [plain(graph.nodes[i].value) for i in node.inputs]
    if all(_scalar(v) for v in operands):
        ascii_numbers = node.op.formula("uni", [_ascii(v, num) for v in operands], node.param)
        numbers = re.sub(r"(?<![\w.])-?[0-9][0-9.]*(?:e[+-][0-9]+)?", lambda m: num(Fraction(m.group())),
                         ascii_numbers)
        numbers = re.sub(r"\s*·\s*", " · ", numbers)          # 2 · (−2): numbers side by side need room
        if len(numbers) <= FORMULA_CHARS and numbers != num(value):
            head += f" = {numbers}"
    return f"{head} = {num(value)}"


def _ascii(value, num) -> str:
    """A number as ASCII program text (``-2``, ``1.5e-07``), so the op's template parenthesises a
    negative operand; typeset again afterwards."""
    text = num(value).replace("−", "-")
    if "×10" in text:
        mantissa, exponent = text.split("×10")
        text = f"{mantissa}e{exponent.translate(_FROM_SUPERSCRIPT)}"
    return text


_FROM_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")


def _folded(graph) -> set:
    from .dot import FigureOptions, _Figure
    return _Figure(graph, FigureOptions()).folded


def _check_size(graph) -> None:
    if graph.shapes_only:
        raise RenderError("a step-through shows numbers, and --shape gives shapes only: give values "
                          "with --at or --values")
    if len(graph.nodes) > STEP_NODES:
        raise RenderError(f"the graph has {len(graph.nodes):,} nodes, more than the {STEP_NODES} a "
                          f"step-through shows: use --group neurons for a network (one card per neuron, "
                          f"stepped one card at a time) or a smaller program")


# -- the figure, marked up ------------------------------------------------------------------------

_GROUP = re.compile(r'<g id="([^"]*)" class="(node|edge)">\n<title>([^<]*)</title>(.*?)</g>', re.S)
_TEXT = re.compile(r'<text ([^>]*)>([^<]*)</text>')
_LABEL = re.compile(r"^e(\d+)_(\d+)_(\d+)$")
_NODE = re.compile(r"^n(\d+)$")


def _figure_svg(job) -> str:
    from .dot import print_svg
    return print_svg(job)


def mark_up(svg: str, graph, figure_options) -> str:
    """The SVG with what the steps restyle marked: node cards ``data-node``/``data-name``, edges
    and their labels ``data-edge``, number texts ``class`` v (value) or g (gradient) with the node
    they belong to (``data-of``; a neuron card also holds its weights' rows), labels' texts l
    (local derivative) or c (contribution)."""
    from .dot import PALETTES, _Figure
    palette = PALETTES[figure_options.theme]
    figure = _Figure(graph, figure_options)
    folded, compact = figure.folded, figure.compact
    index = {edge: k for k, edge in enumerate(graph.edges())}
    taken: set = set()

    def edge_of(tail: str, head: str) -> Optional[int]:
        for end in (tail, head):
            label = _LABEL.match(end)
            if label:
                return index.get(tuple(int(x) for x in label.groups()))
        a, b = _NODE.match(tail), _NODE.match(head)
        if not (a and b):
            return None
        src, dst = int(a.group(1)), int(b.group(1))
        for slot, i in enumerate(graph.nodes[dst].inputs):
            k = index.get((src, dst, slot))
            if i == src and k not in taken:
                taken.add(k)
                return k
        return None

    def texts(body: str, classify) -> str:
        counters: dict = {}

        def one(m):
            attrs, content = m.group(1), m.group(2)
            fill = re.search(r'fill="([^"]*)"', attrs)
            kind = classify(fill.group(1).lower() if fill else "")
            if kind is None:
                return m.group(0)
            n = counters[kind] = counters.get(kind, 0) + 1
            return f'<text class="{kind}" data-n="{n}" {attrs}>{content}</text>'
        return _TEXT.sub(one, body)

    def group(m):
        gid, kind, title, body = m.groups()
        name = _html.unescape(title)
        if kind == "node":
            node = _NODE.match(name)
            if node:
                i = int(node.group(1))
                body = texts(body, lambda fill: "v" if fill == palette["value"] else
                             "g" if fill == palette["grad"] else None)
                body = _owners(body, graph, i, folded, compact)
                return (f'<g id="{gid}" class="node" data-node="{i}" data-name="{html_attr(graph.nodes[i].name)}">'
                        f'\n<title>{title}</title>{body}</g>')
            label = _LABEL.match(name)
            if label:
                k = index.get(tuple(int(x) for x in label.groups()))
                body = texts(body, lambda fill: "c" if fill == palette["grad"] else "l")
                return f'<g id="{gid}" class="node label" data-edge="{k}">\n<title>{title}</title>{body}</g>'
            return m.group(0)
        tail, _, head = name.partition("->")
        k = edge_of(tail, head)
        attr = f' data-edge="{k}"' if k is not None else ""
        return f'<g id="{gid}" class="edge"{attr}>\n<title>{title}</title>{body}</g>'

    return _GROUP.sub(group, svg)


def _owners(body: str, graph, i: int, folded: set, compact: bool) -> str:
    """``data-of`` on a card's number texts: a neuron card's rows are its folded weights' (in operand
    order), then its own; every other card's are its own. A scalar's one gradient text is ``data-sum``:
    the page writes the growing sum into it."""
    node = graph.nodes[i]
    params = [p for p in node.inputs if p in folded] if node.op is not None and node.op.neuron and not compact else []
    counts = {k: len(re.findall(f'<text class="{k}" ', body)) for k in ("v", "g")}
    rows = {k: params if counts[k] == len(params) + 1 else [] for k in counts}     # the weights' rows, if drawn

    def one(m):
        kind, n = m.group(1), int(m.group(2))
        owner = rows[kind][n - 1] if n <= len(rows[kind]) else i
        summed = (kind == "g" and not (graph.matrix and graph.nodes[owner].shape)
                  and (owner != i or counts["g"] - len(rows["g"]) == 1))
        sum_attr = ' data-sum=""' if summed else ""
        return f'<text class="{kind}" data-of="{owner}"{sum_attr} '
    return re.sub(r'<text class="([vg])" data-n="(\d+)" ', one, body)


def _bare(svg: str) -> str:
    """The SVG element alone: no XML declaration, doctype or comments (inline in HTML)."""
    start = svg.index("<svg")
    return re.sub(r"<!--.*?-->\n?", "", svg[start:], flags=re.S).strip()


# -- the page -------------------------------------------------------------------------------------

def print_html(job) -> str:
    """One self-contained page: the figure inline, the steps as JSON, controls in plain JavaScript."""
    graph, options = job.graph, job.options
    _check_size(graph)
    figure_options = options.figure_options()
    steps = plan(graph, options.digits, options.lang)
    svg = _bare(mark_up(_figure_svg(job), graph, figure_options))
    size = re.match(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    natural = float(size.group(1)) * 4 / 3 if size else 1200.0
    svg = re.sub(r'^<svg width="[\d.]+pt" height="[\d.]+pt"', '<svg class="figure-svg" role="img"', svg)
    return _page(graph, options, steps, svg, natural)


def _data(graph, steps: Plan) -> dict:
    return {"steps": [[s.kind, s.active, s.edge, s.src, s.words, s.math] for s in steps.steps],
            "nodes": [[n.shown, n.first, n.done, [[a, t] for a, t in n.grads]] for n in steps.nodes],
            "edges": [[src, dst, shown, back] for src, dst, slot, shown, back in steps.edges]}


def _page(graph, options, steps: Plan, svg: str, natural: float) -> str:
    from .dot import PALETTES
    t, p, lang, e = prose(options.lang), PALETTES[options.theme], options.lang, html_attr
    title = one_line(graph.title) if graph.title else t("steps_title", output=graph.out.name)
    program = "" if graph.spec is not None else one_line(graph.source)
    if len(program) > PROGRAM_CHARS:
        program = program[:PROGRAM_CHARS] + "…"
    words = {key: t(f"steps_{key}") for key in ("forward", "seed", "backward", "play", "pause")}
    counter = (e(t("steps_counter", n="\x00", total="\x01")).replace("\x00", '<b class="now">1</b>')
               .replace("\x01", f"<b>{len(steps.steps)}</b>"))
    speeds = "".join(f'<option value="{ms}"{" selected" if ms == DEFAULT_SPEED else ""}>{label}</option>'
                     for ms, label in SPEEDS)
    total = len(steps.steps)
    return f"""<!DOCTYPE html>
<html lang="{"zh-Hans" if lang == "zh" else "en"}" data-theme="{options.theme}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="bpviz">
<title>{e(title)}</title>
<style>{_css(p, natural)}</style>
</head>
<body data-step="1" data-total="{total}">
<header>
<h1>{e(title)}</h1>
{f'<p class="program"><code>{e(program)}</code></p>' if program else ""}
</header>
<section class="panel" aria-live="polite">
<div class="status"><span class="phase">{e(words["forward"])}</span>
<span class="counter">{counter}</span></div>
<p class="caption"><span class="words"></span><span class="math"></span></p>
<div class="controls">
<button type="button" data-go="first" title="{e(t("steps_first"))} (Home)" aria-label="{e(t("steps_first"))}">{_ICONS["first"]}</button>
<button type="button" data-go="prev" title="{e(t("steps_prev"))} (←)">{_ICONS["prev"]} {e(t("steps_prev"))}</button>
<button type="button" class="play" title="{e(t("steps_play"))} (Space)">{_ICONS["play"]} <span>{e(t("steps_play"))}</span></button>
<button type="button" data-go="next" title="{e(t("steps_next"))} (→)">{e(t("steps_next"))} {_ICONS["next"]}</button>
<button type="button" data-go="last" title="{e(t("steps_last"))} (End)" aria-label="{e(t("steps_last"))}">{_ICONS["last"]}</button>
<input type="range" class="slider" min="1" max="{total}" value="1" aria-label="{e(t("steps_slider"))}">
<label class="speed">{e(t("steps_speed"))} <select>{speeds}</select></label>
</div>
<p class="keys">{e(t("steps_keys"))}</p>
</section>
<main class="figure">
{svg}
</main>
<script type="application/json" id="bpviz-steps">{script_json({"words": words, "icons": _ICONS, **_data(graph, steps)})}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _icon(shapes: str) -> str:
    return f'<svg viewBox="0 0 12 12" aria-hidden="true">{shapes}</svg>'


# drawn, not font glyphs: ⏮ ⏭ ⏸ are missing from many fonts
_ICONS = {"first": _icon('<rect x="1" y="1" width="2" height="10"/><path d="M11 1v10L4 6z"/>'),
          "prev": _icon('<path d="M10 1v10L2 6z"/>'), "next": _icon('<path d="M2 1v10l8-5z"/>'),
          "last": _icon('<rect x="9" y="1" width="2" height="10"/><path d="M1 1v10l7-5z"/>'),
          "play": _icon('<path d="M2 1v10l9-5z"/>'),
          "pause": _icon('<rect x="2" y="1" width="3" height="10"/><rect x="7" y="1" width="3" height="10"/>')}


def _css(p: dict, natural: float) -> str:
    return f"""
:root {{ color-scheme: {"dark" if p["bg"] != "#ffffff" else "light"}; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: {p["bg"]}; color: {p["text"]};
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", Arial, sans-serif; }}
header {{ padding: 14px 24px 4px; }}
h1 {{ font-size: 19px; margin: 0 0 4px; font-weight: 600; }}
.program {{ margin: 0; color: {p["muted"]}; overflow-wrap: anywhere; }}
.program code {{ font: 14px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }}
.panel {{ position: sticky; top: 0; z-index: 1; margin: 10px 24px 0; padding: 10px 16px 8px;
  border: 1px solid {p["dim"]}; border-radius: 8px; background: {p["fill"]}; box-shadow: 0 2px 8px {p["bg"]}; }}
.controls svg {{ width: 12px; height: 12px; fill: currentColor; vertical-align: -1px; }}
.status {{ display: flex; gap: 14px; align-items: baseline; font-size: 13px; color: {p["muted"]}; }}
.phase {{ font-weight: 600; text-transform: uppercase; letter-spacing: .04em; color: {p["value"]}; }}
body[data-phase="backward"] .phase, body[data-phase="seed"] .phase {{ color: {p["grad"]}; }}
.caption {{ margin: 4px 0 8px; min-height: 3.1em; }}
.caption .words {{ display: block; }}
.caption .math {{ display: block; margin-top: 2px; font: 19px/1.35 "STIX Two Math", "Cambria Math",
  "DejaVu Serif", "Noto Serif", "Noto Serif CJK SC", serif; overflow-wrap: anywhere; }}
.controls {{ display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }}
.controls button, .controls select {{ font: inherit; font-size: 14px; color: {p["text"]}; background: {p["header"]};
  border: 1px solid {p["border"]}; border-radius: 6px; padding: 4px 11px; cursor: pointer; }}
.controls button:hover {{ border-color: {p["highlight"]}; }}
.controls button:focus-visible, .slider:focus-visible, select:focus-visible {{
  outline: 2px solid {p["highlight"]}; outline-offset: 1px; }}
.controls button.play {{ min-width: 6.5em; }}
.slider {{ flex: 1 1 180px; accent-color: {p["highlight"]}; }}
.speed {{ font-size: 13px; color: {p["muted"]}; }}
.keys {{ margin: 6px 0 0; font-size: 12px; color: {p["muted"]}; }}
.figure {{ padding: 12px 24px 24px; }}
.figure-svg {{ display: block; margin: 0 auto; width: 100%; height: auto; max-width: {natural:.0f}px; }}
.figure-svg [data-state] {{ transition: opacity .25s; }}
.figure-svg g[data-state="future"] {{ opacity: {FUTURE_OPACITY}; filter: grayscale(1); }}
.figure-svg g[data-node][data-state="active"] {{ filter: drop-shadow(0 0 5px {p["highlight"]}); }}
.figure-svg g[data-node][data-state="active"] > path:first-of-type {{ stroke: {p["highlight"]}; stroke-width: 3.5px; }}
.figure-svg g.edge[data-state="active"] path {{ stroke: {p["highlight"]}; stroke-width: 3px; }}
.figure-svg g.edge[data-state="active"] polygon {{ stroke: {p["highlight"]}; fill: {p["highlight"]}; }}
.figure-svg g.edge[data-state="done"] path {{ stroke: {p["grad"]}; }}
.figure-svg g.edge[data-state="done"] polygon {{ stroke: {p["grad"]}; fill: {p["grad"]}; }}
.figure-svg g.label[data-state="active"] text {{ fill: {p["highlight"]}; font-weight: bold; }}
.figure-svg text.hot {{ fill: {p["highlight"]}; }}
@media (prefers-reduced-motion: reduce) {{ .figure-svg [data-state] {{ transition: none; }} }}
"""


_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("bpviz-steps").textContent);
  var steps = data.steps, nodes = data.nodes, edges = data.edges, total = steps.length;
  var body = document.body, svg = document.querySelector(".figure-svg");
  var cards = [], edgeEls = [], texts = [];
  svg.querySelectorAll("g[data-node]").forEach(function (g) { cards.push([+g.getAttribute("data-node"), g]); });
  svg.querySelectorAll("g[data-edge]").forEach(function (g) { edgeEls.push([+g.getAttribute("data-edge"), g]); });
  svg.querySelectorAll("text[data-of]").forEach(function (t) {
    if (t.hasAttribute("data-sum")) {        // right-aligned in its row, whatever the sum's length
      var box = t.getBBox();
      t.setAttribute("x", box.x + box.width);
      t.setAttribute("text-anchor", "end");
    }
    texts.push([+t.getAttribute("data-of"), t]);
  });
  var labelTexts = [];
  svg.querySelectorAll("g.label[data-edge] text").forEach(function (t) {
    labelTexts.push([+t.parentNode.getAttribute("data-edge"), t]);
  });
  var panel = document.querySelector(".panel"), caption = document.querySelector(".caption"),
      wordsEl = caption.querySelector(".words"),
      mathEl = caption.querySelector(".math"), now = document.querySelector(".counter .now"),
      phase = document.querySelector(".phase"), slider = document.querySelector(".slider"),
      playButton = document.querySelector(".play"), speed = document.querySelector(".speed select");
  var current = 1, timer = null, ICONS = data.icons;

  function nodeState(i, s) {
    var n = nodes[i], step = steps[s - 1];
    if (step[1] === i) return "active";
    if (n[0] > s) return "future";
    return n[2] !== null && n[2] <= s ? "done" : "forward";
  }
  function edgeState(k, s) {
    var e = edges[k], step = steps[s - 1];
    if (step[2] === k || (step[0] === "forward" && step[1] === e[1])) return "active";
    if (e[2] > s) return "future";
    return e[3] <= s ? "done" : "forward";
  }
  function gradText(i, s) {
    var text = null;
    nodes[i][3].forEach(function (g) { if (g[0] <= s) text = g[1]; });
    return text;
  }
  function show(el, visible) { el.style.visibility = visible ? "" : "hidden"; }

  function go(s) {
    s = Math.max(1, Math.min(total, Math.round(+s) || 1));
    current = s;
    var step = steps[s - 1];
    body.setAttribute("data-step", s);
    body.setAttribute("data-phase", step[0]);
    cards.forEach(function (c) { c[1].setAttribute("data-state", nodeState(c[0], s)); });
    edgeEls.forEach(function (e) {
      e[1].setAttribute("data-state", edgeState(e[0], s));
    });
    texts.forEach(function (pair) {
      var i = pair[0], t = pair[1], n = nodes[i];
      if (t.getAttribute("class").charAt(0) === "v") { show(t, n[0] <= s); return; }
      var started = n[1] !== null && n[1] <= s;
      show(t, started);
      if (started && t.hasAttribute("data-sum")) {
        var text = gradText(i, s);
        if (text !== null) t.textContent = text;
      }
      t.setAttribute("class", step[0] === "backward" && step[3] === i ? "g hot" : "g");
    });
    labelTexts.forEach(function (pair) {
      var e = edges[pair[0]], t = pair[1];
      if (!e) return;
      show(t, t.getAttribute("class") === "c" ? e[3] <= s : e[2] <= s);
    });
    phase.textContent = data.words[step[0]];
    wordsEl.textContent = step[4];
    mathEl.textContent = step[5];
    now.textContent = s;
    slider.value = s;
    try { history.replaceState(null, "", "#step=" + s); } catch (err) { /* a sandboxed frame */ }
    reveal(svg.querySelector('g[data-node][data-state="active"]'));
  }
  function reveal(card) {        // a tall figure scrolls: keep the active card below the controls
    if (!card) return;
    var r = card.getBoundingClientRect(), top = panel.getBoundingClientRect().bottom;
    if (r.top < top || r.bottom > window.innerHeight) {
      window.scrollBy(0, r.top + r.height / 2 - (top + window.innerHeight) / 2);
    }
  }
  function fromHash() {
    var m = /step=(-?\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) : 1;
  }
  function stop() {
    if (timer !== null) { clearInterval(timer); timer = null; }
    playButton.innerHTML = ICONS.play;
    playButton.appendChild(document.createTextNode(" " + data.words.play));
    body.removeAttribute("data-playing");
  }
  function play() {
    if (current >= total) go(1);
    playButton.innerHTML = ICONS.pause;
    playButton.appendChild(document.createTextNode(" " + data.words.pause));
    body.setAttribute("data-playing", "");
    timer = setInterval(function () { if (current >= total) stop(); else go(current + 1); }, +speed.value);
  }
  function toggle() { if (timer === null) play(); else stop(); }
  var moves = { first: function () { return 1; }, prev: function () { return current - 1; },
                next: function () { return current + 1; }, last: function () { return total; } };
  document.querySelectorAll("button[data-go]").forEach(function (b) {
    b.addEventListener("click", function () { stop(); go(moves[b.getAttribute("data-go")]()); });
  });
  playButton.addEventListener("click", toggle);
  speed.addEventListener("change", function () { if (timer !== null) { stop(); play(); } });
  slider.addEventListener("input", function () { stop(); go(slider.value); });
  document.addEventListener("keydown", function (ev) {
    var tag = ev.target && ev.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var keys = { ArrowRight: "next", ArrowLeft: "prev", Home: "first", End: "last" };
    if (keys[ev.key]) { stop(); go(moves[keys[ev.key]]()); ev.preventDefault(); }
    else if (ev.key === " " && tag !== "BUTTON") { toggle(); ev.preventDefault(); }
  });
  window.addEventListener("hashchange", function () { if (fromHash() !== current) go(fromHash()); });
  go(fromHash());
})();
"""


# -- frames ---------------------------------------------------------------------------------------

def frames(job, directory: str, fmt: str = "svg") -> list:
    """The same steps as standalone figures: ``[(DIR/step-01.svg, text), …]`` (PNG: bytes),
    numbered with as many digits as the last number; each frame carries its caption below."""
    import os
    graph, options = job.graph, job.options
    _check_size(graph)
    figure_options = options.figure_options()
    steps = plan(graph, options.digits, options.lang)
    svg = mark_up(_figure_svg(job), graph, figure_options)
    total = len(steps.steps)
    if fmt == "png" and total > PNG_FRAMES:
        if not options.large:
            raise RenderError(f"{total:,} PNG frames take about a second each to draw (at most {PNG_FRAMES} "
                              f"without --large): write SVG frames (--frames-format svg), or add --large")
        job.say(f"drawing {total:,} PNG frames")
    width = len(str(total))
    out = []
    for s in range(1, total + 1):
        frame = frame_svg(svg, steps, s, figure_options, options.lang)
        if fmt == "png":
            from ..write import draw_svg
            frame = draw_svg(frame.encode("utf-8"), "png", options.dpi, on_cap=job.warn)
        out.append((os.path.join(directory, f"step-{s:0{width}d}.{fmt}"), frame))
    return out


def frame_svg(svg: str, steps: Plan, s: int, figure_options, lang: str = "en") -> str:
    """The marked-up figure as it stands at step ``s``, with presentation attributes only (no CSS,
    no script: any SVG viewer and cairosvg draw it), and the step's caption in a band below."""
    from .dot import PALETTES, text_width
    p = PALETTES[figure_options.theme]
    hl = p["highlight"]

    def node_group(m):
        head, i, inner = m.group(1), int(m.group(2)), m.group(3)
        state = steps.node_state(i, s)
        if state == "future":
            head = head[:-1] + f' opacity="{FUTURE_OPACITY}">'
        if state == "active":
            inner = re.sub(r"<(?:path|polygon) [^>]*>", lambda tag: _restroke(tag.group(0), hl, "3.5"), inner, count=1)
        inner = re.sub(r'<text class="([vg])" data-of="(\d+)"( data-sum="")? ([^>]*)>([^<]*)</text>',
                       lambda t: _number_text(t, steps, s, hl), inner)
        return head + inner + "</g>"

    def edge_group(m):
        head, k, inner = m.group(1), int(m.group(2)), m.group(3)
        state = steps.edge_state(k, s)
        src, dst, slot, shown, back = steps.edges[k]
        label = 'class="node label"' in head
        if state == "future":
            head = head[:-1] + f' opacity="{FUTURE_OPACITY}">'
        colour = hl if state == "active" else p["grad"] if state == "done" and not label else None
        if colour:
            inner = re.sub(r'(<path [^>]*?)stroke="[^"]*"', rf'\1stroke="{colour}"', inner)
            inner = re.sub(r'(<polygon [^>]*?)fill="[^"]*" stroke="[^"]*"', rf'\1fill="{colour}" stroke="{colour}"',
                           inner)
            if state == "active" and not label:
                inner = re.sub(r'(<path [^>]*?)stroke-width="[^"]*"', r'\1stroke-width="3"', inner)
            if state == "active" and label:
                inner = re.sub(r'(<text [^>]*?)fill="[^"]*"', rf'\1fill="{hl}" font-weight="bold"', inner)
        hidden = {"l": shown > s, "c": back > s}
        inner = re.sub(r'<text class="([lc])"',
                       lambda t: t.group(0) + (' visibility="hidden"' if hidden[t.group(1)] else ""), inner)
        return head + inner + "</g>"

    svg = re.sub(r'(<g id="[^"]*" class="node" data-node="(\d+)"[^>]*>)(.*?)</g>', node_group, svg, flags=re.S)
    svg = re.sub(r'(<g id="[^"]*" class="(?:node label|edge)" data-edge="(\d+)">)(.*?)</g>', edge_group, svg,
                 flags=re.S)
    return _with_caption(svg, steps, s, p, lang, text_width)


def _restroke(tag: str, colour: str, width: str) -> str:
    """An SVG element's tag with its stroke colour and width set."""
    tag = re.sub(r' stroke(-width)?="[^"]*"', "", tag)
    return tag.replace(" ", f' stroke="{colour}" stroke-width="{width}" ', 1)


def _number_text(m, steps: Plan, s: int, hl: str) -> str:
    from .dot import text_width
    kind, i, summed, attrs, content = m.group(1), int(m.group(2)), m.group(3), m.group(4), m.group(5)
    n = steps.nodes[i]
    visible = n.shown <= s if kind == "v" else (n.first is not None and n.first <= s)
    if not visible:
        return f'<text class="{kind}" data-of="{i}" visibility="hidden" {attrs}>{content}</text>'
    if kind == "g" and summed:
        text = steps.grad_text(i, s)
        if text is not None:
            size = re.search(r'font-size="([\d.]+)"', attrs)
            x = re.search(r' x="([-\d.]+)"', attrs)
            if size and x:
                right = float(x.group(1)) + text_width(_html.unescape(content), float(size.group(1)),
                                                       bold="bold" in attrs)
                attrs = re.sub(r' x="[-\d.]+"', f' x="{right:.2f}"', attrs)
                attrs = attrs.replace('text-anchor="start"', 'text-anchor="end"')
            content = html(text)
        step = steps.steps[s - 1]
        if step.kind == "backward" and step.src == i:
            attrs = re.sub(r'fill="[^"]*"', f'fill="{hl}"', attrs)
    return f'<text class="{kind}" data-of="{i}" {attrs}>{content}</text>'


CAPTION_BAND = 52           # points below a frame's figure: the step, its words, its math


def _with_caption(svg: str, steps: Plan, s: int, p: dict, lang: str, text_width) -> str:
    t = prose(lang)
    step = steps.steps[s - 1]
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"\s+viewBox="([-\d. ]+)"', svg)
    if not size:
        return svg
    width, height = float(size.group(1)), float(size.group(2))
    top = f"{t('steps_counter', n=s, total=len(steps.steps))} · {t('steps_' + step.kind)}: {step.words}"
    need = max(text_width(top, 11), text_width(step.math, 14)) + 28
    new_w, new_h = max(width, need), height + CAPTION_BAND
    svg = svg.replace(size.group(0), f'<svg width="{new_w:.2f}pt" height="{new_h:.2f}pt"\n '
                                     f'viewBox="0.00 0.00 {new_w:.2f} {new_h:.2f}"', 1)
    open_end = svg.index(">", svg.index("<svg")) + 1
    background = f'\n<rect x="0" y="0" width="{new_w:.2f}" height="{new_h:.2f}" fill="{p["bg"]}"/>'
    svg = svg[:open_end] + background + svg[open_end:]
    band = (f'<g class="caption">\n<line x1="14" y1="{height + 4:.2f}" x2="{new_w - 14:.2f}" y2="{height + 4:.2f}" '
            f'stroke="{p["dim"]}"/>\n'
            f'<text x="14" y="{height + 21:.2f}" font-family="Arial" font-size="11" '
            f'fill="{p["muted"]}">{html(top)}</text>\n'
            f'<text x="14" y="{height + 42:.2f}" font-family="Arial" font-size="14" '
            f'fill="{p["text"]}">{html(step.math)}</text>\n</g>\n')
    end = svg.rindex("</svg>")
    return svg[:end] + band + svg[end:]
