"""Forward values, local derivatives and gradients: one forward walk, one reverse walk.

Values stay exact (Fractions) while the ops are rational; gradients are upstream × local,
summed over every out-edge (fan-out).
"""

from __future__ import annotations

import difflib
import math
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping, Optional

from .errors import DomainError, ValuesError, name_list
from .graph import Graph
from .numeric import Number, fmt, tame

ONE, ZERO = Fraction(1), Fraction(0)


def at_hint(missing: list) -> str:
    """How to give missing values on the command line: ``give it with --at x=...``."""
    example = " ".join(f"--at {m}=..." for m in missing[:3])
    return f"give {'it' if len(missing) == 1 else 'them'} with {example}"


def bind_values(graph: Graph, values: Mapping[str, Number], hint: Callable = at_hint) -> dict:
    """Check the given values against the graph's inputs; return them by name.

    ``hint(missing)`` says how to supply missing values (the command line's ``--at``, a spec's key).
    """
    values = {**graph.defaults, **values}         # a value given outside the program wins
    needed = [n.name for n in graph.inputs]
    known = set(graph.names) | set(needed)
    assigned = set(graph.assigned)
    for name in values:
        if name in assigned and name not in needed:
            raise ValuesError(f"{name!r} is computed by the program; it cannot be given a value")
        if name not in known:
            hint = difflib.get_close_matches(name, needed, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            inputs = name_list(needed) or "none"
            raise ValuesError(f"a value was given for {name!r}, which the program does not use"
                              f"{extra} (its inputs: {inputs})")
    missing = [name for name in needed if name not in values]
    if missing:
        raise ValuesError(f"no value for {name_list(missing)} ({hint(missing)})")
    return {name: values[name] for name in needed}


def forward(graph: Graph, values: Mapping[str, Number], exact: bool = True) -> list:
    """Compute every node's value; return them as a list by node index."""
    nodes = graph.nodes
    result: list = [None] * len(nodes)
    for node in nodes:
        if node.kind == "input":
            v = values[node.name]
            v = v if exact else float(v)
        elif node.kind == "const":
            v = node.param if exact else float(node.param)
        else:
            args = [result[i] for i in node.inputs]
            try:
                v = _finite(node.op.forward(args, node.param))
            except DomainError as exc:
                raise _located(graph, node, exc, result) from None
            except ZeroDivisionError:
                raise _located(graph, node, DomainError("division by zero"), result) from None
            except OverflowError:
                raise _located(graph, node, DomainError(OVERFLOW), result) from None
        result[node.index] = v
    return result


OVERFLOW = "the result is too large for a 64-bit float"
UNDERFLOW = "the result is too small for a 64-bit float (it would lose its digits)"
TINY = sys.float_info.min


def _finite(value: Number) -> Number:
    """A value, or a DomainError when a float computation overflowed to inf, gave NaN, or
    underflowed into the subnormal range."""
    if value.__class__ is float and not (TINY <= abs(value) < math.inf or value == 0):
        if value != value:
            raise DomainError("the result is not a number (NaN)")
        raise DomainError(OVERFLOW if abs(value) == math.inf else UNDERFLOW)
    return value


def evaluate(graph: Graph, values: Mapping[str, Number], hint: Callable = at_hint) -> Graph:
    """Fill in values, local derivatives and gradients on the graph (in place) and return it."""
    graph.values = bind_values(graph, values, hint)
    results = forward(graph, graph.values)
    for node, v in zip(graph.nodes, results):
        node.value = v
    for node in graph.nodes:
        if node.op is None:
            continue
        args = [results[i] for i in node.inputs]
        try:
            node.local = tuple(_finite(tame(d)) for d in node.op.local(args, node.value, node.param))
        except DomainError as exc:
            raise _located(graph, node, exc, results, "the derivative: ") from None
        except ZeroDivisionError:
            raise _located(graph, node, DomainError("the derivative divides by zero"), results) from None
        except OverflowError:
            raise _located(graph, node, DomainError(OVERFLOW), results, "the derivative: ") from None
        kink = node.op.kink_at(args, graph.operand_names(node)) if node.op.kink else None
        if kink:
            graph.warnings.append(f"{node.name} = {graph.formula(node)} is not differentiable {kink[0]}; "
                                  f"using the convention {kink[1]}")
    backward(graph)
    return graph


def backward(graph: Graph) -> None:
    """One reverse topological walk: grad(input) += grad(node) × local, over every out-edge."""
    grads: list = [ZERO] * len(graph.nodes)
    grads[graph.output] = ONE
    vanished = []
    for node in reversed(graph.nodes):
        g = grads[node.index]
        node.grad = g
        if node.op is None or g == 0:
            continue
        try:
            for src, local in zip(node.inputs, node.local):
                step = g * local
                total = tame(grads[src] + step)
                if total.__class__ is float and (0 < abs(total) < TINY or (step == 0 and local != 0)):
                    vanished.append(graph.nodes[src].name)        # a vanishing gradient: kept, and said
                else:
                    _finite(total)
                grads[src] = total
        except (DomainError, OverflowError) as exc:
            message = exc.message if isinstance(exc, DomainError) else OVERFLOW
            raise DomainError(f"the gradient flowing back through {node.name!r} "
                              f"({node.where or graph.formula(node)}): {message}") from None
    vanished = [name for name in dict.fromkeys(vanished) if graph.node(name).kind != "const"]
    if vanished:
        graph.warnings.append(f"gradients below 2.2e-308 reach {name_list(vanished, 5)}: a 64-bit float "
                              f"keeps fewer digits there, or none (shown as 0); the vanishing gradient is "
                              f"real, those digits are not")


@dataclass
class Step:
    """One gradient-descent step: the rate, [(name, old, grad, new)], and the output after it."""
    rate: Number
    rows: list
    after: Number


def gradient_step(graph: Graph, rate: Number, params: Optional[list] = None) -> Step:
    """One gradient-descent step p ← p − rate·∂out/∂p on ``params`` (default: a network's
    parameters, or every input)."""
    names = params if params is not None else graph.params or [n.name for n in graph.inputs]
    rows = []
    for name in names:
        node = graph.node(name)
        if node.kind != "input":
            raise ValuesError(f"{name!r} is not an input, so it cannot be updated")
        rows.append((name, node.value, node.grad, tame(node.value - rate * node.grad)))
    stepped = dict(graph.values)
    stepped.update({name: new for name, _, _, new in rows})
    return Step(rate, rows, forward(graph, stepped)[graph.output])


def _located(graph: Graph, node, exc: DomainError, results: list, prefix: str = "") -> DomainError:
    shown = node.text or graph.formula(node)
    if node.named and node.text is not None:
        shown = f"{node.name} = {node.text}"
    args = ", ".join(f"{_shown(graph.nodes[i])} = {fmt(results[i], 6)}"
                     for i in dict.fromkeys(node.inputs) if graph.nodes[i].kind != "const"
                     and results[i] is not None)
    where = f" ({node.where})" if node.where else ""
    at = f" at {args}" if args else ""
    return DomainError(f"{prefix}{exc.message} in {shown!r}{where}{at}")


def _shown(node) -> str:
    """How the user wrote a node: its name, or for an unnamed one its source text."""
    if node.named or node.kind != "op" or not node.text:
        return node.name
    return node.text
