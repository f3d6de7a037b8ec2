"""The note of a matrix program, as data: the derivation a student writes in matrix form.

A shapes table; the forward pass line by line (small matrices written out, exact values exact);
the backward pass line by line, each gradient with its dimension check (the shapes of the factors
as they are multiplied, and the shape the product must have: the node's own); one entry of every
matrix product read index by index, which is where the transposes come from; the softmax +
cross-entropy (and sigmoid + binary cross-entropy) shortcut ``Z̄ = P − Y``; one gradient step.

Notation, the same everywhere (and in the scalar notes, bpviz.render.note): ``\\bar{v}`` is any node's
accumulated gradient ∂J/∂v; ``δ`` is kept for the gradient at a layer's pre-activation (the input of
an activation function), introduced as ``δ ≡ Z̄``; ``∂`` alone is a local derivative.

A program's unnamed product that only feeds a sum (``X @ W1`` in ``Z1 = X @ W1 + b1``) receives the
sum's gradient unchanged, so it is written inside the sum (``Z_1 = X W_1 + b_1``) and its gradient
is the sum's (``\\bar{W}_1 = X^\\top \\bar{Z}_1``), as the textbooks do.

Like ``note.py`` this module computes no math: values, gradients, what each edge sends back
(``node.contrib``) and the gradient step come from the evaluated graph and ``bpviz.api.note_for``;
here they are only typeset. Shapes are compared (that is the dimension check) and a few entries are
read (the element-wise reading), nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

import numpy as np

from ..escape import latex_name, tex_num
from ..numeric import exact_text
from ..tensor import as_array, bar, frobenius, matmul_shape, reduced_axes, to_float
from .note import Block

CELLS = 4                 # matrices up to CELLS × CELLS (vectors up to CELLS entries) are written out
ENTRY_TERMS = 8           # the numeric reading of one entry lists at most this many products,
TERMS_PER_LINE = 3        # this many on a line
TFRAC_DIGITS = 6          # exact fractions with short numerator and denominator stay fractions
EXACT_DIGITS = 10         # exact decimals up to this many significant digits are written in full
ACTIVATIONS = ("relu", "sigmoid", "tanh", "softplus", "softmax")
OWN_OUTPUT = ("sigmoid", "tanh", "exp", "softmax")    # their rules name the node's own output
TOKEN = "\u27e6{}\u27e7"                               # ⟦i⟧: a node in a rule, before its numbers go in
LINE_WIDTH = 50           # a line of numbers wider than this many characters of entries is left out


@dataclass
class MatrixNote:
    inputs: list                          # aligned rows "X &= (matrix)"; empty with shapes only
    shapes: list                          # [(symbol, shape, role)]: LaTeX, LaTeX ("" for a scalar), prose
    forward: list                         # [Block]
    backward: list                        # [Block]
    readings: list                        # [Block]: one entry of each matrix product
    identities: list                      # [Block]: softmax + cross-entropy, sigmoid + binary CE
    update: Optional[dict] = None         # intro, rule, blocks, after
    text: dict = field(default_factory=dict)


def dims(shape: tuple) -> str:
    """A shape as LaTeX: ``3 \\times 4``, ``N \\times \\mathrm{Dx}``, ``3`` for a vector, 1 for a scalar.

    >>> dims((3, 4)), dims(("N", "Dx")), dims((5,)), dims(())
    ('3 \\\\times 4', 'N \\\\times \\\\mathrm{Dx}', '5', '1')
    """
    if not shape:
        return "1"
    return " \\times ".join(latex_name(d) if isinstance(d, str) else str(d) for d in shape)


def _reversed(shape: tuple) -> tuple:
    return tuple(reversed(shape))


def _entry(name: str, index: str) -> str:
    """Entry ``index`` of the matrix ``name``: ``X_{ni}``, ``(W_{1})_{ij}``, ``(\\bar{Z}_{1})_{nj}``."""
    if not index:
        return name
    simple = re.fullmatch(r"[A-Za-z]|\\[A-Za-z]+", name)
    return f"{name}_{{{index}}}" if simple else f"({name})_{{{index}}}"


def _transposed(name: str) -> str:
    return f"{{{name}}}^{{\\top}}"


class MatrixNoteBuilder:
    """Lays out a matrix program's derivation; ``base`` is the NoteBuilder with the options."""

    def __init__(self, base):
        self.base = base
        self.g, self.t, self.digits = base.g, base.t, base.digits
        self.step = base.step
        self.shapes_only = self.g.shapes_only
        self.folded = self._folded()
        self.params = set(self.g.params) | ({name for name, *_ in self.step.rows} if self.step else set())
        self.deltas = self._deltas()

    # -- names ----------------------------------------------------------------------------------
    def _folded(self) -> dict:
        """Unnamed nodes whose one consumer passes its gradient back unchanged (``X @ W`` inside
        ``X @ W + b``): index -> that consumer's index."""
        g, folded = self.g, {}
        for node in g.nodes:
            if node.kind != "op" or node.named or node.index == g.output or node.op.name in OWN_OUTPUT:
                continue
            users = g.consumers[node.index]
            if len(users) != 1:
                continue
            dst, slot = users[0]
            up = g.nodes[dst]
            if up.shape == node.shape and g.local_formula(up, slot, "text") == bar(up.name, "text"):
                folded[node.index] = dst
        return folded

    def root(self, node):
        while node.index in self.folded:
            node = self.g.nodes[self.folded[node.index]]
        return node

    def tex(self, node) -> str:
        """A node's name as LaTeX, as the tables and prose show it."""
        return latex_name(node.name)

    def name(self, node) -> str:
        """A node's name inside formulas: a folded node goes by the node its gradient is, and a name
        with a superscript is braced so that another one (``^{\\top}``, ``^{\\odot 2}``) can follow."""
        tex = latex_name(self.root(node).name)
        return f"{{{tex}}}" if "^" in tex else tex

    def gbar(self, node) -> str:
        """``\\bar{v}``: the node's gradient."""
        return bar(self.name(node), "tex")

    def inline(self, node) -> str:
        """The node as the forward pass writes it: a folded node's own formula, else its name."""
        if node.index in self.folded:
            return self.g.formula(node, "tex", self.inline)
        return self.name(node)

    def rule(self, up, slot: int, name_of=None) -> str:
        """What ``up`` sends back to its operand ``slot``, in LaTeX."""
        text = self.g.local_formula(up, slot, "tex", name_of or self.name)
        return text

    def _deltas(self) -> dict:
        """δ for every pre-activation (a node that feeds an activation function), with the activation:
        δ_{1} for Z_{1}, δ^{(h)} for z^{(h)}, δ_{z} for z, δ alone when there is one and its name has
        no index."""
        g = self.g
        spec_z = {z for z, *_ in g.spec.softmax_cross_entropy} if g.spec else set()
        found = {}
        for node in g.nodes:
            if node.kind != "op" or node.index in self.folded:
                continue
            acts = [g.nodes[dst] for dst, _ in g.consumers[node.index] if g.nodes[dst].op.name in ACTIVATIONS]
            if acts or node.name in spec_z:
                found[node.index] = acts[0] if acts else None
        indexed = re.compile(r"[A-Za-z](_\{[^{}]+\}|\^\{\([^{}]+\)\})")
        names = {}
        for i in found:
            tex = latex_name(g.nodes[i].name)
            match = indexed.fullmatch(tex)
            names[i] = ("\\delta" + match.group(1) if match else
                        "\\delta" if len(found) == 1 else f"\\delta_{{{tex}}}")
        if len(set(names.values())) < len(names):
            names = {i: f"\\delta_{{{latex_name(g.nodes[i].name)}}}" for i in names}
        return {i: (names[i], act) for i, act in found.items()}

    # -- numbers --------------------------------------------------------------------------------
    def number(self, value) -> str:
        """One entry: exact fractions as fractions when they are not short decimals."""
        if isinstance(value, Fraction):
            text = tex_num(value, self.digits)
            if "\\times" not in text and Fraction(text) == value:
                return text
            exact = exact_text(value)
            if "/" not in exact and len(exact.replace("-", "").replace(".", "").strip("0")) <= EXACT_DIGITS:
                return exact
            if max(len(str(abs(value.numerator))), len(str(value.denominator))) <= TFRAC_DIGITS:
                sign = "-" if value < 0 else ""
                return f"{sign}\\tfrac{{{abs(value.numerator)}}}{{{value.denominator}}}"
            return text
        return tex_num(float(value), self.digits)

    def factor(self, value) -> str:
        """A number inside a product: parenthesised when negative or scientific."""
        text = self.number(value)
        return f"({text})" if text.startswith("-") or "\\times" in text else text

    def small(self, value) -> bool:
        if value is None:
            return False
        if not isinstance(value, np.ndarray):
            return True
        return value.size > 0 and value.ndim <= 2 and max(value.shape) <= CELLS

    def array(self, value) -> str:
        """A value as LaTeX: a number, a pmatrix (a vector as a row), or its shape and a summary."""
        if not isinstance(value, np.ndarray):
            return self.number(value)
        if not self.small(value):
            return self.summary(value)
        rows = [value] if value.ndim == 1 else list(value)
        body = " \\\\ ".join(" & ".join(self.number(v) for v in row) for row in rows)
        return f"\\begin{{pmatrix}} {body} \\end{{pmatrix}}"

    def operand(self, value) -> str:
        """A value inside a formula: a braced matrix, or a parenthesised negative number."""
        if isinstance(value, np.ndarray):
            return f"{{{self.array(value)}}}"
        return self.factor(value)

    def summary(self, value) -> str:
        f = to_float(as_array(value))
        norm = frobenius(f)
        return (f"\\left[\\, {dims(value.shape)}:\\ \\min = {tex_num(float(f.min()), self.digits)},\\ "
                f"\\max = {tex_num(float(f.max()), self.digits)},\\ \\lVert \\cdot \\rVert_{{F}} = "
                f"{tex_num(norm, self.digits)} \\,\\right]")

    def substituted(self, formula_of) -> Optional[str]:
        """``formula_of(name_of)`` with every node's value (and gradient, for ``\\bar{v}``) in place of
        its name; None when one of them is too large to write out, or all of them too wide for a line."""
        text = formula_of(lambda n: TOKEN.format(self.root(n).index))
        width = 0
        for is_grad, index in re.findall("(\\\\overline\\{)?" + TOKEN.format("([0-9]+)"), text):
            node = self.g.nodes[int(index)]        # every occurrence counts, as wide as its widest row
            value = node.grad if is_grad else node.value
            if node.kind != "const" and isinstance(value, np.ndarray) and self.small(value):
                rows = [value] if value.ndim == 1 else list(value)
                width += max(sum(len(self.number(v)) + 2 for v in row) for row in rows)
        if width > LINE_WIDTH:
            return None
        used = sorted({int(i) for i in re.findall(TOKEN.format("([0-9]+)"), text)})
        for i in used:
            node = self.g.nodes[i]
            grad_token = "\\overline{" + TOKEN.format(i) + "}"
            if grad_token in text:
                if not self.small(node.grad):
                    return None
                text = text.replace(grad_token, self.operand(node.grad))
            if TOKEN.format(i) in text:
                if node.kind == "const":
                    text = text.replace(TOKEN.format(i), latex_name(node.name))
                    continue
                if not self.small(node.value):
                    return None
                text = text.replace(TOKEN.format(i), self.operand(node.value))
        return text

    # -- the note -------------------------------------------------------------------------------
    def build(self) -> MatrixNote:
        t = self.t
        J = self.base.J
        text = {key: t(key) for key in ("shapes", "shapes_intro", "symbol", "shape", "role", "scalar", "forward_matrix",
                                        "backward_matrix", "readings", "readings_intro", "identities", "update")}
        text["notation"] = t("notation_matrix", bar=f"${bar('v', 'tex')}$", output=f"${J}$", v="$v$",
                             delta="$\\delta$", odot="$\\odot$", ones="$\\mathbf{1}$")
        text["roles"] = None if self.params else t("roles_unknown")
        text["forward_intro"] = t("forward_matrix_intro_shapes" if self.shapes_only else "forward_matrix_intro")
        text["backward_intro"] = t("backward_matrix_intro", seed=f"${bar(self.name(self.g.out), 'tex')} = 1$",
                                   mark="$\\checkmark$")
        text["values"] = t("shapes_only") if self.shapes_only else t("at")
        return MatrixNote(inputs=self.inputs(), shapes=self.shapes(), forward=self.forward(),
                          backward=self.backward(), readings=self.readings(), identities=self.identities(),
                          update=self.update(), text=text)

    def inputs(self) -> list:
        if self.shapes_only:
            return []
        return [f"{self.name(n)} &= {self.array(n.value)}" for n in self.g.inputs]

    def shapes(self) -> list:
        g, t = self.g, self.t
        rows = []
        for node in g.nodes:
            if node.kind == "const" or node.index in self.folded:
                continue
            if node.index == g.output:
                role = t("role_output")
            elif node.kind == "input":
                role = t("role_parameter" if node.name in self.params else "role_input")
            else:
                role = t("role_intermediate")
            rows.append((self.tex(node), dims(node.shape) if node.shape else "", role))
        return rows

    def shape_term(self, node) -> str:
        """The node's formula with every operand replaced by its shape (folded nodes opened up)."""
        def shape_of(n):
            if n.index in self.folded:
                return self.g.formula(n, "tex", shape_of)
            return f"({dims(n.shape)})" if n.shape else "1"
        return self.g.formula(node, "tex", shape_of)

    def _has_product(self, node) -> bool:
        if node.op is not None and node.op.name in ("matmul", "transpose"):
            return True
        return any(self._has_product(self.g.nodes[i]) for i in node.inputs if i in self.folded)

    def forward(self) -> list:
        g = self.g
        blocks = []
        for node in g.nodes:
            if node.kind != "op" or node.index in self.folded:
                continue
            formula = g.formula(node, "tex", self.inline)
            if self._has_product(node):
                check = f"{self.shape_term(node)} \\to {dims(node.shape)}"
            else:
                check = dims(node.shape) if node.shape else ""
            lines = [f"{self.name(node)} &= {formula}" + (f" && {check}" if check else "")]
            if not self.shapes_only:
                numbers = (None if self._column_vector(node) else
                           self.substituted(lambda name_of: g.formula(node, "tex", self._opened(name_of))))
                result = self.array(node.value)
                if numbers is not None and numbers != result:
                    lines.append(f"&= {numbers}")
                lines.append(f"&= {result}")
            blocks.append(Block(lines=lines))
        return blocks

    def _column_vector(self, node) -> bool:
        """Whether the formula multiplies by a vector on the right (``A v``): a vector is written as a
        row, so its numbers would not read as the product they are."""
        if node.op is not None and node.op.name == "matmul" and len(self.g.nodes[node.inputs[1]].shape) == 1:
            return True
        return any(self._column_vector(self.g.nodes[i]) for i in node.inputs if i in self.folded)

    def _opened(self, name_of):
        """``name_of`` for the leaves of a formula whose folded nodes are written out."""
        def opened(n):
            if n.index in self.folded:
                return self.g.formula(n, "tex", opened)
            return name_of(n)
        return opened

    # -- backward -------------------------------------------------------------------------------
    def check(self, up, slot: int) -> str:
        """The dimension check of what ``up`` sends back to operand ``slot``: the factors' shapes as
        they are multiplied, the shape that gives, and whether it is the operand's."""
        g = self.g
        shapes = [g.nodes[i].shape for i in up.inputs]
        out, target = up.shape, shapes[slot]
        op = up.op.name
        if not out and not target:
            return ""
        failed = []
        if op == "matmul":
            a, b = shapes
            if len(a) == 2 and len(b) == 2:
                factors = [out, _reversed(b)] if slot == 0 else [_reversed(a), out]
            elif len(a) == 2:
                factors = [(out[0], 1), (1, b[0])] if slot == 0 else [_reversed(a), out]
            elif len(b) == 2:
                factors = [b, out] if slot == 0 else [(a[0], 1), (1, out[0])]
            else:
                factors = [(), shapes[1 - slot]]
            result = factors[1] if not factors[0] else matmul_shape(factors[0], factors[1], failed.append)
            shown = "".join(f"({dims(f)})" for f in factors)
        elif op == "transpose":
            result, shown = _reversed(out), f"({dims(out)})^{{\\top}}"
        elif op in ("sum", "mean"):
            result, shown = target, dims(out)          # spread back over the entries it reduced
        elif op == "softmax":
            result, shown = out, dims(out)
        else:
            axes = reduced_axes(target, out)
            lead = len(out) - len(target)
            result = tuple(1 if i in axes else out[i] for i in range(lead, len(out)))
            shown = f"{self._where(axes, len(out))} ({dims(out)})" if axes else dims(out)
        mark = "\\;\\checkmark" if result == target and not failed else f"\\;\\ne {dims(target)}"
        if shown == dims(result):
            return f"{shown} {mark}"
        return f"{shown} \\to {dims(result)} {mark}"

    @staticmethod
    def _where(axes: tuple, ndim: int) -> str:
        if len(axes) == ndim:
            return "\\sum"
        return "\\sum_{\\text{rows}}" if axes == (0,) else "\\sum_{\\text{cols}}"

    def backward(self) -> list:
        g, t = self.g, self.t
        blocks = []
        for node in reversed(g.nodes):
            if node.kind == "const" or node.index in self.folded or node.index == g.output:
                continue
            users = g.consumers[node.index]
            lines, notes = [], []
            for k, (dst, slot) in enumerate(users):
                up = g.nodes[dst]
                term = self.rule(up, slot)
                check = self.check(up, slot)
                if k == 0:
                    line = f"{self.gbar(node)} &= {term}"
                else:
                    line = f"&\\quad - {term[1:]}" if term.startswith("-") else f"&\\quad + {term}"
                lines.append(line + (f" && {check}" if check else ""))
                notes += self._broadcast_note(node, up, slot)
            if not self.shapes_only:
                if len(users) == 1:
                    dst, slot = users[0]
                    up = g.nodes[dst]
                    vector = up.op.name == "matmul" and any(len(g.nodes[i].shape) == 1 for i in up.inputs)
                    spread = up.op.name in ("sum", "mean")      # the result shows the spread best
                    numbers = (None if vector or spread else
                               self.substituted(lambda name_of: self.rule(up, slot, name_of)))
                else:
                    parts = [g.nodes[dst].contrib[slot] for dst, slot in users]
                    numbers = (" + ".join(self.operand(p) for p in parts)
                               if all(self.small(p) for p in parts) else None)
                result = self.array(node.grad)
                if numbers is not None and numbers != result:
                    lines.append(f"&= {numbers}")
                lines.append(f"&= {result}")
            if len(users) > 1:
                notes.append(t("fanout", node=f"${self.tex(node)}$", count=len(users)))
            if node.index in self.deltas:
                delta, act = self.deltas[node.index]
                key = "delta" if act is not None else "delta_spec"
                notes.append(t(key, node=f"${self.tex(node)}$", act=f"${self.tex(act)}$" if act else "",
                               delta=f"${delta}$",
                               bar=f"${delta} \\equiv {self.gbar(node)}$"))
            blocks.append(Block(lines=lines, notes=notes))
        return blocks

    def _broadcast_note(self, node, up, slot: int) -> list:
        """In words, why a broadcast operand's gradient is a sum (over the batch, for a bias)."""
        if up.op.name not in ("add", "sub"):
            return []
        axes = reduced_axes(self.g.nodes[up.inputs[slot]].shape, up.shape)
        if not axes:
            return []
        minus = "-" if up.op.name == "sub" and slot == 1 else ""
        upbar, nbar = self.gbar(up), self.gbar(node)
        fields = dict(name=f"${self.tex(node)}$", sum=f"${self.name(up)}$", grad=f"${upbar}$")
        if len(axes) == len(up.shape):
            return [self.t("broadcast_all", **fields, formula=f"${nbar} = {minus}\\sum {upbar}$")]
        if axes == (0,):
            formula = f"${_entry(nbar, 'j')} = {minus}\\sum_{{n}} {_entry(upbar, 'nj')}$"
            return [self.t("broadcast_rows", **fields, formula=formula)]
        formula = f"${_entry(nbar, 'i')} = {minus}\\sum_{{m}} {_entry(upbar, 'im')}$"
        return [self.t("broadcast_cols", **fields, formula=formula)]

    # -- one entry of each product ----------------------------------------------------------------
    def readings(self) -> list:
        g = self.g
        blocks = []
        for node in g.nodes:
            if node.op is None or node.op.name != "matmul":
                continue
            a_node, b_node = (g.nodes[i] for i in node.inputs)
            a, b = self.name(a_node), self.name(b_node)
            product = self.name(node) if node.index not in self.folded else f"{a} \\, {b}"
            cbar = self.gbar(node)
            ra, rb = len(a_node.shape), len(b_node.shape)
            n, j = ("n" if ra == 2 else ""), ("j" if rb == 2 else "")
            ia, ib, ic = n + "i", "i" + j, n + j
            c_entry = _entry(product, ic) if ic or node.index not in self.folded else f"({product})"
            lines = [f"{c_entry} &= \\sum_{{i}} {_entry(a, ia)} {_entry(b, ib)}"]
            notes = []
            for slot, (mine, other) in enumerate(((a_node, ia), (b_node, ib))):
                if mine.kind == "const":
                    continue
                mbar = self.gbar(mine)
                lines.append(f"\\frac{{\\partial {c_entry}}}{{\\partial {_entry(self.name(mine), other)}}} "
                             f"&= {_entry(b, ib) if slot == 0 else _entry(a, ia)}")
                summed = j if slot == 0 else n
                pieces = ([_entry(cbar, ic), _entry(b, ib)] if slot == 0 else [_entry(a, ia), _entry(cbar, ic)])
                total = f"\\sum_{{{summed}}} " if summed else ""
                line = f"{_entry(mbar, other)} &= {total}{' '.join(pieces)}"
                if ra == 2 and rb == 2:
                    middle = (f"{_entry(cbar, ic)} {_entry(_transposed(b), 'ji')}" if slot == 0
                              else f"{_entry(_transposed(a), 'in')} {_entry(cbar, ic)}")
                    line += f" = \\sum_{{{summed}}} {middle}"
                line += f" = \\left({self.rule(node, slot)}\\right)_{{{other}}}" if other else ""
                lines.append(line)
                if len(g.consumers[mine.index]) > 1 and not notes:
                    notes.append(self.t("reading_fanout", name=f"${self.tex(mine)}$",
                                        product=f"${product}$"))
                if not self.shapes_only:
                    lines += self._entry_numbers(node, slot, mbar, other, summed)
            intro = self.t("reading_intro", product=f"${product}$", a=f"${a}$", b=f"${b}$",
                           ashape=f"${dims(a_node.shape)}$", bshape=f"${dims(b_node.shape)}$")
            blocks.append(Block(lines=lines, intro=intro, notes=notes))
        return blocks

    def _entry_numbers(self, node, slot: int, mbar: str, other: str, summed: str) -> list:
        """Entry (1, 1) of what the product sends back to ``slot``, term by term, when short."""
        g = self.g
        a, b = (g.nodes[i].value for i in node.inputs)
        cbar, sent = node.grad, node.contrib[slot]
        if sent is None or not all(isinstance(v, np.ndarray) for v in (a, b)):
            return []
        cb = np.reshape(cbar, (a.shape[0] if a.ndim == 2 else 1, b.shape[1] if b.ndim == 2 else 1))
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if slot == 0:       # Ā_{n i} = Σ_j C̄_{n j} B_{i j}, at n = i = 1
            pairs = [(cb[0, k], b2[0, k]) for k in range(b2.shape[1])]
        else:               # B̄_{i j} = Σ_n A_{n i} C̄_{n j}, at i = j = 1
            pairs = [(a2[k, 0], cb[k, 0]) for k in range(a2.shape[0])]
        if len(pairs) > ENTRY_TERMS:
            return []
        value = np.asarray(sent).flat[0]
        index = "1" * len(other)
        terms = [f"{self.factor(x)} \\cdot {self.factor(y)}" for x, y in pairs]
        lines = [" + ".join(terms[k:k + TERMS_PER_LINE]) for k in range(0, len(terms), TERMS_PER_LINE)]
        if len(lines) == 1:
            return [f"{_entry(mbar, index)} &= {lines[0]} = {self.number(value)}"]
        return ([f"{_entry(mbar, index)} &= {lines[0]}"] + [f"&\\quad + {line}" for line in lines[1:]]
                + [f"&= {self.number(value)}"])

    # -- softmax + cross-entropy, sigmoid + binary cross-entropy -----------------------------------
    def _only_user(self, node):
        users = self.g.consumers[node.index]
        return (self.g.nodes[users[0][0]], users[0][1]) if len(users) == 1 else (None, None)

    def _scale(self, node) -> Optional[tuple]:
        """How the output scales the entries of ``node`` when it only sums, averages, negates or
        divides it by constants on the way: (number, symbolic divisors), else None."""
        g = self.g
        scale, symbols = Fraction(1), []
        while node.index != g.output:
            up, slot = self._only_user(node)
            if up is None:
                return None
            op = up.op.name
            others = [g.nodes[i] for k, i in enumerate(up.inputs) if k != slot]
            if op in ("sum", "id"):
                pass
            elif op == "mean":
                shape = node.shape
                counted = shape if up.param is None else (shape[int(up.param) % len(shape)],)
                for d in counted:
                    if isinstance(d, str):
                        symbols.append(d)
                    else:
                        scale /= d
            elif op == "neg":
                scale = -scale
            elif op == "div" and slot == 0 and others[0].kind == "const" and others[0].param:
                scale /= others[0].param
            elif op == "mul" and others[0].kind == "const":
                scale *= others[0].param
            else:
                return None
            node = up
        return scale, symbols

    def _coefficient(self, scale: Fraction, symbols: list) -> str:
        """The factor c of ``c (P − Y)``, as LaTeX; empty for 1."""
        den = " ".join(latex_name(s) for s in symbols)
        if scale.denominator != 1:
            den = f"{scale.denominator}{' ' if den else ''}{den}"
        if not den:
            return "" if scale.numerator == 1 else str(scale.numerator)
        return f"\\frac{{{scale.numerator}}}{{{den}}}"

    def _cross_entropy(self, p) -> Optional[tuple]:
        """``p`` → log → ⊙ Y → sums, means, negation and constants → the output: (Y, coefficient)."""
        g = self.g
        log, _ = self._only_user(p)
        if log is None or log.op.name != "log":
            return None
        times, slot = self._only_user(log)
        if times is None or times.op.name != "mul" or times.shape != log.shape:
            return None
        y = g.nodes[times.inputs[1 - slot]]
        if y.shape != p.shape:
            return None
        scaled = self._scale(times)
        if scaled is None or scaled[0] >= 0:
            return None
        return y, -scaled[0], scaled[1]

    def identities(self) -> list:
        g = self.g
        blocks = []
        pairs = [(g.nodes[n.inputs[0]], n) for n in g.nodes if n.op is not None and n.op.name == "softmax"]
        if g.spec:
            pairs += [(g.node(z), g.node(a)) for z, a, _ in g.spec.softmax_cross_entropy
                      if g.node(a).op.name != "softmax"]
        for z, p in pairs:
            found = self._cross_entropy(p)
            if found is not None:
                blocks += self._identity(z, p, *found, kind="softmax")
        for node in g.nodes:
            if node.op is not None and node.op.name == "sigmoid":
                found = self._binary_cross_entropy(node)
                if found is not None:
                    blocks += self._identity(g.nodes[node.inputs[0]], node, *found, kind="sigmoid")
        return blocks

    def _binary_cross_entropy(self, a) -> Optional[tuple]:
        """``-(Y ⊙ log A + (1 − Y) ⊙ log(1 − A))`` reduced to the output: (Y, coefficient)."""
        g = self.g
        users = [g.nodes[dst] for dst, _ in g.consumers[a.index]]
        logs = [u for u in users if u.op.name == "log"]
        ones = [u for u in users if u.op.name == "sub" and g.nodes[u.inputs[0]].kind == "const"
                and g.nodes[u.inputs[0]].param == 1 and g.nodes[u.inputs[1]].index == a.index]
        if len(users) != 2 or len(logs) != 1 or len(ones) != 1:
            return None
        first, _ = self._only_user(logs[0])
        log2, _ = self._only_user(ones[0])
        if log2 is None or log2.op.name != "log" or first is None or first.op.name != "mul":
            return None
        second, _ = self._only_user(log2)
        if second is None or second.op.name != "mul":
            return None
        y = g.nodes[first.inputs[0] if first.inputs[1] == logs[0].index else first.inputs[1]]
        not_y = g.nodes[second.inputs[0] if second.inputs[1] == log2.index else second.inputs[1]]
        if not (not_y.op is not None and not_y.op.name == "sub" and not_y.inputs[1] == y.index
                and g.nodes[not_y.inputs[0]].kind == "const" and g.nodes[not_y.inputs[0]].param == 1):
            return None
        total, _ = self._only_user(first)
        total2, _ = self._only_user(second)
        if total is None or total is not total2 or total.op.name != "add" or y.shape != a.shape:
            return None
        scaled = self._scale(total)
        if scaled is None or scaled[0] >= 0:
            return None
        return y, -scaled[0], scaled[1]

    def _rows_sum_to_one(self, y) -> Optional[bool]:
        """Whether every row of the targets sums to 1 (None with shapes only)."""
        if y.value is None:
            return None
        if not isinstance(y.value, np.ndarray):
            return False
        if y.value.dtype == object:
            rows = y.value.reshape(-1, y.value.shape[-1])
            return all(sum(row, Fraction(0)) == 1 for row in rows)
        return bool(np.allclose(np.sum(y.value, axis=-1), 1.0, rtol=0, atol=1e-9))

    def _identity(self, z, p, y, scale: Fraction, symbols: list, kind: str) -> list:
        """The shortcut ``Z̄ = c (P − Y)`` with its numbers, then why it holds: two blocks."""
        t, J = self.t, self.base.J
        c = self._coefficient(scale, symbols)
        cc = f"{c} " if c else ""
        zbar, P, Y = self.gbar(z), self.name(p), self.name(y)
        delta = self.deltas.get(z.index, (None,))[0]
        lhs = f"{delta} \\equiv {zbar}" if delta else zbar
        rhs = f"{c} \\left({P} - {Y}\\right)" if c else f"{P} - {Y}"
        fields = dict(p=f"${self.tex(p)}$", z=f"${self.tex(z)}$", y=f"${self.tex(y)}$", output=f"${J}$",
                      scaled=t("scaled_by", coefficient=f"${c}$") if c else "",
                      rows=t("row_by_row") if len(p.shape) == 2 else "")
        notes = []
        if kind == "softmax":
            rows = self._rows_sum_to_one(y)
            if rows is False:
                return [Block(lines=[], intro=t("softmax_ce_not_rows", **fields))]
            intro = t("softmax_ce_matrix", **fields)
            if rows is None:
                notes.append(t("identity_rows_assumed", y=f"${self.tex(y)}$"))
            why_intro = t("identity_why_softmax")
            n = "n" if len(p.shape) == 2 else ""
            nj, nk = n + "j", n + "k"
            why = [f"{_entry(zbar, nk)} &= \\sum_{{j}} {_entry(bar(P, 'tex'), nj)} "
                   f"\\frac{{\\partial {_entry(P, nj)}}}{{\\partial {_entry(self.name(z), nk)}}}",
                   f"&= \\sum_{{j}} \\left(-{cc}\\frac{{{_entry(Y, nj)}}}{{{_entry(P, nj)}}}\\right) "
                   f"{_entry(P, nj)} \\left(\\mathbf{{1}}[j = k] - {_entry(P, nk)}\\right)",
                   f"&= {cc}\\left({_entry(P, nk)} \\sum_{{j}} {_entry(Y, nj)} - {_entry(Y, nk)}\\right)"
                   if c else f"&= {_entry(P, nk)} \\sum_{{j}} {_entry(Y, nj)} - {_entry(Y, nk)}",
                   f"&= {cc}\\left({_entry(P, nk)} - {_entry(Y, nk)}\\right)" if c
                   else f"&= {_entry(P, nk)} - {_entry(Y, nk)}"]
        else:
            intro = t("sigmoid_bce_matrix", **fields)
            why_intro = t("identity_why_sigmoid")
            why = [f"{zbar} &= {bar(P, 'tex')} \\odot {P} \\odot \\left(1 - {P}\\right)",
                   f"&= -{cc}\\left(\\frac{{{Y}}}{{{P}}} - \\frac{{1 - {Y}}}{{1 - {P}}}\\right) "
                   f"\\odot {P} \\odot \\left(1 - {P}\\right)",
                   f"&= -{cc}\\left({Y} \\odot \\left(1 - {P}\\right) - \\left(1 - {Y}\\right) \\odot {P}\\right)",
                   f"&= {rhs}"]
        lines = [f"{lhs} &= {rhs}"]
        if not self.shapes_only:
            numbers = self.substituted(lambda name_of: f"{cc}\\left({name_of(p)} - {name_of(y)}\\right)"
                                       if c else f"{name_of(p)} - {name_of(y)}")
            if numbers is not None:
                lines.append(f"&= {numbers}")
            lines.append(f"&= {self.array(z.grad)}")
            notes.append(t("identity_agrees", bar=f"${zbar}$"))
        return [Block(lines=lines, intro=intro, notes=notes), Block(lines=why, intro=why_intro)]

    # -- one gradient-descent step ------------------------------------------------------------------
    def update(self) -> Optional[dict]:
        if self.step is None or self.shapes_only:
            return None
        t = self.t
        eta = self.number(self.step.rate)
        blocks = []
        for name, old, grad, new in self.step.rows:
            node = self.g.node(name)
            p = self.name(node)
            lines = [f"{p} &\\leftarrow {p} - \\eta \\, {self.gbar(node)}"]
            if self.small(old) and self.small(grad):
                lines.append(f"&= {self.operand(old)} - {eta} \\, {self.operand(grad)}")
            lines.append(f"&= {self.array(new)}")
            blocks.append(Block(lines=lines))
        return dict(intro=t("update_intro", eta=f"$\\eta = {eta}$", params=self.base._parameters(),
                            data=t("update_data") if len(self.step.rows) < len(self.g.inputs) else ""),
                    rule="p \\leftarrow p - \\eta \\, \\bar{p}", blocks=blocks,
                    after=t("after", output=f"${self.base.J}$", before=f"${self.number(self.g.out.value)}$",
                            after=f"${self.number(self.step.after)}$"))


def build_matrix_note(base) -> MatrixNote:
    return MatrixNoteBuilder(base).build()
