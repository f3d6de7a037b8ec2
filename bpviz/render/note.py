"""The derivation a note tells, as data: every formula already LaTeX, every sentence already
in the reader's language. The Markdown and LaTeX printers only lay it out.

Nothing here computes: values and gradients come from the finished graph, sympy's closed forms
(``bpviz.check.closed_forms``) and the gradient step (``bpviz.autodiff.gradient_step``) are
computed by ``bpviz.api.note_for`` and handed in; this module only typesets them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .. import __version__
from ..check import CLOSED_FORM_NODES
from ..escape import latex_name, tex_num, tex_operand
from ..graph import PATH_CAP, Graph, Node
from .prose import prose

PATH_LIMIT = 8              # paths listed per input; beyond, the one-step (backward) form
FACTOR_LIMIT = 48           # local derivatives written out per input; beyond, the one-step form
CLOSED_FORM_CHARS = 600     # longer closed forms are summarised, not printed
PARTIALS_PER_LINE = 5       # \frac{∂a}{∂b} factors per line of a derivation
NUMBERS_PER_LINE = 8
PARAMETERS_NAMED = 6        # the update's sentence names up to this many parameters


@dataclass
class Figure:
    """How the note shows the figure: a link (relative path or data URI), or why it is left out
    (a key of the prose table)."""
    link: Optional[str] = None
    reason: Optional[str] = None
    fields: dict = field(default_factory=dict)     # for the reason's sentence


@dataclass
class Derivation:
    """∂out/∂name by the chain rule: prose first, then aligned lines, then sympy's closed form."""
    name: str
    intro: str
    lines: list                          # rows of an align environment ("lhs &= …")
    closed: Optional[str] = None         # LaTeX: "\frac{∂J}{∂w} = x(b + wx − y) = −4"
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


