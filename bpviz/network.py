"""Dense networks as computation graphs: layers, activations, losses and weight initialisation.

Takes a validated ``Network`` (bpviz.parse.spec reads and checks the YAML) and builds its graph in
one of two views. The scalar view (``build_network``) has a node per number, named ``h.W[j,i]``,
``h.b[j]``, ``h.z[j]``, ``h.a[j]`` (1-based). The matrix view (``build_matrix_network``) has a node
per layer quantity, ``x``, ``h.W``, ``h.b``, ``h.z``, ``h.a``, …, ``y``, whose values are arrays
(bpviz.tensor), with the spec's convention: rows of W are units, ``z = W a + b``, samples are columns.
Only the matrix view takes a batch of samples. Activations are the op table's (``activation=``
entries of bpviz.ops) plus layer-level ones such as softmax; losses are the ``LOSSES`` table below.
Adding a loss is one ``Loss`` entry (both views) and its tests.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Optional

from .graph import GraphBuilder, SpecInfo
from .numeric import from_float
from .ops import ACTIVATIONS as ELEMENTWISE

ONE = Fraction(1)


@dataclass
class Layer:
    name: str
    activation: str
    weights: list          # rows (one per unit) of exact numbers, one per input of the layer
    bias: object           # None, one number shared by the units, or a list (one per unit)


@dataclass
class Loss:
    """A loss: how to build it from the outputs, and what its targets must satisfy."""
    build: Callable        # (builder, activations, targets, scale, name) -> node index
    check: Callable        # targets (of one sample) -> a complaint, or None
    scaled: bool = False   # takes ``scale`` (mse's ½)
    build_matrix: Optional[Callable] = None   # matrix view: (builder, a, y, targets, scale, axis, name)
    #   -> the loss of each sample, summed over the units (axis 0 of a batch; axis None: one sample)


@dataclass
class Network:
    inputs: dict           # name -> exact value; with a batch, name -> [value per sample]
    layers: list           # [Layer]
    loss: str              # a key of LOSSES
    targets: list          # one per unit of the last layer; with a batch, one such row per sample
    scale: Fraction = Fraction(1, 2)
    loss_name: str = "L"
    reduction: str = "mean"          # a batch's loss: the mean or the sum of the samples' losses
    samples: Optional[int] = None    # N for a batch (matrix view only); None: one sample

    @property
    def batch(self) -> bool:
        return self.samples is not None


REDUCTIONS = ("mean", "sum")
INPUTS_NODE, TARGETS_NODE = "x", "y"      # the matrix view's names for the inputs and the targets


# -- weight initialisation -------------------------------------------------------------------

def _xavier(rng, units, fan_in):
    limit = math.sqrt(6 / (fan_in + units))
    return lambda: rng.uniform(-limit, limit)


def _he(rng, units, fan_in):
    sigma = math.sqrt(2 / fan_in)
    return lambda: rng.gauss(0.0, sigma)


def _uniform(rng, units, fan_in):
    limit = 1 / math.sqrt(fan_in)
    return lambda: rng.uniform(-limit, limit)


INIT_SCHEMES = {"xavier": _xavier, "he": _he, "uniform": _uniform}


def init_weights(scheme: str, seed: int, units: int, fan_in: int, layer_index: int) -> list:
    """Generated weights, reproducible from (seed, layer), rounded to four decimals: exact,
    readable numbers in every figure and note."""
    rng = random.Random(f"bpviz:{seed}:{layer_index}")
    draw = INIT_SCHEMES[scheme](rng, units, fan_in)
    return [[from_float(round(draw(), 4)) for _ in range(fan_in)] for _ in range(units)]


# -- layers ----------------------------------------------------------------------------------

def _softmax(b: GraphBuilder, layer: Layer, zs: list) -> list:
    n = layer.name
    exps = [b.op("exp", (z,), group=f"{n}.softmax") for z in zs]
    total = exps[0]
    for k, e in enumerate(exps[1:], start=2):
        total = b.op("add", (total, e), name=f"{n}.Σexp" if k == len(exps) else None, group=f"{n}.softmax")
    return [b.op("div", (e, total), name=f"{n}.a[{j}]", group=f"{n}.softmax") for j, e in enumerate(exps, start=1)]


LAYER_ACTIVATIONS = {"softmax": _softmax}        # activations that mix the units of a layer
ACTIVATIONS = tuple(ELEMENTWISE) + tuple(LAYER_ACTIVATIONS)
LAST_LAYER_ONLY = ("softmax",)


def _build_layer(b: GraphBuilder, layer: Layer, acts: list, values: dict, params: list, group: bool) -> list:
    n = layer.name
    shared = None
    if layer.bias is not None and not isinstance(layer.bias, list):
        shared = _param(b, f"{n}.b", layer.bias, values, params)
    zs = []
    for j, row in enumerate(layer.weights, start=1):
        z_name = f"{n}.z[{j}]"
        ws = [_param(b, f"{n}.W[{j},{i}]", w, values, params) for i, w in enumerate(row, start=1)]
        bias = shared
        if isinstance(layer.bias, list):
            bias = _param(b, f"{n}.b[{j}]", layer.bias[j - 1], values, params)
        if group:
            operands = [x for pair in zip(ws, acts) for x in pair] + ([bias] if bias is not None else [])
            zs.append(b.op("affine", tuple(operands), param=Fraction(1 if bias is not None else 0),
                           name=z_name, group=z_name))
            continue
        total = None
        for k, (w, a) in enumerate(zip(ws, acts)):
            final = k == len(ws) - 1 and bias is None
            term = b.op("mul", (w, a), name=z_name if final and total is None else None, group=z_name)
            total = term if total is None else b.op("add", (total, term), name=z_name if final else None,
                                                    group=z_name)
        if bias is not None:
            total = b.op("add", (total, bias), name=z_name, group=z_name)
        zs.append(total)
    if layer.activation in LAYER_ACTIVATIONS:
        return LAYER_ACTIVATIONS[layer.activation](b, layer, zs)
    op = ELEMENTWISE[layer.activation]
    return [b.op(op, (z,), name=f"{n}.a[{j}]") for j, z in enumerate(zs, start=1)]


def _param(b: GraphBuilder, name: str, value, values: dict, params: list) -> int:
    values[name] = value
    params.append(name)
    return b.input(name)


# -- losses ----------------------------------------------------------------------------------

def _sum(b: GraphBuilder, terms: list, name: Optional[str] = None) -> int:
    total = terms[0]
    for k, t in enumerate(terms[1:], start=2):
        total = b.op("add", (total, t), name=name if k == len(terms) else None)
    return total


def _mse(b: GraphBuilder, acts: list, targets: list, scale: Fraction, name: str) -> int:
    squares = [b.op("powc", (b.op("sub", (b.const(t), a)),), param=Fraction(2)) for t, a in zip(targets, acts)]
    if scale == 1:
        return _sum(b, squares, name) if len(squares) > 1 else b.op("id", (squares[0],), name=name)
    return b.op("mul", (b.const(scale), _sum(b, squares)), name=name)


def _weighted_log(b: GraphBuilder, weight: Fraction, p: int) -> int:
    log = b.op("log", (p,))
    return log if weight == 1 else b.op("mul", (b.const(weight), log))


def _cross_entropy(b: GraphBuilder, acts: list, targets: list, scale, name: str) -> int:
    """−Σ t·log(p)."""
    return b.op("neg", (_sum(b, [_weighted_log(b, t, a) for t, a in zip(targets, acts)]),), name=name)


def _binary_cross_entropy(b: GraphBuilder, acts: list, targets: list, scale, name: str) -> int:
    """−Σ t·log(a) + (1 − t)·log(1 − a); a term whose weight is 0 is left out, so a saturated
    output cannot give log(0)."""
    terms = []
    for t, a in zip(targets, acts):
        complement = b.op("sub", (b.const(ONE), a))
        terms += [_weighted_log(b, w, p) for w, p in ((t, a), (ONE - t, complement)) if w != 0]
    return b.op("neg", (_sum(b, terms),), name=name)


def _probabilities(targets: list) -> Optional[str]:
    if any(t < 0 for t in targets):
        return "cross-entropy needs targets ≥ 0 (probabilities)"
    if all(t == 0 for t in targets):
        return "every target is 0, so the loss is identically 0"
    return None


def _binary(targets: list) -> Optional[str]:
    if any(not 0 <= t <= 1 for t in targets):
        return "binary cross-entropy needs targets between 0 and 1"
    return None


# -- losses in the matrix view: a, y are (units,) for one sample, (units, N) for a batch ----------

def _mse_matrix(b: GraphBuilder, a: int, y: int, targets: list, scale: Fraction, axis, name) -> int:
    """scale · Σ_units (y − a)²."""
    squares = b.op("powc", (b.op("sub", (y, a)),), param=Fraction(2))
    if scale == 1:
        return b.op("sum", (squares,), param=axis, name=name)
    return b.op("mul", (b.const(scale), b.op("sum", (squares,), param=axis)), name=name)


def _cross_entropy_matrix(b: GraphBuilder, a: int, y: int, targets: list, scale, axis, name) -> int:
    """−Σ_units y ⊙ log(p)."""
    return b.op("neg", (b.op("sum", (b.op("mul", (y, b.op("log", (a,)))),), param=axis),), name=name)


def _binary_cross_entropy_matrix(b: GraphBuilder, a: int, y: int, targets: list, scale, axis, name) -> int:
    """−Σ_units [y ⊙ log(a) + (1 − y) ⊙ log(1 − a)]; as in the scalar view, a term whose weight is 0
    for every target (all targets 1, or all 0) is left out, so a saturated output cannot give log(0)."""
    ones, zeros = all(t == 1 for t in targets), all(t == 0 for t in targets)
    terms = []
    if not zeros:
        log = b.op("log", (a,))
        terms.append(log if ones else b.op("mul", (y, log)))
    if not ones:
        log = b.op("log", (b.op("sub", (b.const(ONE), a)),))
        terms.append(log if zeros else b.op("mul", (b.op("sub", (b.const(ONE), y)), log)))
    total = terms[0] if len(terms) == 1 else b.op("add", tuple(terms))
    return b.op("neg", (b.op("sum", (total,), param=axis),), name=name)


LOSSES = {
    "mse": Loss(_mse, lambda targets: None, scaled=True, build_matrix=_mse_matrix),
    "cross_entropy": Loss(_cross_entropy, _probabilities, build_matrix=_cross_entropy_matrix),
    "binary_cross_entropy": Loss(_binary_cross_entropy, _binary, build_matrix=_binary_cross_entropy_matrix),
}


# -- the whole network -----------------------------------------------------------------------

def build_network(net: Network, group: bool = False) -> tuple:
    """The network's graph (values not yet computed) and its values: inputs, weights, biases.

    ``group``: each unit's Σ w·x + b is one node (the neuron view).
    """
    b = GraphBuilder()
    values = dict(net.inputs)
    acts = [b.input(name) for name in net.inputs]
    params: list = []
    for layer in net.layers:
        start = len(b.nodes)
        acts = _build_layer(b, layer, acts, values, params, group)
        _placed(b, start, f"layer {layer.name}")
    start = len(b.nodes)
    out = LOSSES[net.loss].build(b, acts, net.targets, net.scale, net.loss_name)
    _placed(b, start, "the loss")
    graph = b.finish(out)
    graph.params = [p for p in params if p in graph]
    last = net.layers[-1]
    combined = ()
    if net.loss == "cross_entropy" and last.activation == "softmax":
        combined = tuple((f"{last.name}.z[{j}]", f"{last.name}.a[{j}]", t)
                         for j, t in enumerate(net.targets, start=1))
    graph.spec = SpecInfo(values_key="inputs", softmax_cross_entropy=combined, places=_places(net))
    return graph, values


def _placed(b: GraphBuilder, start: int, where: str) -> None:
    """Say where the operations made since node ``start`` come from (a layer, the loss): an error at one
    of them (log of 0 in a saturated cross-entropy) names it, at its YAML line (api._at_yaml_line)."""
    for node in b.nodes[start:]:
        if node.kind == "op" and node.where is None:
            node.where = where


def _places(net: Network) -> dict:
    """Each _placed name's path in the spec."""
    return {**{f"layer {layer.name}": ("layers", i) for i, layer in enumerate(net.layers)}, "the loss": ("loss",)}


