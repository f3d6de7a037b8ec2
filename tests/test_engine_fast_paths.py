"""The engine's and the JSON printer's fast paths against the general rules they shortcut, on random
inputs: backward's shares of ONE, a product's underflow check, the JSON
text of edges' local derivatives."""

import math
import random
from fractions import Fraction

import pytest

from bpviz import autodiff
from bpviz.errors import BpvizError, DomainError, name_list
from bpviz.numeric import tame
from bpviz.ops import ONE, OPS, ZERO, _underflow
from bpviz.parse.expr import parse_program
from bpviz.render.json_out import _STRING, _derivatives, _edge_formulas


def _reference_backward(graph) -> None:
    """backward's rule without its fast paths: every share multiplied, added, tamed and checked."""
    grads = [ZERO] * len(graph.nodes)
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
                if total.__class__ is float and (0 < abs(total) < autodiff.TINY or (step == 0 and local != 0)):
                    vanished.append(graph.nodes[src].name)
                else:
                    autodiff._finite(total)
                grads[src] = total
        except (DomainError, OverflowError) as exc:
            message = exc.message if isinstance(exc, DomainError) else autodiff.OVERFLOW
            raise DomainError(f"the gradient flowing back through {node.name!r} "
                              f"({node.where or graph.formula(node)}): {message}") from None
    vanished = [name for name in dict.fromkeys(vanished) if graph.node(name).kind != "const"]
    if vanished:
        graph.warnings.append(f"gradients below 2.2e-308 reach {name_list(vanished, 5)}: a 64-bit float "
                              f"keeps fewer digits there, or none (shown as 0); the vanishing gradient is "
                              f"real, those digits are not")


def _outcome(program: str, values: dict) -> tuple:
    """Every node's gradient (its kind and exact value, a float's sign of zero too) and the warnings,
    or the error."""
    try:
        graph = autodiff.evaluate(parse_program(program), values)
    except BpvizError as exc:
        return ("error", str(exc))
    grads = [(type(n.grad).__name__, repr(n.grad), math.copysign(1, n.grad) if n.grad == 0 else 0)
             for n in graph.nodes]
    return grads, graph.warnings


_NUMBERS = ["1e-300", "0", "1", "-1", "2", "0.5", "1/3", "1e-200", "1e200", "3e-160"]
_UNARY = ["relu({})", "exp({})", "sigmoid({})", "-({})", "({})**2", "abs({})", "tanh({})", "sign({})"]
_BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / ({})", "max({}, {})"]


def _expression(rng: random.Random, depth: int, names: list) -> str:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(names + _NUMBERS[:len(names)])
    if rng.random() < 0.35:
        return rng.choice(_UNARY).format(_expression(rng, depth - 1, names))
    return rng.choice(_BINARY).format(_expression(rng, depth - 1, names), _expression(rng, depth - 1, names))


def _program(rng: random.Random) -> str:
    """A few lines sharing names (fan-out: several shares reach one node)."""
    lines = [f"u{i} = {_expression(rng, 3, ['x', 'y', f'u{i - 1}' if i else 'z'])}" for i in range(3)]
    return "\n".join(lines) + f"\nJ = {_expression(rng, 2, ['u2', 'u1', 'u0'])}\n"


# a subnormal float gradient reaching a sum, whose operands get it whole (and are named as vanishing)
_VANISHING = ("J = 1e-10 * (exp(x) * (a + b) + 1)\n", {"x": Fraction(-700), "a": ONE, "b": Fraction(2)})


def test_backward_gives_the_general_rule_s_gradients_and_warnings(monkeypatch):
    rng = random.Random(2014)
    compared = floats = vanishing = 0
    for case in range(1500):
        program = _program(rng)
        values = {node.name: Fraction(rng.choice(["0", "1", "-2", "0.5", "3/7", "1e-170", "-1e150"]))
                  for node in parse_program(program).inputs}
        if case == 0:
            program, values = _VANISHING
        fast = _outcome(program, values)
        with monkeypatch.context() as patch:
            patch.setattr(autodiff, "backward", _reference_backward)
            general = _outcome(program, values)
        assert fast == general, program
        if fast[0] != "error":
            compared += 1
            floats += any(kind == "float" for kind, _, _ in fast[0])
            vanishing += any(w.startswith("gradients below") for w in fast[1])
    assert compared > 1000 and floats > 300 and vanishing >= 3, (compared, floats, vanishing)


def _old_underflow(result, *operands):
    if result == 0 and all(operands):
        raise DomainError("the result is too small for a 64-bit float (it underflows to 0)")
    return result


def test_underflow_is_the_general_rule():
    rng = random.Random(7)
    pool = [ZERO, ONE, Fraction(-3, 7), Fraction(1, 10 ** 200), Fraction(10 ** 200), 0.0, -0.0, 1.5,
            1e-200, -1e-200, 1e200, 5e-324]
    for _ in range(5000):
        a, b = rng.choice(pool), rng.choice(pool)
        for make in (lambda: tame(a * b), lambda: tame(a / b) if b else None):
            result = make()
            if result is None:
                continue
            try:
                expected = ("ok", _old_underflow(result, a, b))
            except DomainError as exc:
                expected = ("error", exc.message)
            try:
                got = ("ok", _underflow(result, a, b))
            except DomainError as exc:
                got = ("error", exc.message)
            assert got == expected, (a, b)


_NAMES = ["x", "w1", "-2", "1/3", "h.W[1,2]", "θ", "a0_1", "y_hat"]


@pytest.mark.parametrize("op", [op for op in OPS.values() if not op.structural], ids=lambda op: op.name)
def test_edge_formulas_are_the_derivative_rules_texts(op):
    rng = random.Random(op.name)
    quoted = {name: _STRING(name) for name in _NAMES}
    tex_of = {name: f"\\mathrm{{{name}}}" if len(name) > 2 else name for name in _NAMES}
    for _ in range(60):
        arity, param = op.arity, None
        if op.param_field:
            param = Fraction(rng.choice([2, 3, -1, 0, 1]), rng.choice([1, 2]))
        if op.neuron:                       # w1, x1, w2, x2, ..., and a bias when the param is 1
            param = rng.choice([None, ONE])
            arity = 2 * rng.randrange(1, 4) + (1 if param else 0)
        inputs = tuple(rng.randrange(len(_NAMES)) for _ in range(arity))
        args = [_NAMES[i] for i in inputs]
        tex_args = [tex_of[a] for a in args]
        formulas = _edge_formulas([quoted[n] for n in _NAMES], [_STRING(tex_of[n]) for n in _NAMES])
        derivative = _derivatives(_STRING)
        for slot in range(arity):
            expected = (f'{derivative(op, "text", slot, args, "o", param)}, "latex": '
                        f'{derivative(op, "tex", slot, tex_args, "o", param)}')
            assert formulas(op, slot, inputs, args, tex_args, "o", "o", param) == expected