def partial(top: str, bottom: str) -> str:
    return f"\\frac{{\\partial {top}}}{{\\partial {bottom}}}"


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
        self.J = self.tex(graph.out)

    # -- small readers ------------------------------------------------------------------------
    def tex(self, node: Node) -> str:
        return latex_name(node.name)

    def num(self, value) -> str:
        return tex_num(value, self.digits)

    def operand(self, value) -> str:
        return tex_operand(value, self.digits)

    def _value_of(self, node: Node) -> str:
        return self.operand(node.value) if "\\times" in self.num(node.value) else self.num(node.value)

    # -- sections -----------------------------------------------------------------------------
    def build(self) -> Note:
        if self.g.matrix:
            return self.build_matrix()
        g, t = self.g, self.t
        output = self.J
        text = {key: t(key) for key in ("program", "at", "forward", "forward_intro", "node",
                                        "definition", "with_numbers", "value", "local", "local_intro",
                                        "edge", "derivative", "symbolic", "backward", "gradient",
                                        "chain", "update", "parameter", "old", "new")}
        text["backward_intro"] = t("backward_intro", seed=f"${partial(output, output)} = 1$")
        text["chain_intro"] = t("chain_intro", output=f"${output}$")
        text["figure_alt"] = t("figure_alt", output=g.out.name)
        text["figure_caption"] = t("figure_caption", output=f"${output}$")
        text["generated"] = t("generated", version=__version__)
        text["output_tex"] = output
        text["figure_left_out"] = t("figure_left_out", reason=t(self.figure.reason or "no_figure",
                                                               **self.figure.fields))
        chain, chain_note = self.chain()
        return Note(
            lang=self.lang, title=g.title or t("title", output=g.out.name), source=g.source.strip(),
            source_lang="yaml" if g.spec else "text",
            values=[(self.tex(n), self.num(n.value)) for n in g.inputs], figure=self.figure,
            forward=self.forward_rows(), local=self.local_rows(), backward=self.backward_rows(),
            fanout=self.fanout_notes(), chain=chain, chain_note=chain_note, combined=self.combined(),
            update=self.update(),
            text=text)

    def build_matrix(self) -> Note:
        """A matrix program's note: the derivation in matrix form (bpviz.render.matrix_note)."""
        from .matrix_note import build_matrix_note
        g, t = self.g, self.t
        text = {key: t(key) for key in ("program", "update")}
        text["figure_alt"] = t("figure_alt", output=g.out.name)
        text["figure_caption"] = t("figure_caption_shapes" if g.shapes_only else "figure_caption_matrix",
                                   output=f"${self.J}$")
        text["generated"] = t("generated", version=__version__)
        text["figure_left_out"] = t("figure_left_out", reason=t(self.figure.reason or "no_figure",
                                                               **self.figure.fields))
        key, fields = self.closed_skipped
        return Note(lang=self.lang, title=g.title or t("title_matrix", output=g.out.name), source=g.source.strip(),
                    source_lang="yaml" if g.spec else "text", values=[], figure=self.figure, forward=[],
                    local=[], backward=[], fanout=[], chain=[], chain_note=t(key, **fields), text=text,
                    matrix=build_matrix_note(self))

    def forward_rows(self) -> list:
        g = self.g
        rows = []
        for node in g.nodes:
            if node.kind != "op":
                continue
            definition = f"{self.tex(node)} = {g.formula(node, 'tex', self.tex)}"
            numbers = g.formula(node, "tex", self._value_of)
            rows.append((self.tex(node), definition, numbers, self.num(node.value)))
        return rows

    def local_rows(self) -> list:
        g = self.g
        rows = []
        for dst, slot, src in self._edges():
            node = g.nodes[dst]
            symbolic = g.local_formula(node, slot, "tex", self.tex)
            rows.append((f"{self.tex(g.nodes[src])} \\to {self.tex(node)}",
                         partial(self.tex(node), self.tex(g.nodes[src])), symbolic,
                         self.num(node.local[slot])))
        return rows

    def _edges(self):
        for src, dst, slot in self.g.edges():
            if self.g.nodes[src].kind != "const":
                yield dst, slot, src

    def backward_rows(self) -> list:
        g, J = self.g, self.J
        rows = []
        for node in reversed(g.nodes):
            if node.kind == "const":
                continue
            if node.index == g.output:
                rows.append((self.tex(node), f"{partial(J, J)} = 1", "", "1"))
                continue
            terms, numbers = [], []
            for dst, slot in g.consumers[node.index]:
                up = g.nodes[dst]
                terms.append(f"{partial(J, self.tex(up))} {partial(self.tex(up), self.tex(node))}")
                numbers.append(f"{self.operand(up.grad)} \\cdot {self.operand(up.local[slot])}")
            rule = f"{partial(J, self.tex(node))} = " + " + ".join(terms)
            rows.append((self.tex(node), rule, " + ".join(numbers), self.num(node.grad)))
        return rows

    def fanout_notes(self) -> list:
        g = self.g
        return [self.t("fanout", node=f"${self.tex(n)}$", count=len(g.consumers[n.index]))
                for n in g.nodes if n.kind != "const" and len(g.consumers[n.index]) > 1]

    def combined(self) -> Optional[tuple]:
        """Softmax + cross-entropy: ∂L/∂z_j = p_j − t_j, with the graph's own numbers."""
        rows = self.g.spec.softmax_cross_entropy if self.g.spec else ()
        if not rows:
            return None
        lines = []
        for z_name, a_name, target in rows:
            z, a = self.g.node(z_name), self.g.node(a_name)
            lines.append(f"{partial(self.J, self.tex(z))} &= {self.tex(a)} - {self.num(target)} = "
                         f"{self.num(a.value)} - {self.num(target)} = {self.num(z.grad)}")
        rule = f"$\\frac{{\\partial {self.J}}}{{\\partial z_j}} = p_j - t_j$"
        return self.t("softmax_ce", rule=rule), lines

    # -- the chain rule -----------------------------------------------------------------------
    def chain(self) -> tuple:
        g, t = self.g, self.t
        counts = g.path_counts()
        closed, note = self._closed_forms()
        result = []
        for name in self.wrt:
            node = g.node(name)
            if node.index == g.output:
                continue
            count = counts[node.index]
            paths = g.paths(node.index, count) if count <= PATH_LIMIT else []
            factors = sum(len(p) for p in paths)
            names = dict(output=f"${self.J}$", name=f"${self.tex(node)}$")
            if count == 0:
                lines = [f"{partial(self.J, self.tex(node))} &= 0"]
                intro = t("no_path", **names)
            elif count > PATH_LIMIT:
                lines = self._one_step(node)
                shown = f"{count:,}" if count < PATH_CAP else f"≥ {PATH_CAP:,}"
                intro = t("too_many_paths", count=shown, limit=PATH_LIMIT, **names)
            elif factors > FACTOR_LIMIT:
                lines = self._one_step(node)
                intro = t("long_path", factors=factors, limit=FACTOR_LIMIT, **names)
            else:
                lines = self._path_lines(node, paths)
                intro = t("one_path", **names) if count == 1 else t("n_paths", count=count, **names)
            derivation = Derivation(name=self.tex(node), intro=intro, lines=lines)
            if name in closed:
                derivation.closed, derivation.closed_note, derivation.closed_label = closed[name]
            result.append(derivation)
        return result, note

    def _path_lines(self, node: Node, paths: list) -> list:
        g = self.g
        symbolic = [[partial(self.tex(g.nodes[dst]), self.tex(g.nodes[g.nodes[dst].inputs[slot]]))
                     for dst, slot in path] for path in paths]
        numeric = [[self.operand(g.nodes[dst].local[slot]) for dst, slot in path] for path in paths]
        return self._derivation(node, symbolic, numeric)

    def _one_step(self, node: Node) -> list:
        """∂J/∂x = Σ over consumers c of ∂J/∂c · ∂c/∂x, with numbers: the backward-pass step."""
        g, J = self.g, self.J
        symbolic, numeric = [], []
        for dst, slot in g.consumers[node.index]:
            up = g.nodes[dst]
            symbolic.append([partial(J, self.tex(up)), partial(self.tex(up), self.tex(node))])
            numeric.append([self.operand(up.grad), self.operand(up.local[slot])])
        return self._derivation(node, symbolic, numeric)

    def _derivation(self, node: Node, symbolic: list, numeric: list) -> list:
        """Aligned rows: ∂J/∂node = the sum of products symbolically, then in numbers, then the value."""
        lines = _aligned(partial(self.J, self.tex(node)), _sum_lines(symbolic, " ", PARTIALS_PER_LINE))
        lines += _aligned("", _sum_lines(numeric, " \\cdot ", NUMBERS_PER_LINE))
        lines.append(f"&= {self.num(node.grad)}")
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
                expr = expr.rewrite(sympy.Piecewise)
            tex = sympy.latex(expr, symbol_names={s: latex_name(n) for n, s in form.symbols.items()})
            ours, value = g.node(name).grad, form.value
            shown = self.num(value)
            lhs = partial(self.J, latex_name(name))
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
        return ", ".join(f"${latex_name(name)}$" for name in names)

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
                    rule=f"p \\leftarrow p - \\eta \\, {partial(self.J, 'p')}",
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


def _aligned(lhs: str, lines: list) -> list:
    """Rows of an align environment: ``lhs &= first`` then ``&\\quad rest``."""
    rows = [f"{lhs} &= {lines[0]}"]
    rows += [f"&\\quad {line}" for line in lines[1:]]
    rows[0] = rows[0].lstrip()
    return rows


def build_note(graph: Graph, **options) -> Note:
    """The note model; ``options`` as ``NoteBuilder`` takes them (bpviz.api.note_for fills them in)."""
    return NoteBuilder(graph, **options).build()
