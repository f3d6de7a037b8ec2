"""A network's derivation in δ form, as data: the way Nielsen, Mazur and the textbooks write it.

Path by path, the chain rule of a network repeats the same factors over and over (the first layer's
bias of a 2-2-2 network is reached along 4 paths of 8 local derivatives). Instead each unit j of a
layer l gets its error signal, the gradient at its pre-activation, ``δ^{(l)}_j ≡ z̄^{(l)}_j``:

* at the output layer from the loss, written as one formula (the generated nodes t1, t2, … that
  compute it step by step are folded back: ``E = ½ Σ_j (y_j − a_j)²``), with the shortcuts
  softmax + cross-entropy and sigmoid + binary cross-entropy ``δ_j = a_j − y_j``;
* below it by the recursion ``δ^{(l)}_j = f′(z^{(l)}_j) Σ_k W^{(l+1)}_{k,j} δ^{(l+1)}_k``, terms with a
  factor 0 left out (and said so);
* then ``W̄^{(l)}_{j,i} = δ^{(l)}_j a^{(l−1)}_i`` and ``b̄^{(l)}_j = δ^{(l)}_j`` (a shared bias: Σ_j δ_j).

The network is read back from the scalar graph's names (``h.W[j,i]``, ``h.b[j]`` or ``h.b``,
``h.z[j]``, ``h.a[j]``, as bpviz.network builds them, with or without ``--group neurons``); a graph
that does not read as layers keeps the chain rule path by path. Like ``note.py`` this module computes
no math: every number is a value, gradient or local derivative of the evaluated graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional

from ..escape import latex_name
from .note import Block, Section, bar

TERMS_PER_LINE = 3          # products W·δ on one line of a δ's numbers
SHORT_SUM = 2               # a sum of up to this many products shares its line with its value
NODES_NAMED = 6             # the loss's generated nodes, named one by one up to this many

_NAME = re.compile(r"^(?P<layer>[^.\s]+)\.(?P<var>[Wbza])(?:\[(?P<j>\d+)(?:,(?P<i>\d+))?\])?$")


@dataclass
class Unit:
    j: int
    z: object
    a: object
    weights: dict                  # i -> the weight node W[j,i]
    bias: object = None            # its own bias node, or the layer's shared one, or None


@dataclass
class Layer:
    name: str
    units: list                    # [Unit], j = 1, 2, …
    inputs: list                   # the layer's inputs, i = 1, 2, …: the network's, or the layer below's a
    activation: str                # the op of its a nodes, or "softmax"
    shared: object = None          # one bias node shared by the units


@dataclass
class Loss:
    kind: str                      # "mse", "cross_entropy", "binary_cross_entropy"
    targets: list                  # one per output unit
    scale: Fraction = Fraction(1)  # mse's factor
    nodes: list = field(default_factory=list)   # the generated nodes that compute it


# -- reading the network back from the graph --------------------------------------------------------

def _operand(g, weight) -> Optional[object]:
    """The input a weight multiplies: the other operand of its product (or of the neuron's affine)."""
    users = g.consumers[weight.index]
    if len(users) != 1:
        return None
    dst, slot = users[0]
    up = g.nodes[dst]
    if up.op.name == "mul" and len(up.inputs) == 2:
        return g.nodes[up.inputs[1 - slot]]
    if up.op.name == "affine" and slot % 2 == 0 and slot + 1 < len(up.inputs):
        return g.nodes[up.inputs[slot + 1]]
    return None


def _activation(g, units: list) -> Optional[str]:
    ops = set()
    for u in units:
        a = u.a
        if a.op.name == "div" and (a.group or "").endswith(".softmax"):
            ops.add("softmax")
        elif len(a.inputs) == 1 and a.inputs[0] == u.z.index:
            ops.add(a.op.name)
        else:
            return None
    return ops.pop() if len(ops) == 1 else None


def read_network(g) -> Optional[list]:
    """The layers of a network spec's scalar graph, input to output, or None when it does not read
    as one (an expression program, a graph spec, the matrix view)."""
    if g.matrix or g.spec is None or g.spec.values_key != "inputs" or not g.params:
        return None
    found, order = {}, []
    for node in g.nodes:
        m = _NAME.match(node.name)
        if not m:
            continue
        layer, var, j, i = m["layer"], m["var"], m["j"], m["i"]
        entry = found.setdefault(layer, {"W": {}, "b": {}, "z": {}, "a": {}, "shared": None})
        if layer not in order:
            order.append(layer)
        if var == "W" and j and i and node.kind == "input":
            entry["W"][(int(j), int(i))] = node
        elif var == "b" and not i and node.kind == "input":
            if j:
                entry["b"][int(j)] = node
            else:
                entry["shared"] = node
        elif var in "za" and j and not i and node.kind == "op":
            entry[var][int(j)] = node
        else:
            return None
    layers = []
    for name in order:
        e = found[name]
        js = sorted(e["z"])
        if not js or js != list(range(1, len(js) + 1)) or sorted(e["a"]) != js:
            return None
        units, inputs = [], {}
        for j in js:
            weights = {i: w for (k, i), w in e["W"].items() if k == j}
            for i, w in weights.items():
                operand = _operand(g, w)
                if operand is None or inputs.setdefault(i, operand) is not operand:
                    return None
            units.append(Unit(j, e["z"][j], e["a"][j], weights, e["b"].get(j) or e["shared"]))
        if sorted(inputs) != list(range(1, len(inputs) + 1)) or not inputs:
            return None
        activation = _activation(g, units)
        if activation is None:
            return None
        layers.append(Layer(name, units, [inputs[i] for i in sorted(inputs)], activation, e["shared"]))
    for below, above in zip(layers, layers[1:]):
        if [u.a.index for u in below.units] != [n.index for n in above.inputs]:
            return None
    return layers or None


def _only(g, node, op: str, slot: Optional[int] = None):
    """The one user of ``node`` that is an ``op`` (at ``slot``), or None."""
    users = [(g.nodes[d], s) for d, s in g.consumers[node.index] if g.nodes[d].op.name == op
             and (slot is None or s == slot)]
    return users[0][0] if len(users) == 1 else None


def _weight(g, log) -> Optional[Fraction]:
    """The constant a log is multiplied by in a cross-entropy (1 when it is not)."""
    times = _only(g, log, "mul")
    if times is None:
        return Fraction(1)
    other = g.nodes[times.inputs[0] if times.inputs[1] == log.index else times.inputs[1]]
    return other.param if other.kind == "const" else None


def read_loss(g, last: Layer) -> Optional[Loss]:
    """The loss as bpviz.network's LOSSES build it: its kind, targets and scale, or None."""
    out = g.out
    acts = [u.a for u in last.units]
    before = min(a.index for a in acts)
    nodes = [n for n in g.nodes if n.kind == "op" and n.index > before and n.index != g.output
             and not _NAME.match(n.name) and not (n.group or "").endswith(".softmax")]
    differences = [_only(g, a, "sub", 1) for a in acts]
    if all(d is not None and g.nodes[d.inputs[0]].kind == "const" for d in differences):
        squares = [_only(g, d, "powc") for d in differences]
        if any(s is None or s.param != 2 for s in squares):
            return None
        scale = Fraction(1)
        if out.op.name == "mul":
            const = [g.nodes[i] for i in out.inputs if g.nodes[i].kind == "const"]
            if len(const) != 1:
                return None
            scale = const[0].param
        elif out.op.name not in ("add", "id"):
            return None
        return Loss("mse", [g.nodes[d.inputs[0]].param for d in differences], scale, nodes)
    if out.op.name != "neg":
        return None
    targets, binary = [], False
    for a in acts:
        log = _only(g, a, "log")
        complement = _only(g, a, "sub", 1)
        if complement is not None:
            one = g.nodes[complement.inputs[0]]
            if one.kind != "const" or one.param != 1 or _only(g, complement, "log") is None:
                return None
            binary = True
        weight = _weight(g, log) if log is not None else Fraction(0)
        if weight is None:
            return None
        targets.append(weight)
    if not binary and last.activation == "sigmoid" and all(y == 1 for y in targets):
        binary = True              # −log a: binary cross-entropy with targets 1 (the same function)
    return Loss("binary_cross_entropy" if binary else "cross_entropy", targets, Fraction(1), nodes)


# -- typesetting --------------------------------------------------------------------------------------

def symbol(layer: str, var: str, *index) -> str:
    """``z^{(h)}_{j}`` for (h, z, j), as bpviz names h.z[1] in LaTeX."""
    base = latex_name(f"{layer}.{var}")
    return base + ("_{" + ",".join(str(i) for i in index) + "}" if index else "")


def delta(layer: str, *index) -> str:
    return "\\delta" + symbol(layer, "z", *index)[1:]


# the slope f′(z) of each activation, in its unit's a and z
SLOPES = {
    "sigmoid": ("\\sigma'", lambda a, z: f"{a}\\left(1 - {a}\\right)"),
    "tanh": ("\\tanh'", lambda a, z: f"1 - {{{a}}}^{{2}}"),
    "relu": ("\\operatorname{ReLU}'", lambda a, z: f"\\mathbf{{1}}\\left[{z} > 0\\right]"),
    "id": (None, lambda a, z: "1"),
}


class DeltaBuilder:
    def __init__(self, base, layers: list):
        self.base, self.g, self.t = base, base.g, base.t
        self.layers = layers
        self.last = layers[-1]
        self.loss = read_loss(self.g, self.last)
        self.y = base.target_symbol()
        self.J = base.J

    # numbers
    def num(self, value) -> str:
        return self.base.num(value)

    def operand(self, value) -> str:
        return self.base.operand(value)

    def tex(self, node) -> str:
        return self.base.tex(node)

    def slope(self, layer: Layer, j="j") -> tuple:
        """(f′(z_j) as written, what it is in a and z) for a layer's activation."""
        a, z = symbol(layer.name, "a", j), symbol(layer.name, "z", j)
        name, rule = SLOPES.get(layer.activation, (None, None))
        if rule is None:          # an activation without a short rule: the op table's own
            unit = layer.units[0]
            return (f"f'\\left({z}\\right)",
                    self.g.local_formula(unit.a, 0, "tex", lambda n: z if n is unit.z else a))
        return (f"{name}\\left({z}\\right)" if name else "", rule(a, z))

    # -- the section ----------------------------------------------------------------------------
    def build(self) -> tuple:
        t = self.t
        blocks = self.output_layer()
        for layer, above in reversed(list(zip(self.layers, self.layers[1:]))):
            blocks += self.hidden_layer(layer, above)
        covered, params = self.parameters()
        blocks += params
        inputs = self.inputs()
        blocks += inputs[0]
        covered |= inputs[1]
        check = self.check(covered)
        if check:
            blocks.append(Block(lines=[], intro=check))
        intro = self.intro()
        return Section(heading=t("delta_form"), intro=intro, blocks=blocks), covered

    def intro(self) -> str:
        g, t = self.g, self.t
        counts = g.path_counts()
        params = [g.node(p) for p in g.params]
        most = max(params, key=lambda n: counts[n.index]) if params else None
        fields = dict(delta="$\\delta^{(l)}_{j} \\equiv \\bar{z}^{(l)}_{j}$")
        if most is not None and counts[most.index] > 1:
            return t("delta_intro", name=f"${self.tex(most)}$", count=f"{counts[most.index]:,}", **fields)
        return t("delta_intro_short", **fields)

    # -- the output layer ---------------------------------------------------------------------------
    def _loss_formula(self, loss: Loss) -> tuple:
        """(E written as one formula, ā_j in a and y) for the loss."""
        L, y = self.last.name, self.y
        a, yj = symbol(L, "a", "j"), f"{y}_{{j}}"
        if loss.kind == "mse":
            s = loss.scale
            factor = "" if s == 1 else f"\\frac{{{s.numerator}}}{{{s.denominator}}} " if s.denominator != 1 \
                else f"{s.numerator} "
            two = 2 * s
            slope = "" if two == 1 else (f"\\frac{{{two.numerator}}}{{{two.denominator}}}" if two.denominator != 1
                                         else f"{two.numerator}")
            grad = f"{a} - {yj}" if not slope else f"{slope} \\left({a} - {yj}\\right)"
            return (f"{factor}\\sum_{{j}} \\left({yj} - {a}\\right)^{{2}}", grad)
        if loss.kind == "cross_entropy":
            return (f"-\\sum_{{j}} {yj} \\ln {a}", f"-\\frac{{{yj}}}{{{a}}}")
        return (f"-\\sum_{{j}} \\left[{yj} \\ln {a} + \\left(1 - {yj}\\right) \\ln\\left(1 - {a}\\right)\\right]",
                f"\\frac{{{a} - {yj}}}{{{a}\\left(1 - {a}\\right)}}")

    def _loss_block(self) -> tuple:
        """E folded back into one formula with its targets (two blocks), and ā_j in a and y."""
        t, loss = self.t, self.loss
        formula = self._loss_formula(loss)
        nodes = loss.nodes
        names = [f"${self.tex(n)}$" for n in nodes]
        shown = self.base.listing(names) if len(names) <= NODES_NAMED else f"{names[0]}, …, {names[-1]}"
        targets = self.base.listing(f"${self.y}_{{{u.j}}} = {self.num(yv)}$"
                                    for u, yv in zip(self.last.units, loss.targets))
        intro = t("delta_loss", nodes=shown) if nodes else t("delta_loss_direct")
        lines = [f"{self.J} &= {formula[0]}"]
        return [Block(lines=lines, intro=intro, notes=[]),
                Block(lines=[], intro=t("delta_targets", targets=targets))], formula[1]

    def output_layer(self) -> list:
        t, L, layer, loss = self.t, self.last.name, self.last, self.loss
        blocks = []
        heading = t("delta_output_layer", layer=f"${_layer_tex(L)}$")
        if loss is None:
            lines = [f"{bar(self.tex(u.a))} &= {self.num(u.a.grad)}" for u in layer.units]
            blocks.append(Block(lines=lines, intro=t("delta_unknown"), heading=heading))
            blocks.append(self._output_deltas(layer))
            return blocks
        loss_blocks, grad = self._loss_block()
        loss_blocks[0].heading = heading
        blocks += loss_blocks
        ys = loss.targets
        if layer.activation == "softmax" and loss.kind == "cross_entropy":
            total = sum(ys, Fraction(0))
            if total == 1:
                rule = f"{delta(L, 'j')} &= {symbol(L, 'a', 'j')} - {self.y}_{{j}}"
                lines = [rule] + [f"{delta(L, u.j)} &= {self.num(u.a.value)} - {self.operand(yv)} = "
                                  f"{self.num(u.z.grad)}" for u, yv in zip(layer.units, ys)]
                blocks.append(Block(lines=lines, intro=t("delta_softmax_ce")))
            else:
                rule = (f"{delta(L, 'j')} &= {symbol(L, 'a', 'j')} \\sum_{{k}} {self.y}_{{k}} - {self.y}_{{j}}")
                lines = [rule] + [f"{delta(L, u.j)} &= {self.num(u.a.value)} \\cdot {self.operand(total)} - "
                                  f"{self.operand(yv)} = {self.num(u.z.grad)}" for u, yv in zip(layer.units, ys)]
                blocks.append(Block(lines=lines, intro=t("delta_softmax_ce_sum", total=f"${self.num(total)}$")))
            return blocks
        if layer.activation == "sigmoid" and loss.kind == "binary_cross_entropy":
            lines = [f"{delta(L, 'j')} &= {symbol(L, 'a', 'j')} - {self.y}_{{j}}"]
            lines += [f"{delta(L, u.j)} &= {self.num(u.a.value)} - {self.operand(yv)} = {self.num(u.z.grad)}"
                      for u, yv in zip(layer.units, ys)]
            blocks.append(Block(lines=lines, intro=t("delta_sigmoid_bce")))
            return blocks
        lines = [f"{bar(symbol(L, 'a', 'j'))} &= {grad}"]
        for u, yv in zip(layer.units, ys):
            lines.append(f"{bar(self.tex(u.a))} &= {self._grad_numbers(u, yv)} = {self.num(u.a.grad)}")
        blocks.append(Block(lines=lines, intro=t("delta_output_grad")))
        blocks.append(self._output_deltas(layer))
        return blocks

    def _grad_numbers(self, unit: Unit, y) -> str:
        """ā_j of the loss with the numbers in."""
        loss, a = self.loss, self.num(unit.a.value)
        y = self.operand(y)
        if loss.kind == "mse":
            two = 2 * loss.scale
            return f"{a} - {y}" if two == 1 else f"{self.operand(two)} \\cdot \\left({a} - {y}\\right)"
        if loss.kind == "cross_entropy":
            return f"-\\frac{{{y}}}{{{a}}}"
        return f"\\frac{{{a} - {y}}}{{{a} \\cdot \\left(1 - {a}\\right)}}"

    def _output_deltas(self, layer: Layer) -> Block:
        """δ_j = f′(z_j) ā_j at the output (or, after a softmax, through its Jacobian)."""
        t, L = self.t, layer.name
        if layer.activation == "softmax":
            a_j, a_k = symbol(L, "a", "j"), symbol(L, "a", "k")
            lines = [f"{delta(L, 'j')} &= {a_j} \\left({bar(a_j)} - \\sum_{{k}} {a_k} \\, {bar(a_k)}\\right)"]
            mixed = sum((u.a.value * u.a.grad for u in layer.units), 0 * layer.units[0].a.value)
            for u in layer.units:
                lines.append(f"{delta(L, u.j)} &= {self.num(u.a.value)} \\cdot \\left({self.num(u.a.grad)} - "
                             f"{self.operand(mixed)}\\right) = {self.num(u.z.grad)}")
            return Block(lines=lines, intro=t("delta_softmax"))
        written, rule = self.slope(layer)
        a_bar = bar(symbol(L, "a", "j"))
        if layer.activation == "id":
            lines = [f"{delta(L, 'j')} &= {a_bar}"]
        else:
            lines = [f"{delta(L, 'j')} &= {written} \\, {a_bar}, \\qquad {written} = {rule}"]
        for u in layer.units:
            slope = "" if layer.activation == "id" else f"{self.num(u.a.local[0])} \\cdot {self.operand(u.a.grad)} = "
            lines.append(f"{delta(L, u.j)} &= {slope}{self.num(u.z.grad)}")
        return Block(lines=lines, intro=t("delta_output_linear" if layer.activation == "id" else "delta_output"))

    # -- the layers below -----------------------------------------------------------------------------
    def hidden_layer(self, layer: Layer, above: Layer) -> list:
        t, L, A = self.t, layer.name, above.name
        written, rule = self.slope(layer)
        sum_ = f"\\sum_{{k}} {symbol(A, 'W', 'k', 'j')} \\, {delta(A, 'k')}"
        lines = [f"{delta(L, 'j')} &= {written + ' ' if written else ''}{sum_}"
                 + (f", \\qquad {written} = {rule}" if written else "")]
        dropped, inactive = 0, []
        for u in layer.units:
            slope = u.a.local[0]
            head = f"{delta(L, u.j)} &= "
            if slope == 0:
                inactive.append(f"${symbol(L, 'z', u.j)} = {self.num(u.z.value)}$")
                lines.append(f"{head}0 \\cdot \\left(\\ldots\\right) = 0")
                continue
            terms = []
            for v in above.units:
                w, d = v.weights[u.j].value, v.z.grad
                if w == 0 or d == 0:
                    dropped += 1
                    continue
                terms.append(f"{self.operand(w)} \\cdot {self.operand(d)}")
            linear = layer.activation == "id"            # a = z: no slope to multiply by
            factor = "" if linear else f"{self.num(slope)} \\cdot "
            open_, close = ("", "") if linear else ("\\left(", "\\right)")
            if not terms:
                lines.append(f"{head}{factor}0 = 0")
                continue
            if len(terms) == 1:
                lines.append(f"{head}{factor}{open_}{terms[0]}{close} = {self.num(u.z.grad)}")
                continue
            chunks = [" + ".join(terms[k:k + TERMS_PER_LINE]) for k in range(0, len(terms), TERMS_PER_LINE)]
            then = "" if linear else f"{factor}{self.operand(u.a.grad)} = "
            if len(terms) <= SHORT_SUM:
                lines.append(f"{head}{factor}{open_}{chunks[0]}{close} = {then}{self.num(u.z.grad)}")
                continue
            if len(chunks) == 1:
                lines.append(f"{head}{factor}{open_}{chunks[0]}{close}")
            else:
                opened, closed = ("", "") if linear else ("\\bigl(", "\\bigr)")
                lines.append(f"{head}{factor}{opened}{chunks[0]}")
                lines += [f"&\\quad + {c}" for c in chunks[1:-1]]
                lines.append(f"&\\quad + {chunks[-1]}{closed}")
            lines.append(f"&= {then}{self.num(u.z.grad)}")
        notes = []
        if dropped:
            notes.append(t("delta_zero_terms", count=dropped))
        if inactive:
            notes.append(t("delta_inactive", units=self.base.listing(inactive)))
        intro = t("delta_hidden_linear" if layer.activation == "id" else "delta_hidden",
                  layer=f"${_layer_tex(L)}$", above=f"${_layer_tex(A)}$")
        return [Block(lines=lines, intro=intro, notes=notes,
                      heading=t("delta_hidden_layer", layer=f"${_layer_tex(L)}$"))]

    # -- weights and biases ---------------------------------------------------------------------------
    def parameters(self) -> tuple:
        t, wrt = self.t, set(self.base.wrt)
        blocks, covered = [], set()
        general = [f"{bar(symbol('l', 'W', 'j', 'i'))} &= {delta('l', 'j')} \\, a^{{(l-1)}}_{{i}}",
                   f"{bar(symbol('l', 'b', 'j'))} &= {delta('l', 'j')}"]
        if any(u.bias is not None and u.bias is layer.shared for layer in self.layers for u in layer.units):
            general.append(f"{bar(symbol('l', 'b'))} &= \\sum_{{j}} {delta('l', 'j')}")
        first = True
        for layer in reversed(self.layers):
            L = layer.name
            lines, quiet = [], []
            for u in layer.units:
                d = u.z.grad
                mine = [w for i, w in sorted(u.weights.items()) if w.name in wrt]
                own_bias = u.bias is not None and u.bias is not layer.shared and u.bias.name in wrt
                if not mine and not own_bias:
                    continue
                covered |= {w.name for w in mine} | ({u.bias.name} if own_bias else set())
                if d == 0:
                    quiet.append(f"${delta(L, u.j)}$")
                    continue
                for i, w in sorted(u.weights.items()):
                    if w.name not in wrt:
                        continue
                    x = layer.inputs[i - 1]
                    lines.append(f"{bar(self.tex(w))} &= {delta(L, u.j)} \\, {self.tex(x)} = "
                                 f"{self.operand(d)} \\cdot {self.operand(x.value)} = {self.num(w.grad)}")
                if own_bias:
                    lines.append(f"{bar(self.tex(u.bias))} &= {delta(L, u.j)} = {self.num(u.bias.grad)}")
            if layer.shared is not None and layer.shared.name in wrt:
                covered.add(layer.shared.name)
                live = [u for u in layer.units if u.z.grad != 0]
                lines += _sum_rows(bar(self.tex(layer.shared)), [delta(L, u.j) for u in live],
                                   [self.operand(u.z.grad) for u in live], self.num(layer.shared.grad))
            notes = [t("delta_zero_unit", units=self.base.listing(quiet))] if quiet else []
            if not lines and not notes:
                continue
            if first:
                blocks.append(Block(lines=general, intro=t("delta_params_intro"), heading=t("delta_params")))
                first = False
            blocks.append(Block(lines=lines, notes=notes,
                                intro=t("delta_params_layer", layer=f"${_layer_tex(L)}$")))
        return covered, blocks

    def inputs(self) -> tuple:
        """The network's inputs, when asked for: x̄_i = Σ_j W_{j,i} δ_j of the first layer."""
        wrt, first = set(self.base.wrt), self.layers[0]
        lines, covered = [], set()
        for i, x in enumerate(first.inputs, start=1):
            if x.name not in wrt or x.kind != "input":
                continue
            covered.add(x.name)
            live = [u for u in first.units if u.weights[i].value != 0 and u.z.grad != 0]
            lines += _sum_rows(bar(self.tex(x)),
                               [f"{self.tex(u.weights[i])} \\, {delta(first.name, u.j)}" for u in first.units],
                               [f"{self.operand(u.weights[i].value)} \\cdot {self.operand(u.z.grad)}" for u in live],
                               self.num(x.grad), per_line=TERMS_PER_LINE)
        if not lines:
            return [], covered
        return [Block(lines=lines, intro=self.t("delta_inputs"), heading=self.t("delta_inputs_heading"))], covered

    def check(self, covered: set) -> Optional[str]:
        """sympy's own derivative of the whole expression, where it was computed: agrees or not."""
        closed = self.base.closed
        if not closed:
            return None
        forms = {name: form for name, form in closed.items() if name in covered}
        if not forms:
            return None
        wrong = [name for name, form in forms.items() if not form.agrees]
        if wrong:
            return self.t("delta_check_failed", names=self.base.listing(f"${latex_name(n)}$" for n in wrong))
        return self.t("delta_checked", output=f"${self.J}$")


def _sum_rows(lhs: str, symbols: list, numbers: list, value: str, per_line: int = 4) -> list:
    r"""``lhs = Σ symbols = Σ numbers = value`` as aligned rows, a long sum broken after ``per_line`` terms.

    >>> _sum_rows("\\bar{b}", ["d_1", "d_2"], ["1", "2"], "3")
    ['\\bar{b} &= d_1 + d_2 = 1 + 2 = 3']
    >>> _sum_rows("\\bar{b}", ["d_1", "d_2", "d_3"], ["3"], "3", per_line=2)
    ['\\bar{b} &= d_1 + d_2', '&\\quad + d_3', '&= 3']
    """
    def pieces(terms):
        return [" + ".join(terms[k:k + per_line]) for k in range(0, len(terms), per_line)] or ["0"]
    sym, num = pieces(symbols), pieces(numbers)
    if len(sym) == 1 and len(num) == 1:
        shown = f" = {num[0]}" if len(numbers) > 1 else ""
        return [f"{lhs} &= {sym[0]}{shown} = {value}"]
    rows = [f"{lhs} &= {sym[0]}"] + [f"&\\quad + {p}" for p in sym[1:]]
    if len(numbers) > 1:
        rows += [f"&= {num[0]}"] + [f"&\\quad + {p}" for p in num[1:]]
    return rows + [f"&= {value}"]


def _layer_tex(name: str) -> str:
    """A layer's name as the superscripts write it: h, \\mathrm{h1}."""
    tex = latex_name(f"{name}.z")
    return tex[tex.index("(") + 1:tex.rindex(")")]


def build_delta(base, layers: list) -> tuple:
    """The δ-form section of a network's note, and the names whose gradients it derives."""
    return DeltaBuilder(base, layers).build()
