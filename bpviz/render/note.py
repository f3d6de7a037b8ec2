"""The derivation a note tells, as data: every formula already LaTeX, every sentence already
in the reader's language. The Markdown and LaTeX printers only lay it out.

Notation, the same in every note (scalar, network and matrix form): ``\\bar{v}`` is the gradient of
the output with respect to a node v, accumulated over every path (the backward table's and the
chain rule's left-hand sides); ``\\frac{\\partial a}{\\partial b}`` is only ever a local derivative,
of a node with respect to one of its own inputs; ``\\delta`` is kept for the gradient at a layer's
pre-activation (``bpviz.render.network_note``). So no equation has the same gradient on both sides.

Nothing here computes: values and gradients come from the finished graph, sympy's closed forms
(``bpviz.check.closed_forms``) and the gradient step (``bpviz.autodiff.gradient_step``) are
computed by ``bpviz.api.note_for`` and handed in; this module only typesets them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import Optional

from .. import __version__
from ..check import CLOSED_FORM_NODES
from ..escape import GREEK_LETTERS, latex_name, tex_factor, tex_num
from ..graph import PATH_CAP, Graph, Node, gc_paused
from .prose import prose

PATH_LIMIT = 8              # paths listed per input; beyond, the one-step (backward) form
FACTOR_LIMIT = 48           # local derivatives written out per input; beyond, the one-step form
CLOSED_FORM_CHARS = 600     # longer closed forms are summarised, not printed
PARTIALS_PER_LINE = 5       # \frac{∂a}{∂b} factors per line of a derivation
NUMBERS_PER_LINE = 8
PARAMETERS_NAMED = 6        # the update's sentence names up to this many parameters
LEGEND_NAMES = 12           # names spelled differently in the figure and the note, listed at most


@dataclass
class Figure:
    """How the note shows the figure: a link (relative path or data URI), or why it is left out
    (a key of the prose table)."""
    link: Optional[str] = None
    reason: Optional[str] = None
    fields: dict = field(default_factory=dict)     # for the reason's sentence


@dataclass
class Block:
    """One displayed derivation: an optional heading, prose before it, aligned rows
    (``lhs &= rhs``, in matrix form ``&& check``), prose after it (a list)."""
    lines: list
    intro: Optional[str] = None
    notes: list = field(default_factory=list)
    heading: Optional[str] = None


@dataclass
class Section:
    """A section of blocks under its own heading (a network's δ form)."""
    heading: str
    intro: str
    blocks: list


@dataclass
class Derivation:
    """∂out/∂name by the chain rule: prose first, then aligned lines, then sympy's closed form."""
    name: str
    intro: str
    lines: list                          # rows of an align environment ("lhs &= …")
    closed: Optional[str] = None         # LaTeX: "\bar{w} = x(b + wx − y) = −4"
    closed_note: Optional[str] = None    # prose after the closed form
    closed_label: Optional[str] = None   # prose before it


@dataclass
class Note:
    lang: str
    title: str
    source: str
    source_lang: str
    values: list                          # [(tex name, tex value)]
    figure: Figure
    forward: list                         # [(node, definition, with numbers, value)]
    local: list                           # [(edge, derivative, symbolic, value)]
    backward: list                        # [(node, rule, with numbers, gradient)]
    fanout: list                          # prose, one per node with several consumers
    chain: list                           # [Derivation]
    chain_note: Optional[str] = None
    combined: Optional[tuple] = None      # (prose, aligned lines): softmax + cross-entropy
    update: Optional[dict] = None
    text: dict = field(default_factory=dict)   # headings and intros, already translated
    matrix: Optional[object] = None       # a matrix program's note (bpviz.render.matrix_note.MatrixNote)
    delta: Optional[Section] = None       # a network's derivation in δ form (bpviz.render.network_note)
    legend: list = field(default_factory=list)   # [("text" | "code", str)]: names in figure vs note
    conventions: list = field(default_factory=list)   # prose: custom gradients and kinks, after the local table


def partial(top: str, bottom: str) -> str:
    """A local derivative ∂top/∂bottom (``top`` uses ``bottom`` directly)."""
    return f"\\frac{{\\partial {top}}}{{\\partial {bottom}}}"


_BARRED = re.compile(r"^(\\[A-Za-z]+(?![A-Za-z{])|[A-Za-z])((?:[_^](?:\{(?:[^{}]|\{[^{}]*\})*\}|[A-Za-z0-9]))*)$")


@lru_cache(maxsize=65536)
def bar(tex: str) -> str:
    r"""The gradient of the output with respect to the node named ``tex`` (LaTeX): ``\bar{v}``, the
    bar on the letter and the indices after it; ``\overline{…}`` over a word.

    >>> bar("t_{1}"), bar("W^{(h)}_{2,1}"), bar("\\theta_{2}"), bar("n_{\\mathrm{apple}}")
    ('\\bar{t}_{1}', '\\bar{W}^{(h)}_{2,1}', '\\bar{\\theta}_{2}', '\\bar{n}_{\\mathrm{apple}}')
    >>> bar("\\mathrm{apple\\_price}")
    '\\overline{\\mathrm{apple\\_price}}'
    """
    found = _BARRED.match(tex)
    if found:
        return f"\\bar{{{found.group(1)}}}{found.group(2)}"
    return f"\\overline{{{tex}}}"


_SPELLED_GREEK = str.maketrans(GREEK_LETTERS)
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
_ASCII_NOT_ALNUM = str.maketrans(dict.fromkeys(c for c in map(chr, range(128)) if _NOT_ALNUM.match(c)))


def _plain(text: str) -> str:
    """A name and its LaTeX reduced to letters and digits, to tell when the two read alike."""
    if text.isascii():          # names and their LaTeX mostly are: no Greek to spell, a table to delete by
        return text.replace("\\mathrm", "").translate(_ASCII_NOT_ALNUM)
    return _NOT_ALNUM.sub("", text.translate(_SPELLED_GREEK).replace("\\mathrm", ""))


def _number_key(value):
    """The key under which a note typesets a number once: equal numbers of one type read alike.
    A Fraction goes by its numerator and denominator (hashing two ints is cheaper than hashing the
    Fraction); other numbers by type and value (1.0 and Fraction(1) are equal, yet a float and a
    Fraction need not print alike)."""
    if value.__class__ is Fraction:
        return value.numerator, value.denominator
    return value.__class__, value


class NoteBuilder:
    """Lays out the derivation of ∂output/∂name for each name of ``wrt``. ``closed`` holds sympy's
    closed forms by name (None: left out, for the reason ``closed_skipped``, a prose key and its
    fields); ``step`` is a gradient step or None."""

    def __init__(self, graph: Graph, wrt: list, closed: Optional[dict], step=None, lang: str = "en",
                 digits: int = 4, figure: Optional[Figure] = None, closed_skipped: Optional[tuple] = None):
        self.g, self.lang, self.digits = graph, lang, digits
        self.t = prose(lang)
        self.wrt, self.closed, self.step = wrt, closed, step
        self.closed_skipped = closed_skipped or ("closed_form_skipped", {"limit": CLOSED_FORM_NODES})
        self.figure = figure or Figure(reason="no_figure")
        self._numbers: dict = {}
        self.J = self.tex(graph.out)

    # -- small readers ------------------------------------------------------------------------
    @cached_property
    def _names(self) -> list:
        """Every node's name as LaTeX, by index: the tables write each name many times."""
        return [latex_name(node.name) for node in self.g.nodes]

    def tex(self, node: Node) -> str:
        return self._names[node.index]

    def bar(self, node: Node) -> str:
        return self._bars[node.index]

    def num(self, value) -> str:
        """A number typeset once per note: a big graph has few distinct numbers (an MLP's 20,000
        nodes about 200), each printed in several tables."""
        key = _number_key(value)
        text = self._numbers.get(key)
        if text is None:
            text = self._numbers[key] = tex_num(value, self.digits)
        return text

    def operand(self, value) -> str:
        return tex_factor(self.num(value))

    @cached_property
    def _values(self) -> list:
        """Every node's value typeset, by index (the forward table, its formulas, the inputs)."""
        return [self.num(node.value) for node in self.g.nodes]

    @cached_property
    def _operands(self) -> list:
        """Every node's value as the forward table's formulas write it, by index: scientific
        notation parenthesised (a negative number is the op's template's to wrap)."""
        return [f"({text})" if "\\times" in text else text for text in self._values]

    @cached_property
    def _grads(self) -> list:
        """Every node's gradient typeset, by index (the backward table and the chain rule)."""
        return [self.num(node.grad) for node in self.g.nodes]

    @cached_property
    def _locals(self) -> list:
        """Every node's local derivatives typeset, by index and slot (both tables, the chain rule)."""
        num = self.num
        return [tuple(map(num, node.local)) for node in self.g.nodes]

    def _value_of(self, node: Node) -> str:
        return self._operands[node.index]

    def listing(self, items) -> str:
        """Items of a list in the reader's language: ``a, b`` or ``a、b``."""
        return self.t("list_sep").join(items)

    # -- sections -----------------------------------------------------------------------------
    def build(self) -> Note:
        if self.g.matrix:
            return self.build_matrix()
        from .network_note import read_network
        g, t = self.g, self.t
        output = self.J
        network = read_network(g)
        text = {key: t(key) for key in ("program", "at", "forward", "forward_intro", "node",
                                        "definition", "with_numbers", "value", "local", "local_intro",
                                        "edge", "derivative", "symbolic", "backward", "gradient",
                                        "chain", "update", "parameter", "old", "new")}
        text.update(self._common_text())
        text["backward_intro"] = t("backward_intro", seed=f"${bar(output)} = 1$")
        text["chain_intro"] = t("chain_intro", output=f"${output}$")
        text["notation"] = self.notation(network is not None)
        text["figure_caption"] = self.figure_caption()
        text["output_tex"] = output
        text["grad_p"] = f"${bar('p')}$"
        delta, chain, chain_note, combined = None, [], None, self.combined()
        if network is not None:
            from .network_note import build_delta
            delta, covered = build_delta(self, network)
            combined = None                  # the δ form states the shortcut at the output layer
            rest = [name for name in self.wrt if name not in covered]
            if rest:
                chain, chain_note = self.chain(rest)
        else:
            chain, chain_note = self.chain(self.wrt)
        return Note(
            lang=self.lang, title=g.title or t("title", output=g.out.name), source=g.source.strip(),
            source_lang="yaml" if g.spec else "text",
            values=[(self.tex(n), self.num(n.value)) for n in g.inputs], figure=self.figure,
            forward=self.forward_rows(), local=self.local_rows(), backward=self.backward_rows(),
            fanout=self.fanout_notes(), chain=chain, chain_note=chain_note, combined=combined,
            update=self.update(), text=text, delta=delta, legend=self.legend(network),
            conventions=self.custom_notes() + self.kink_notes())

    def _common_text(self) -> dict:
        g, t = self.g, self.t
        return {"figure_alt": t("figure_alt", output=g.out.name),
                "generated": t("generated", version=__version__),
                "md_header": t("md_header"), "list_sep": t("list_sep"),
                "figure_left_out": t("figure_left_out", reason=t(self.figure.reason or "no_figure",
                                                                  **self.figure.fields))}

    def notation(self, network: bool) -> str:
        """The note's first lines: what a bar, a ∂ and (in a network) a δ mean."""
        t, J = self.t, self.J
        text = t("notation", bar=f"${bar('v')}$", output=f"${J}$", v="$v$", a="$a$", b="$b$",
                 partial=f"${partial('a', 'b')}$")
        if network:
            text += t("notation_delta", delta="$\\delta^{(l)}_{j}$", z="$z^{(l)}_{j}$")
        return text

    def _example_edge(self) -> Optional[tuple]:
        """An edge to name in the figure's caption: the first between two named nodes, else the first."""
        nodes, first = self.g.nodes, None
        for dst, _, src in self._edges():
            if nodes[src].named and nodes[dst].named:
                return src, dst
            first = first or (src, dst)
        return first

    def figure_caption(self) -> str:
        edge = self._example_edge()
        if edge is None:
            return self.t("figure_caption_plain", output=f"${self.J}$")
        src, dst = (self.tex(self.g.nodes[i]) for i in edge)
        return self.t("figure_caption", output=f"${self.J}$", edge=f"${src} \\to {dst}$",
                      partial=f"$\\partial {dst} / \\partial {src}$")

    def legend(self, network) -> list:
        """Names the figure and JSON spell one way and the note another (``h.W[2,1]``,
        $W^{(h)}_{2,1}$): segments ("text" | "code", str) of one sentence, or none."""
        g, t = self.g, self.t
        pairs, layers = [], []
        for node in g.nodes:
            tex = self.tex(node)
            if node.kind == "const" or node.name == tex or _plain(node.name) == _plain(tex):
                continue
            name = node.name
            if network is not None:
                spec = re.match(r"^(?P<layer>[^.\s]+)\.(?P<rest>[^\[\s]+)(?P<idx>\[[\d,\s]+\])?$", name)
                if spec:
                    if spec["layer"] not in layers:
                        layers.append(spec["layer"])
                    idx = spec["idx"]
                    letters = "" if not idx else "[j]" if "," not in idx else "[j,i]"
                    name = f"l.{spec['rest']}{letters}"
                    tex = latex_name(f"l.{spec['rest']}") + ("" if not idx else "_{j}" if "," not in idx
                                                              else "_{j,i}")
                    if (name, tex) not in pairs:
                        pairs.append((name, tex))
                    continue
            pairs.append((name, tex))
        if not pairs:
            return []
        order = ["l.W[j,i]", "l.b[j]", "l.b", "l.z[j]", "l.a[j]"]
        pairs.sort(key=lambda pair: order.index(pair[0]) if pair[0] in order else len(order))
        more = len(pairs) > LEGEND_NAMES
        pairs = pairs[:LEGEND_NAMES]
        template = t("legend_network" if layers else "legend", pairs="{pairs}", layers=self.listing(layers),
                     more=t("legend_more") if more else "")
        before, after = template.split("{pairs}")
        segments = [("text", before)]
        for k, (name, tex) in enumerate(pairs):
            segments += ([("text", t("list_sep"))] if k else []) + [("code", name),
                                                                     ("text", t("legend_is", tex=f"${tex}$"))]
        segments.append(("text", after))
        weights = [n for n in g.nodes if n.kind == "input" and re.fullmatch(r"[^.\s]+\.W\[\d+,\d+\]", n.name)]
        if layers and weights:
            example = next((n for n in weights if len(set(re.findall(r"\d+", n.name.split(".")[-1]))) > 1),
                           weights[0])
            before, after = t("legend_example", pairs="{pairs}").split("{pairs}")
            segments += [("text", before), ("code", example.name),
                         ("text", t("legend_is", tex=f"${self.tex(example)}$")), ("text", after)]
        return segments

    def build_matrix(self) -> Note:
        """A matrix program's note: the derivation in matrix form (bpviz.render.matrix_note)."""
        from .matrix_note import build_matrix_note
        g, t = self.g, self.t
        text = {key: t(key) for key in ("program", "update")}
        text.update(self._common_text())
        text["figure_caption"] = t("figure_caption_shapes" if g.shapes_only else "figure_caption_matrix",
                                   output=f"${self.J}$")
        key, fields = self.closed_skipped
        matrix = build_matrix_note(self)
        text["notation"] = matrix.text["notation"]
        return Note(lang=self.lang, title=g.title or t("title_matrix", output=g.out.name), source=g.source.strip(),
                    source_lang="yaml" if g.spec else "text", values=[], figure=self.figure, forward=[],
                    local=[], backward=[], fanout=[], chain=[], chain_note=t(key, **fields), text=text,
                    matrix=matrix, legend=self.legend(None))

    def forward_rows(self) -> list:
        g, names, values = self.g, self._names, self._values
        rows = []
        for node in g.nodes:
            if node.kind != "op":
                continue
            name = names[node.index]
            definition = f"{name} = {g.formula(node, 'tex', self.tex)}"
            numbers = g.formula(node, "tex", self._value_of)
            rows.append((name, definition, numbers, values[node.index]))
        return rows

    def local_rows(self) -> list:
        g, names, locals_ = self.g, self._names, self._locals
        rows = []
        for dst, slot, src in self._edges():
            node = g.nodes[dst]
            symbolic = g.local_formula(node, slot, "tex", self.tex)
            rows.append((f"{names[src]} \\to {names[dst]}", partial(names[dst], names[src]), symbolic,
                         locals_[dst][slot]))
        return rows

    def _edges(self):
        """Every edge (dst, slot, src) out of a node that is not a constant, in the graph's edge
        order (by dst, then slot), read straight off the nodes."""
        nodes = self.g.nodes
        for node in nodes:
            for slot, src in enumerate(node.inputs):
                if nodes[src].kind != "const":
                    yield node.index, slot, src

    def backward_rows(self) -> list:
        """v̄ = Σ over the nodes u that use v of ū · ∂u/∂v: a gradient on the left, the users'
        gradients times local derivatives on the right."""
        g, names, bars, grads, locals_ = self.g, self._names, self._bars, self._grads, self._locals
        rows = []
        for node in reversed(g.nodes):
            if node.kind == "const":
                continue
            i = node.index
            if i == g.output:
                rows.append((names[i], f"{bars[i]} = 1", "", "1"))
                continue
            users = g.consumers[i]
            terms = " + ".join(f"{bars[dst]} \\, {partial(names[dst], names[i])}" for dst, _ in users)
            numbers = " + ".join(f"{tex_factor(grads[dst])} \\cdot {tex_factor(locals_[dst][slot])}"
                                 for dst, slot in users)
            rows.append((names[i], f"{bars[i]} = {terms}", numbers, grads[i]))
        return rows

    @cached_property
    def _bars(self) -> list:
        """Every node's gradient symbol, by index (the backward table writes each several times)."""
        return [bar(name) for name in self._names]

    def custom_notes(self) -> list:
        """One sentence per edge whose derivative a custom gradient replaces (docs/custom-gradients.md)."""
        g, t = self.g, self.t
        lines = []
        for dst, slot, src in self._edges():
            node = g.nodes[dst]
            if not g.is_custom(node, slot):
                continue
            surrogate = node.custom[slot]
            true = g.true_local_formula(node, slot, "tex", self.tex)
            edge = f"${self.tex(g.nodes[src])} \\to {self.tex(node)}$"
            origin = (t("custom_origin_estimator", name=surrogate.estimator) if surrogate.estimator
                      else t("custom_origin_rule"))
            fields = dict(edge=edge, rule=f"${partial(self.tex(node), self.tex(g.nodes[src]))} := "
                                           f"{g.local_formula(node, slot, 'tex', self.tex)}$",
                          true=f"${true}$", origin=origin)
            lines.append(t("custom_ste" if true.strip() == "0" else "custom_rule", **fields))
        return lines

    def kink_notes(self) -> list:
        """One sentence per node at a kink or a jump, with the convention its local derivative follows."""
        g, t = self.g, self.t
        lines = []
        for node in g.nodes:
            if node.op is None or not node.op.kink:
                continue
            values = [g.nodes[i].value for i in node.inputs]
            kink = node.op.kink_at(values, g.operand_names(node))
            if not kink or (node.custom and all(node.custom[i] is not None for i in kink[2])):
                continue
            names = [self.tex(g.nodes[i]) for i in node.inputs]
            at = ", ".join(f"{names[i]} = {self.num(values[i])}" for i in dict.fromkeys(kink[2]))
            lines.append(t("kink", node=f"${self.tex(node)} = {g.formula(node, 'tex', self.tex)}$", at=f"${at}$",
                           convention=_convention(t, node.op.name, names)))
        return lines

    def fanout_notes(self) -> list:
        g = self.g
        return [self.t("fanout", node=f"${self.tex(n)}$", count=len(g.consumers[n.index]))
                for n in g.nodes if n.kind != "const" and len(g.consumers[n.index]) > 1]

    def target_symbol(self) -> str:
        """The letter of a network's targets: y, unless a node's name already reads y_…."""
        taken = any(re.match(r"^y(_|$)", self.tex(n)) for n in self.g.nodes if n.kind != "const")
        return "\\tau" if taken else "y"

    def combined(self) -> Optional[tuple]:
        """Softmax + cross-entropy: z̄_j = p_j − y_j, with the graph's own numbers (the fallback
        when a network cannot be read layer by layer; the δ form states it otherwise)."""
        rows = self.g.spec.softmax_cross_entropy if self.g.spec else ()
        if not rows:
            return None
        y = self.target_symbol()
        lines = []
        for z_name, a_name, target in rows:
            z, a = self.g.node(z_name), self.g.node(a_name)
            lines.append(f"{bar(self.tex(z))} &= {self.tex(a)} - {self.num(target)} = "
                         f"{self.num(a.value)} - {self.operand(target)} = {self.num(z.grad)}")
        rule = f"$\\bar{{z}}_{{j}} = p_{{j}} - {y}_{{j}}$"
        return self.t("softmax_ce", rule=rule), lines

    # -- the chain rule -----------------------------------------------------------------------
    def chain(self, wrt: list) -> tuple:
        g, t = self.g, self.t
        counts = g.path_counts()
        lengths = g.path_factors(counts)
        closed, note = self._closed_forms()
        result, output = [], f"${self.J}$"
        for name in wrt:
            node = g.node(name)
            if node.index == g.output:
                continue
            count, factors = counts[node.index], lengths[node.index]
            names = dict(output=output, name=f"${self.tex(node)}$")
            if count == 0:
                lines = [f"{self.bar(node)} &= 0"]
                intro = t("no_path", **names)
            elif count > PATH_LIMIT:
                lines = self._one_step(node)
                shown = f"{count:,}" if count < PATH_CAP else f"≥ {PATH_CAP:,}"
                intro = t("too_many_paths", count=shown, limit=PATH_LIMIT, **names)
            elif factors > FACTOR_LIMIT:
                lines = self._one_step(node)
                intro = t("long_path", factors=factors, limit=FACTOR_LIMIT, **names)
            else:
                lines = self._path_lines(node, g.paths(node.index, count))
                intro = t("one_path", **names) if count == 1 else t("n_paths", count=count, **names)
            derivation = Derivation(name=self.bar(node), intro=intro, lines=lines)
            if name in closed:
                derivation.closed, derivation.closed_note, derivation.closed_label = closed[name]
            result.append(derivation)
        return result, note

    def _path_lines(self, node: Node, paths: list) -> list:
        g, names, locals_ = self.g, self._names, self._locals
        symbolic = [[partial(names[dst], names[g.nodes[dst].inputs[slot]]) for dst, slot in path]
                    for path in paths]
        numeric = [[tex_factor(locals_[dst][slot]) for dst, slot in path] for path in paths]
        return self._derivation(node, symbolic, numeric)

    def _one_step(self, node: Node) -> list:
        """x̄ = Σ over consumers c of c̄ · ∂c/∂x, with numbers: the backward-pass step."""
        names, bars, grads, locals_ = self._names, self._bars, self._grads, self._locals
        users = self.g.consumers[node.index]
        symbolic = [[bars[dst], partial(names[dst], names[node.index])] for dst, _ in users]
        numeric = [[tex_factor(grads[dst]), tex_factor(locals_[dst][slot])] for dst, slot in users]
        return self._derivation(node, symbolic, numeric)

    def _derivation(self, node: Node, symbolic: list, numeric: list) -> list:
        """Aligned rows: x̄ = the sum of products symbolically, then in numbers, then the value."""
        lines = _aligned(self.bar(node), _sum_lines(symbolic, " ", PARTIALS_PER_LINE))
        lines += _aligned("", _sum_lines(numeric, " \\cdot ", NUMBERS_PER_LINE))
        lines.append(f"&= {self._grads[node.index]}")
        return lines

    def _closed_forms(self) -> tuple:
        g, t = self.g, self.t
        if self.closed is None:
            key, fields = self.closed_skipped
            return {}, t(key, **fields)
        import sympy
        result = {}
        for name, form in self.closed.items():
            expr = form.expression
            if expr.has(sympy.Heaviside):       # reads better as cases than as a step function
                cases = expr.rewrite(sympy.Piecewise)
                # ... unless the cases come out as nested conditions (step(1 - |u|)): then step(·)
                expr = cases if not cases.has(sympy.ITE) else expr.replace(
                    lambda e: isinstance(e, sympy.Heaviside), lambda e: sympy.Function("step")(e.args[0]))
            tex = sympy.latex(expr, symbol_names={s: latex_name(n) for n, s in form.symbols.items()})
            ours, value = g.node(name).grad, form.value
            shown = self.num(value)
            lhs = bar(latex_name(name))
            if len(tex) > CLOSED_FORM_CHARS:
                formula, label = f"{lhs} = {shown}", t("closed_form_long", chars=len(tex))
            else:
                formula, label = f"{lhs} = {tex} = {shown}", t("closed_form")
            note = t("agrees") if form.agrees else t("disagrees", ours=f"${self.num(ours)}$")
            result[name] = (formula, note, label)
        return result, None

    # -- one gradient-descent step -------------------------------------------------------------
    def _parameters(self) -> str:
        """The updated parameters by name, or how many when there are more than a sentence holds."""
        names = [name for name, *_ in self.step.rows]
        if len(names) > PARAMETERS_NAMED:
            return self.t("n_parameters", count=len(names))
        return self.listing(f"${latex_name(name)}$" for name in names)

    def update(self) -> Optional[dict]:
        if self.step is None:
            return None
        eta = self.num(self.step.rate)
        table = [(latex_name(name), self.num(old), self.num(grad),
                  f"{self.num(old)} - {eta} \\cdot {self.operand(grad)} = {self.num(new)}")
                 for name, old, grad, new in self.step.rows]
        return dict(eta=eta, rows=table,
                    intro=self.t("update_intro", eta=f"$\\eta = {eta}$", params=self._parameters(),
                                 data=self.t("update_data") if len(self.step.rows) < len(self.g.inputs) else ""),
                    rule=f"p \\leftarrow p - \\eta \\, {bar('p')}",
                    after=self.t("after", output=f"${self.J}$", before=f"${self.num(self.g.out.value)}$",
                                 after=f"${self.num(self.step.after)}$"))


def _sum_lines(products: list, joiner: str, per_line: int) -> list:
    r"""A sum of products, broken into lines of at most ``per_line`` factors.

    A term that does not fit starts a new line with ``+``; a product longer than a line
    continues on the next with ``\cdot``, so a long chain never runs off the page.

    >>> _sum_lines([["a", "b"], ["c", "d"]], " ", 4)
    ['a b + c d']
    >>> _sum_lines([["a", "b", "c"], ["d", "e"]], " ", 3)
    ['a b c', '+ d e']
    >>> _sum_lines([["1", "2", "3", "4", "5"]], r" \cdot ", 2)
    ['1 \\cdot 2', '\\cdot 3 \\cdot 4', '\\cdot 5']
    """
    if products and all(products) and sum(map(len, products)) <= per_line:     # one line: most sums
        return [" + ".join([joiner.join(factors) for factors in products])]
    return _broken_lines(products, joiner, per_line)


def _broken_lines(products: list, joiner: str, per_line: int) -> list:
    """_sum_lines' line-breaking loop, which gives the same one line for a short sum, only slower."""
    lines: list = []
    current, budget = "", 0
    for index, factors in enumerate(products):
        if index and current and budget + len(factors) > per_line:
            lines.append(current)
            current, budget = "", 0
        for position, factor in enumerate(factors):
            if budget >= per_line:
                lines.append(current)
                current, budget = "", 0
            if position == 0:
                sep = ("+ " if not current else " + ") if index else ""
            else:
                sep = "\\cdot " if not current else joiner
            current += sep + factor
            budget += 1
    if current:
        lines.append(current)
    return lines


def _convention(t, op: str, names: list) -> str:
    """The convention an op's local derivative follows at its kinks and jumps, as the note states it."""
    x = names[0]
    math = {"relu": "\\operatorname{ReLU}'(0) = 0", "abs": "\\left|\\cdot\\right|'(0) = \\operatorname{sign}(0) = 0",
            "sign": "\\operatorname{sign}(0) = 0,\\ \\operatorname{sign}'(0) = 0",
            "step": "\\operatorname{step}(0) = 0,\\ \\operatorname{step}'(0) = 0",
            "round": "\\operatorname{round}' = 0", "floor": "\\lfloor\\cdot\\rfloor' = 0",
            "ceil": "\\lceil\\cdot\\rceil' = 0", "hardtanh": "\\operatorname{hardtanh}'(\\pm 1) = 0",
            "leaky_relu": f"\\operatorname{{LeakyReLU}}'(0) = {names[-1]}",
            "pow": f"\\partial / \\partial {names[-1]} = 0"}.get(op)
    if op == "round":
        return f"${math}$" + t("convention_round")
    if math is not None:
        return f"${math}$"
    if op in ("max", "min"):
        return t("convention_tie", first=f"${x}$")
    if op == "clip":
        return t("convention_bound", x=f"${x}$")
    return ""


def _aligned(lhs: str, lines: list) -> list:
    """Rows of an align environment: ``lhs &= first`` then ``&\\quad rest``."""
    rows = [f"{lhs} &= {lines[0]}"]
    rows += [f"&\\quad {line}" for line in lines[1:]]
    rows[0] = rows[0].lstrip()
    return rows


def build_note(graph: Graph, **options) -> Note:
    """The note model; ``options`` as ``NoteBuilder`` takes them (bpviz.api.note_for fills them in).
    A big graph's note is hundreds of thousands of strings and tuples that all stay alive: see
    gc_paused."""
    with gc_paused():
        return NoteBuilder(graph, **options).build()