def network_size(units: int, fan_in: int) -> int:
    """About how many scalar nodes a layer adds (weights, products, sums, activation)."""
    return units * (2 * fan_in + 4)


def matrix_size(units: int, fan_in: int, samples: int) -> int:
    """About how many array entries a layer adds in the matrix view (W, and z, a and their
    gradients for every sample)."""
    return units * fan_in + 4 * units * samples


# -- the matrix view: one node per layer quantity ---------------------------------------------------

def _matrix_softmax(b: GraphBuilder, n: str, z: int, axis) -> int:
    """Softmax over the units (axis 0: samples are columns), drawn as the scalar view draws it:
    exp, the sum of the exponentials ``n.Σexp``, a division (which broadcasts over the units)."""
    exps = b.op("exp", (z,), group=n)
    total = b.op("sum", (exps,), param=axis, name=f"{n}.Σexp", group=n)
    return b.op("div", (exps, total), name=f"{n}.a", group=n)


def build_matrix_network(net: Network) -> tuple:
    """The network's matrix-view graph (values not yet computed) and its values (numpy arrays from
    bpviz.values.value, exact while small).

    ``x`` holds the inputs as a vector (one sample) or as an (inputs, N) matrix (a batch, samples as
    columns); ``h.W`` is (units, fan-in); ``h.b`` a scalar (one shared bias, broadcast), a vector
    (one sample) or a (units, 1) column (a batch, broadcast over the columns); ``h.z = h.W @ a + h.b``;
    ``y`` the targets as ``o.a`` is shaped. The loss is each sample's loss (summed over the units),
    reduced over the samples by ``net.reduction`` (one sample: no reduction).
    """
    from .values import value
    b = GraphBuilder()
    batch = net.batch
    axis = Fraction(0) if batch else None          # the units' axis of a batch; all of a vector
    values: dict = {INPUTS_NODE: value([list(v) for v in net.inputs.values()] if batch
                                       else list(net.inputs.values()), "the inputs")}
    params: list = []
    a = b.input(INPUTS_NODE)
    for layer in net.layers:
        start = len(b.nodes)
        n = layer.name
        w = _param(b, f"{n}.W", value(layer.weights, f"{n}.W"), values, params)
        bias = layer.bias
        if isinstance(bias, list):
            bias = value([[v] for v in bias] if batch else bias, f"{n}.b")
        z = b.op("matmul", (w, a), name=None if bias is not None else f"{n}.z", group=n)
        if bias is not None:
            z = b.op("add", (z, _param(b, f"{n}.b", bias, values, params)), name=f"{n}.z", group=n)
        if layer.activation == "softmax":
            a = _matrix_softmax(b, n, z, axis)
        else:
            a = b.op(ELEMENTWISE[layer.activation], (z,), name=f"{n}.a", group=n)
        _placed(b, start, f"layer {n}")
    flat = [t for row in net.targets for t in row] if batch else list(net.targets)
    # y is (units, N): the spec gives one row per sample, so the rows become columns
    values[TARGETS_NODE] = value([list(col) for col in zip(*net.targets)] if batch else list(net.targets),
                                 "the targets")
    y = b.input(TARGETS_NODE)
    start = len(b.nodes)
    loss = LOSSES[net.loss]
    per_sample = loss.build_matrix(b, a, y, flat, net.scale, axis, None if batch else net.loss_name)
    out = b.op(net.reduction, (per_sample,), name=net.loss_name) if batch else per_sample
    _placed(b, start, "the loss")
    graph = b.finish(out)
    graph.params = [p for p in params if p in graph]
    last = net.layers[-1]
    combined = ()
    if net.loss == "cross_entropy" and last.activation == "softmax":
        combined = ((f"{last.name}.z", f"{last.name}.a", values[TARGETS_NODE]),)
    graph.spec = SpecInfo(values_key="inputs", softmax_cross_entropy=combined,
                          samples=net.samples, reduction=net.reduction, places=_places(net))
    return graph, {name: v for name, v in values.items() if name in graph}
