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

from .errors import DomainError, ValuesError, clip, name_list
from .graph import Graph, gc_paused
from .numeric import LOSES_DIGITS, Number, fmt, tame
from .ops import ONE, ZERO      # the very objects an op's local rule returns (tested by identity)


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
            raise ValuesError(f"{clip(name)!r} is computed by the program; it cannot be given a value")
        if name not in known:
            hint = difflib.get_close_matches(name, needed, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            inputs = name_list(needed) or "none"
            raise ValuesError(f"a value was given for {clip(name)!r}, which the program does not use"
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
UNDERFLOW = f"the result {LOSES_DIGITS}"
TINY = sys.float_info.min     # the smallest normal float64: below it a float keeps fewer digits, or none


def _finite(value: Number) -> Number:
    """A value, or a DomainError when a float computation overflowed to inf, gave NaN, or
    underflowed into the subnormal range."""
    if value.__class__ is float and not (TINY <= abs(value) < math.inf or value == 0):
        if value != value:
            raise DomainError("the result is not a number (NaN)")
        raise DomainError(OVERFLOW if abs(value) == math.inf else UNDERFLOW)
    return value


def needs_matrix(graph: Graph, values: Mapping) -> bool:
    """Matrix mode: a value is a vector or matrix, or the program uses @, .T, sum, mean or softmax."""
    return (any(type(v).__name__ == "ndarray" for v in values.values())
            or any(node.op is not None and node.op.structural for node in graph.nodes))


def evaluate(graph: Graph, values: Mapping[str, Number], hint: Callable = at_hint,
             shapes: Optional[Mapping] = None) -> Graph:
    """Fill in values, local derivatives and gradients on the graph (in place) and return it.
    ``shapes`` (name -> shape) asks for shapes only: matrix mode without numbers."""
    with gc_paused():                       # millions of numbers that all stay alive; see gc_paused
        return _evaluate(graph, values, hint, shapes)


def _evaluate(graph: Graph, values: Mapping[str, Number], hint: Callable, shapes: Optional[Mapping]) -> Graph:
    if shapes is not None or needs_matrix(graph, {**graph.defaults, **values}):
        return evaluate_arrays(graph, values, hint, shapes)
    graph.values = bind_values(graph, values, hint)
    results = forward(graph, graph.values)
    for node, v in zip(graph.nodes, results):
        node.value = v
    for node in graph.nodes:
        if node.op is None:
            continue
        args = [results[i] for i in node.inputs]
        try:
            # ONE and ZERO, the commonest local derivatives (every sum's, a relu's), are tame and finite
            node.local = tuple([d if d is ONE or d is ZERO else _finite(tame(d))
                                for d in node.op.local(args, node.value, node.param)])
        except DomainError as exc:
            raise _located(graph, node, exc, results, "the derivative: ") from None
        except ZeroDivisionError:
            raise _located(graph, node, DomainError("the derivative divides by zero"), results) from None
        except OverflowError:
            raise _located(graph, node, DomainError(OVERFLOW), results, "the derivative: ") from None
        if node.custom:
            node.local = _surrogates(graph, node, args)
        kink = node.op.kink_at(args, graph.operand_names(node)) if node.op.kink else None
        if kink and node.custom and all(node.custom[slot] is not None for slot in kink[2]):
            kink = None                     # the derivative there is the user's rule, not the convention
        if kink:
            graph.warnings.append(f"{node.name} = {graph.formula(node)} is not differentiable {kink[0]}; "
                                  f"using the convention {kink[1]}")
    backward(graph)
    return graph


def surrogate_value(surrogate, args: list) -> Number:
    """A custom gradient's value at the operands ``args``: the rule's own forward walk."""
    rule = surrogate.rule
    return forward(rule, surrogate.operand_values(args))[rule.output]


def _surrogates(graph: Graph, node, args: list) -> tuple:
    """The node's local derivatives with its custom gradients in place of the op's own."""
    local = list(node.local)
    for slot, surrogate in enumerate(node.custom):
        if surrogate is None:
            continue
        try:
            local[slot] = _finite(tame(surrogate_value(surrogate, args)))
        except DomainError as exc:
            where = f" ({node.where})" if node.where else ""
            raise DomainError(f"the custom gradient @grad({surrogate.source}) of {node.name!r}{where}: "
                              f"{exc.message}", **_place(node)) from None
    return tuple(local)


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
                before = grads[src]
                if local is ONE:
                    step = g
                    if before is ZERO and g.__class__ is Fraction:
                        grads[src] = g          # the whole share, tamed and checked already as g
                        continue
                else:
                    step = g * local
                # the first share reaching an exact node is the total so far: no addition of zero
                total = tame(step if before is ZERO and step.__class__ is Fraction else before + step)
                if total.__class__ is float:
                    if 0 < abs(total) < TINY or (step == 0 and local != 0):
                        vanished.append(graph.nodes[src].name)    # a vanishing gradient: kept, and said
                    else:
                        _finite(total)
                grads[src] = total
        except (DomainError, OverflowError) as exc:
            message = exc.message if isinstance(exc, DomainError) else OVERFLOW
            raise DomainError(f"the gradient flowing back through {node.name!r} "
                              f"({node.where or graph.formula(node)}): {message}") from None
    _warn_vanished(graph, vanished)


def _warn_vanished(graph: Graph, vanished: list) -> None:
    """The warning of gradients that lost digits on their way back (kept: the vanishing is real)."""
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
    for name in dict.fromkeys(names):       # --param w --param w: one row
        node = graph.node(name)
        if node.kind != "input":
            raise ValuesError(f"{name!r} is not an input, so it cannot be updated")
        try:
            new = _descend(node.value, rate, node.grad)
        except (DomainError, OverflowError, ZeroDivisionError):
            out = graph.nodes[graph.output].name
            raise DomainError(f"the gradient step {name} − {fmt(rate)}·∂{out}/∂{name} is too large for a 64-bit "
                              f"float: use a smaller learning rate") from None
        rows.append((name, node.value, node.grad, new))
    stepped = dict(graph.values)
    stepped.update({name: new for name, _, _, new in rows})
    try:
        if graph.matrix:
            from .tensor import plain
            return Step(rate, rows, plain(forward_arrays(graph, stepped)[graph.output]))
        return Step(rate, rows, forward(graph, stepped)[graph.output])
    except DomainError as exc:              # the values are the stepped ones, not the user's
        raise DomainError(f"after the gradient step (learning rate {fmt(rate)}): {exc.message}") from None


def _descend(value, rate, grad):
    """value − rate·grad, exact where all three are, for numbers and arrays alike; a DomainError (or
    OverflowError) where a float result would not be finite."""
    if type(value).__name__ != "ndarray":
        return _finite(tame(value - rate * grad))
    import numpy as np
    from .tensor import plain, same_kind, settle
    v, r, g = same_kind([value, rate, grad])
    result = settle(v - r * g)
    if result.dtype.kind == "f" and not np.all(np.isfinite(result)):
        raise DomainError(OVERFLOW)
    return plain(result)


def _located(graph: Graph, node, exc: DomainError, results: list, prefix: str = "") -> DomainError:
    shown = node.text or graph.formula(node)
    if node.named and node.text is not None:
        shown = f"{node.name} = {node.text}"
    args = ", ".join(f"{_shown(graph.nodes[i])} = {fmt(results[i], 6)}"
                     for i in dict.fromkeys(node.inputs) if graph.nodes[i].kind != "const"
                     and results[i] is not None)
    where = f" ({node.where})" if node.where else ""
    at = f" at {args}" if args else ""
    return DomainError(f"{prefix}{exc.message} in {shown!r}{where}{at}", **_place(node))


def _place(node) -> dict:
    """Where a node is, for a DomainError raised at it (a graph spec puts it at its YAML line)."""
    return {"where": node.where, "line": node.pos[0] if node.pos else None} if node.where else {}


def _shown(node) -> str:
    """How the user wrote a node: its name, or for an unnamed one its source text."""
    if node.named or node.kind != "op" or not node.text:
        return node.name
    return node.text


# -- matrix mode: the same two walks over arrays, with shapes inferred first ---------------------------

def infer_shapes(graph: Graph, shapes: Mapping) -> None:
    """Every node's shape from its inputs' shapes, before any number is computed; a mismatch is a
    ShapeError naming the operator, both operands and both shapes, with a caret."""
    from .tensor import ShapeError, described, infer_shape
    for node in graph.nodes:
        if node.kind == "input":
            node.shape = tuple(shapes[node.name])
        elif node.kind == "const":
            node.shape = ()
        else:
            head = _shown_definition(graph, node)

            def fail(message, node=node, head=head):
                raise ShapeError(f"{head}: {message}", source=graph.source, pos=node.pos)
            names = [_shown(graph.nodes[i]) for i in node.inputs]
            node.shape = infer_shape(node.op, [graph.nodes[i].shape for i in node.inputs], node.param, names, fail)
            _warn_outer_broadcast(graph, node, names)
    out = graph.out
    if out.shape:
        total = "J" if out.name != "J" else "loss"          # "J = sum(J)" would assign J twice
        raise ShapeError(f"the output {described(out.name, out.shape)}, and backpropagation starts from a "
                         f"scalar: reduce it, e.g. {total} = sum({out.name}) or {total} = mean({out.name})",
                         source=graph.source, pos=out.pos)


MAX_PRODUCT_WORK = 20_000_000_000  # multiply-adds of all its matrix products (seconds of numpy each way)


def _warn_outer_broadcast(graph: Graph, node, names: list) -> None:
    """numpy's classic surprise: a column and a row-like vector broadcast into a matrix that neither
    operand's shape has (``c + v`` with c 3×1, v of 3 is 3×3). Legal, so a warning, not an error."""
    from .tensor import entries, shape_text
    shapes = [graph.nodes[i].shape for i in node.inputs]
    if node.op.structural or len(shapes) != 2 or not all(shapes) or node.shape in shapes:
        return
    if any(entries(s) is None for s in shapes + [node.shape]):
        return
    graph.warnings.append(f"{_shown_definition(graph, node)}: {names[0]} ({shape_text(shapes[0])}) and {names[1]} "
                          f"({shape_text(shapes[1])}) broadcast into {shape_text(node.shape)}, a shape neither "
                          f"has; if you meant them to line up, give both the same shape")


def _check_work(graph: Graph) -> None:
    """Refuse, before any number, a matrix program whose arrays or products would take more memory or
    time than one run gets."""
    from .tensor import ShapeError, check_run_entries, entries, run_entries
    total = work = 0
    for node in graph.nodes:
        size = run_entries(node.shape, [graph.nodes[i].shape for i in node.inputs])
        if size is None:                   # symbolic dimensions: nothing is computed
            return
        total += size
        if node.op is not None and node.op.structural and len(node.inputs) == 2:
            a, b = (graph.nodes[i].shape for i in node.inputs)
            work += (entries(a) or 1) * (b[-1] if len(b) == 2 else 1)
    check_run_entries(total)
    if work > MAX_PRODUCT_WORK:
        raise ShapeError(f"the program's matrix products take {work:,} multiply-adds, more than the "
                         f"{MAX_PRODUCT_WORK:,} bpviz computes in one run; use smaller arrays or fewer products")


def forward_arrays(graph: Graph, values: Mapping) -> list:
    """Every node's value as an array (matrix mode)."""
    from . import tensor
    result: list = [None] * len(graph.nodes)
    for node in graph.nodes:
        if node.kind == "input":
            v = tensor.as_array(values[node.name])
        elif node.kind == "const":
            v = tensor.as_array(node.param)
        else:
            try:
                v = tensor.forward(node.op, [result[i] for i in node.inputs], node.param,
                                   [_shown(graph.nodes[i]) for i in node.inputs])
            except DomainError as exc:
                raise _located(graph, node, exc, [None] * len(result)) from None
        result[node.index] = v
    return result


def evaluate_arrays(graph: Graph, values: Mapping, hint: Callable = at_hint,
                    shapes: Optional[Mapping] = None) -> Graph:
    """Matrix mode: shapes, then values, local derivatives and vector-Jacobian products."""
    import numpy as np
    from . import tensor
    graph.matrix = True
    for node in graph.nodes:
        if node.op is not None and (node.op.scalar_only or node.custom):
            from .tensor import ShapeError
            what = "custom gradients (@grad, --grad) work" if node.custom else f"{node.op.name}() works"
            raise ShapeError(f"{_shown_definition(graph, node)}: {what} on scalar programs only, not in "
                             f"matrix mode (vectors, matrices, @, .T, sum, mean, softmax)",
                             source=graph.source, pos=node.pos)
    if shapes is not None:
        graph.shapes_only = True
        given = bind_values(graph, {**{k: () for k in graph.defaults}, **shapes},
                            lambda missing: "give " + ("it" if len(missing) == 1 else "them") + " with "
                            + " ".join(f"--shape '{m}=(…)'" for m in missing[:3]))
        infer_shapes(graph, given)
        graph.values = {}
        for node in graph.nodes:            # constants are known even without values
            if node.kind == "const":
                node.value = node.param
        return graph
    graph.values = bind_values(graph, values, hint)
    infer_shapes(graph, {name: np.shape(v) if type(v).__name__ == "ndarray" else ()
                         for name, v in graph.values.items()})
    _check_work(graph)                     # before any number: memory and time a run may take
    results = forward_arrays(graph, graph.values)
    locals_: list = [()] * len(graph.nodes)
    for node in graph.nodes:
        if node.op is None or node.op.structural:
            continue
        args = [results[i] for i in node.inputs]
        try:
            locals_[node.index] = tensor.local(node.op, args, results[node.index], node.param)
        except DomainError as exc:
            raise _located(graph, node, exc, [None] * len(results), "the derivative: ") from None
        if node.op.kink and not callable(node.op.kink):
            zero = np.asarray(tensor.to_float(tensor.as_array(args[0])) == 0)
            if zero.any():
                index = tensor.index_text(tensor.first_index(zero))
                count = int(zero.sum())
                more = f" (and {count - 1} more entries)" if count > 1 else ""
                graph.warnings.append(f"{node.name} = {graph.formula(node)} is not differentiable at "
                                      f"{_shown(graph.nodes[node.inputs[0]])}{index} = 0{more}; using the "
                                      f"convention {node.op.kink}")
    out = results[graph.output]
    grads: list = [None] * len(graph.nodes)
    grads[graph.output] = tensor.as_array(ONE if tensor.exact(out) else 1.0)
    contributions: list = [()] * len(graph.nodes)
    vanished = []
    for node in reversed(graph.nodes):
        g = grads[node.index]
        if node.op is None:
            continue
        shapes_in = [graph.nodes[i].shape for i in node.inputs]
        sent = []
        for slot, src in enumerate(node.inputs):
            args = [results[i] for i in node.inputs]
            with np.errstate(all="ignore"):
                step = tensor.vjp(node.op, slot, g, args, results[node.index], locals_[node.index],
                                  node.param, shapes_in)
                total = step if grads[src] is None else \
                    tensor.settle(np.asarray(np.add(*tensor.same_kind([grads[src], step]))))
            if not tensor.exact(tensor.as_array(total)) and not np.all(np.isfinite(total)):
                raise DomainError(f"the gradient flowing back through {node.name!r} "
                                  f"({node.where or graph.formula(node)}): {OVERFLOW}")
            if tensor.vanishing(node.op, slot, g, locals_[node.index], step, total):
                vanished.append(graph.nodes[src].name)
            sent.append(step)
            grads[src] = total
        contributions[node.index] = tuple(sent)
    _warn_vanished(graph, vanished)
    for node in graph.nodes:
        node.value = tensor.plain(results[node.index])
        node.grad = tensor.plain(grads[node.index])
        node.contrib = tuple(tensor.plain(c) for c in contributions[node.index])
        node.local = ()
    return graph


def _shown_definition(graph: Graph, node) -> str:
    """``Z = X @ W`` as the user wrote it, for a message."""
    text = node.text or graph.formula(node)
    return f"{node.name} = {text}" if node.named else text
