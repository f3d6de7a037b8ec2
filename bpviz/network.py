"""Dense networks as computation graphs: layers, activations, losses and weight initialisation.

Takes a validated ``Network`` (bpviz.parse.spec reads and checks the YAML) and builds its scalar
graph node by node, named ``h.W[j,i]``, ``h.b[j]``, ``h.z[j]``, ``h.a[j]`` (1-based). Activations
are the op table's (``activation=`` entries of bpviz.ops) plus layer-level ones such as softmax;
losses are the ``LOSSES`` table below. Adding a loss is one ``Loss`` entry and its tests.
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
    check: Callable        # targets -> a complaint, or None
    scaled: bool = False   # takes ``scale`` (mse's ½)


@dataclass
class Network:
    inputs: dict           # name -> exact value
    layers: list           # [Layer]
    loss: str              # a key of LOSSES
    targets: list
    scale: Fraction = Fraction(1, 2)
    loss_name: str = "L"


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


LOSSES = {
    "mse": Loss(_mse, lambda targets: None, scaled=True),
    "cross_entropy": Loss(_cross_entropy, _probabilities),
    "binary_cross_entropy": Loss(_binary_cross_entropy, _binary),
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
        acts = _build_layer(b, layer, acts, values, params, group)
    out = LOSSES[net.loss].build(b, acts, net.targets, net.scale, net.loss_name)
    graph = b.finish(out)
    graph.params = [p for p in params if p in graph]
    last = net.layers[-1]
    combined = ()
    if net.loss == "cross_entropy" and last.activation == "softmax":
        combined = tuple((f"{last.name}.z[{j}]", f"{last.name}.a[{j}]", t)
                         for j, t in enumerate(net.targets, start=1))
    graph.spec = SpecInfo(values_key="inputs", softmax_cross_entropy=combined)
    return graph, values


def network_size(units: int, fan_in: int) -> int:
    """About how many scalar nodes a layer adds (weights, products, sums, activation)."""
    return units * (2 * fan_in + 4)
