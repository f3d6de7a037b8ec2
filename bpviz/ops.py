"""The op table: for every primitive, its forward rule, local-derivative rule, and how it reads.

One entry per op. Each entry carries numeric rules (exact on Fractions where the math is
rational), text templates (the program's own syntax, Unicode for figures, LaTeX for notes) for
the op and for each local derivative, and a sympy builder used only for checks and closed forms.
Templates take the operand names, so a 20,000-node graph never calls sympy to get its labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import Callable, Optional, Sequence

from .errors import DomainError
from .numeric import Number, exact_text, fmt, tame

ONE, ZERO = Fraction(1), Fraction(0)

Templates = Callable[[Sequence[str], Optional[Fraction]], str]


@dataclass(frozen=True)
class Op:
    name: str                      # the program's spelling: "add", "sigmoid", ...
    arity: int
    symbol: str                    # short Unicode mark for a node: "+", "×", "σ"
    forward: Callable              # (args, param) -> value; raises DomainError
    local: Callable                # (args, out, param) -> tuple of ∂out/∂arg_i
    text: Templates                # formula in program syntax
    uni: Templates                 # formula in Unicode math
    tex: Templates                 # formula in LaTeX
    dtext: tuple                   # per operand: (args, out, param) -> str
    duni: tuple
    dtex: tuple
    sympy: Callable                # (sympy args, param) -> sympy expression
    kink: Optional[str] = None     # non-differentiable point convention, if any


SUPERSCRIPT = str.maketrans("0123456789-./", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·ᐟ")


def sup(n: Fraction) -> str:
    """A Unicode superscript for an exponent.

    >>> sup(Fraction(2)), sup(Fraction(-1)), sup(Fraction(1, 2))
    ('²', '⁻¹', '⁰·⁵')
    """
    return exact_text(n).translate(SUPERSCRIPT)


def _num(n: Fraction) -> str:
    return exact_text(n)


def _tex_num(n: Fraction) -> str:
    if n.denominator != 1 and "/" in exact_text(n):
        sign = "-" if n < 0 else ""
        return f"{sign}\\frac{{{abs(n.numerator)}}}{{{n.denominator}}}"
    return exact_text(n)


def _domain(msg: str):
    raise DomainError(msg)


def _float_call(name: str, fn: Callable[[float], float]):
    def run(x: Number) -> float:
        try:
            result = fn(float(x))
        except OverflowError:
            _domain(f"{name}({fmt(x)}) overflows a 64-bit float")
        except ValueError:
            _domain(f"{name} is undefined at {fmt(x)}")
        if math.isinf(result) or math.isnan(result):
            _domain(f"{name}({fmt(x)}) is not a finite number")
        return result
    return run


def _sqrt(x: Number) -> Number:
    if x < 0:
        _domain(f"sqrt is undefined at {fmt(x)} (it needs a value ≥ 0)")
    if isinstance(x, Fraction):
        n, d = isqrt(x.numerator), isqrt(x.denominator)
        if n * n == x.numerator and d * d == x.denominator:
            return Fraction(n, d)
    return math.sqrt(x)


def _log(x: Number) -> float:
    if x <= 0:
        _domain(f"log is undefined at {fmt(x)} (it needs a value > 0)")
    return math.log(x)


def _sigmoid(x: Number) -> float:
    x = float(x)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: Number) -> float:
    x = float(x)
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _tan(x: Number) -> float:
    if math.cos(float(x)) == 0:
        _domain(f"tan is undefined at {fmt(x)}")
    return math.tan(float(x))


def _div(a: Number, b: Number) -> Number:
    if b == 0:
        _domain(f"division by zero: the divisor is 0")
    return tame(a / b)


def _power(a: Number, b: Number) -> Number:
    """a ** b, exact for a rational base and a small integer exponent."""
    if a == 0 and b < 0:
        _domain(f"0 raised to the negative power {fmt(b)} is a division by zero")
    if isinstance(a, Fraction) and isinstance(b, Fraction) and b.denominator == 1 and abs(b) <= 64:
        return tame(a ** int(b))
    if a < 0 and not (float(b).is_integer()):
        _domain(f"a negative number ({fmt(a)}) raised to the non-integer power {fmt(b)} is not real")
    try:
        result = float(a) ** float(b)
    except OverflowError:
        _domain(f"{fmt(a)} ** {fmt(b)} overflows a 64-bit float")
    if isinstance(result, complex) or math.isinf(result):
        _domain(f"{fmt(a)} ** {fmt(b)} is not a finite real number")
    return result


def _wrap(name: str) -> str:
    """Parenthesise a negative constant used as an operand."""
    return f"({name})" if name.startswith("-") else name


def _sympy():
    import sympy
    return sympy


def _fn(text_name: str, uni_name: str, tex_name: str) -> tuple:
    return (lambda a, p: f"{text_name}({a[0]})",
            lambda a, p: f"{uni_name}({a[0]})",
            lambda a, p: f"{tex_name}\\left({a[0]}\\right)")


def _d(text, uni, tex) -> tuple:
    return (text,), (uni,), (tex,)


def _unary(name, symbol, forward, local, fn_names, dtext, duni, dtex, sym, kink=None) -> Op:
    text, uni, tex = _fn(*fn_names)
    return Op(name, 1, symbol, forward, local, text, uni, tex, (dtext,), (duni,), (dtex,), sym, kink)


def _sigmoid_local(a, out, p):
    return (out * (1 - out),)


OPS: dict[str, Op] = {}


def _register(*ops: Op) -> None:
    for op in ops:
        OPS[op.name] = op


_register(
    Op("add", 2, "+", lambda a, p: tame(a[0] + a[1]), lambda a, o, p: (ONE, ONE),
       lambda a, p: f"{a[0]} + {_wrap(a[1])}", lambda a, p: f"{a[0]} + {_wrap(a[1])}",
       lambda a, p: f"{a[0]} + {_wrap(a[1])}",
       (lambda a, o, p: "1", lambda a, o, p: "1"), (lambda a, o, p: "1", lambda a, o, p: "1"),
       (lambda a, o, p: "1", lambda a, o, p: "1"), lambda s, p: s[0] + s[1]),
    Op("sub", 2, "−", lambda a, p: tame(a[0] - a[1]), lambda a, o, p: (ONE, -ONE),
       lambda a, p: f"{a[0]} - {_wrap(a[1])}", lambda a, p: f"{a[0]} − {_wrap(a[1])}",
       lambda a, p: f"{a[0]} - {_wrap(a[1])}",
       (lambda a, o, p: "1", lambda a, o, p: "-1"), (lambda a, o, p: "1", lambda a, o, p: "−1"),
       (lambda a, o, p: "1", lambda a, o, p: "-1"), lambda s, p: s[0] - s[1]),
    Op("mul", 2, "×", lambda a, p: tame(a[0] * a[1]), lambda a, o, p: (a[1], a[0]),
       lambda a, p: f"{_wrap(a[0])} * {_wrap(a[1])}", lambda a, p: f"{_wrap(a[0])}·{_wrap(a[1])}",
       lambda a, p: f"{_wrap(a[0])} \\cdot {_wrap(a[1])}",
       (lambda a, o, p: a[1], lambda a, o, p: a[0]), (lambda a, o, p: a[1], lambda a, o, p: a[0]),
       (lambda a, o, p: a[1], lambda a, o, p: a[0]), lambda s, p: s[0] * s[1]),
    Op("div", 2, "÷", lambda a, p: _div(a[0], a[1]),
       lambda a, o, p: (_div(ONE, a[1]), tame(-a[0] / (a[1] * a[1]))),
       lambda a, p: f"{_wrap(a[0])} / {_wrap(a[1])}", lambda a, p: f"{_wrap(a[0])} / {_wrap(a[1])}",
       lambda a, p: f"\\frac{{{a[0]}}}{{{a[1]}}}",
       (lambda a, o, p: f"1 / {_wrap(a[1])}", lambda a, o, p: f"-{_wrap(a[0])} / {_wrap(a[1])}**2"),
       (lambda a, o, p: f"1/{_wrap(a[1])}", lambda a, o, p: f"−{_wrap(a[0])}/{_wrap(a[1])}²"),
       (lambda a, o, p: f"\\frac{{1}}{{{a[1]}}}", lambda a, o, p: f"-\\frac{{{a[0]}}}{{{{{_wrap(a[1])}}}^{{2}}}}"),
       lambda s, p: s[0] / s[1]),
    Op("pow", 2, "^", lambda a, p: _power(a[0], a[1]),
       lambda a, o, p: (tame(a[1] * _power(a[0], a[1] - 1)),
                        (ZERO if o == 0 else o * _log(a[0]))),
       lambda a, p: f"{_wrap(a[0])} ** {_wrap(a[1])}", lambda a, p: f"{_wrap(a[0])}^{_wrap(a[1])}",
       lambda a, p: f"{{{_wrap(a[0])}}}^{{{a[1]}}}",
       (lambda a, o, p: f"{_wrap(a[1])} * {_wrap(a[0])} ** ({a[1]} - 1)",
        lambda a, o, p: f"{_wrap(a[0])} ** {_wrap(a[1])} * log({a[0]})"),
       (lambda a, o, p: f"{_wrap(a[1])}·{_wrap(a[0])}^({a[1]}−1)",
        lambda a, o, p: f"{_wrap(a[0])}^{_wrap(a[1])}·ln {_wrap(a[0])}"),
       (lambda a, o, p: f"{_wrap(a[1])} \\cdot {{{_wrap(a[0])}}}^{{{a[1]} - 1}}",
        lambda a, o, p: f"{{{_wrap(a[0])}}}^{{{a[1]}}} \\ln {_wrap(a[0])}"),
       lambda s, p: s[0] ** s[1]),
    Op("powc", 1, "xⁿ", lambda a, p: _power(a[0], p),
       lambda a, o, p: (tame(p * _power(a[0], p - 1)),),
       lambda a, p: f"{_wrap(a[0])} ** {_wrap(_num(p))}", lambda a, p: f"{_wrap(a[0])}{sup(p)}",
       lambda a, p: f"{{{_wrap(a[0])}}}^{{{_tex_num(p)}}}",
       (lambda a, o, p: _powc_d(a[0], p, "text"),), (lambda a, o, p: _powc_d(a[0], p, "uni"),),
       (lambda a, o, p: _powc_d(a[0], p, "tex"),),
       lambda s, p: s[0] ** _sympy().Rational(p.numerator, p.denominator)),
    Op("neg", 1, "−", lambda a, p: -a[0], lambda a, o, p: (-ONE,),
       lambda a, p: f"-{_wrap(a[0])}", lambda a, p: f"−{_wrap(a[0])}", lambda a, p: f"-{_wrap(a[0])}",
       (lambda a, o, p: "-1",), (lambda a, o, p: "−1",), (lambda a, o, p: "-1",), lambda s, p: -s[0]),
    Op("id", 1, "=", lambda a, p: a[0], lambda a, o, p: (ONE,),
       lambda a, p: a[0], lambda a, p: a[0], lambda a, p: a[0],
       (lambda a, o, p: "1",), (lambda a, o, p: "1",), (lambda a, o, p: "1",), lambda s, p: s[0]),
    _unary("exp", "exp", lambda a, p: _float_call("exp", math.exp)(a[0]), lambda a, o, p: (o,),
           ("exp", "exp", "\\exp"), lambda a, o, p: f"exp({a[0]})", lambda a, o, p: f"exp({a[0]})",
           lambda a, o, p: f"e^{{{a[0]}}}", lambda s, p: _sympy().exp(s[0])),
    _unary("log", "log", lambda a, p: _log(a[0]), lambda a, o, p: (_div(ONE, a[0]),),
           ("log", "ln", "\\ln"), lambda a, o, p: f"1 / {_wrap(a[0])}", lambda a, o, p: f"1/{_wrap(a[0])}",
           lambda a, o, p: f"\\frac{{1}}{{{a[0]}}}", lambda s, p: _sympy().log(s[0])),
    _unary("sqrt", "√", lambda a, p: _sqrt(a[0]),
           lambda a, o, p: (_domain(f"sqrt is not differentiable at 0") if o == 0 else tame(1 / (2 * o)),),
           ("sqrt", "√", "\\sqrt"), lambda a, o, p: f"1 / (2 * sqrt({a[0]}))",
           lambda a, o, p: f"1/(2√{_wrap(a[0])})", lambda a, o, p: f"\\frac{{1}}{{2\\sqrt{{{a[0]}}}}}",
           lambda s, p: _sympy().sqrt(s[0])),
    _unary("sin", "sin", lambda a, p: _float_call("sin", math.sin)(a[0]),
           lambda a, o, p: (math.cos(a[0]),), ("sin", "sin", "\\sin"),
           lambda a, o, p: f"cos({a[0]})", lambda a, o, p: f"cos({a[0]})",
           lambda a, o, p: f"\\cos\\left({a[0]}\\right)", lambda s, p: _sympy().sin(s[0])),
    _unary("cos", "cos", lambda a, p: _float_call("cos", math.cos)(a[0]),
           lambda a, o, p: (-math.sin(a[0]),), ("cos", "cos", "\\cos"),
           lambda a, o, p: f"-sin({a[0]})", lambda a, o, p: f"−sin({a[0]})",
           lambda a, o, p: f"-\\sin\\left({a[0]}\\right)", lambda s, p: _sympy().cos(s[0])),
    _unary("tan", "tan", lambda a, p: _tan(a[0]), lambda a, o, p: (1 + o * o,),
           ("tan", "tan", "\\tan"), lambda a, o, p: f"1 + tan({a[0]})**2",
           lambda a, o, p: f"1 + tan²({a[0]})", lambda a, o, p: f"1 + \\tan^{{2}}\\left({a[0]}\\right)",
           lambda s, p: _sympy().tan(s[0])),
    _unary("tanh", "tanh", lambda a, p: math.tanh(a[0]), lambda a, o, p: (1 - o * o,),
           ("tanh", "tanh", "\\tanh"), lambda a, o, p: f"1 - tanh({a[0]})**2",
           lambda a, o, p: f"1 − tanh²({a[0]})", lambda a, o, p: f"1 - \\tanh^{{2}}\\left({a[0]}\\right)",
           lambda s, p: _sympy().tanh(s[0])),
    _unary("sigmoid", "σ", lambda a, p: _sigmoid(a[0]), _sigmoid_local,
           ("sigmoid", "σ", "\\sigma"), lambda a, o, p: f"sigmoid({a[0]}) * (1 - sigmoid({a[0]}))",
           lambda a, o, p: f"σ({a[0]})·(1 − σ({a[0]}))",
           lambda a, o, p: f"\\sigma\\left({a[0]}\\right)\\left(1 - \\sigma\\left({a[0]}\\right)\\right)",
           lambda s, p: 1 / (1 + _sympy().exp(-s[0]))),
    _unary("relu", "ReLU", lambda a, p: a[0] if a[0] > 0 else (ZERO if isinstance(a[0], Fraction) else 0.0),
           lambda a, o, p: (ONE if a[0] > 0 else ZERO,), ("relu", "ReLU", "\\operatorname{ReLU}"),
           lambda a, o, p: f"1 if {a[0]} > 0 else 0", lambda a, o, p: f"𝟙[{a[0]} > 0]",
           lambda a, o, p: f"\\mathbf{{1}}\\left[{a[0]} > 0\\right]",
           lambda s, p: _sympy().Max(0, s[0]), kink="relu'(0) = 0"),
    _unary("softplus", "softplus", lambda a, p: _softplus(a[0]), lambda a, o, p: (_sigmoid(a[0]),),
           ("softplus", "softplus", "\\operatorname{softplus}"),
           lambda a, o, p: f"sigmoid({a[0]})", lambda a, o, p: f"σ({a[0]})",
           lambda a, o, p: f"\\sigma\\left({a[0]}\\right)",
           lambda s, p: _sympy().log(1 + _sympy().exp(s[0]))),
    _unary("abs", "|x|", lambda a, p: abs(a[0]),
           lambda a, o, p: (ONE if a[0] > 0 else (-ONE if a[0] < 0 else ZERO),),
           ("abs", "abs", "\\operatorname{abs}"), lambda a, o, p: f"sign({a[0]})",
           lambda a, o, p: f"sign({a[0]})", lambda a, o, p: f"\\operatorname{{sign}}\\left({a[0]}\\right)",
           lambda s, p: _sympy().Abs(s[0]), kink="abs'(0) = 0"),
)

# The abs LaTeX reads better as bars than as a named function.
OPS["abs"] = Op(**{**OPS["abs"].__dict__, "tex": lambda a, p: f"\\left|{a[0]}\\right|",
                   "uni": lambda a, p: f"|{a[0]}|"})

class _PerSlot:
    """Per-operand derivative rules of an n-ary op: ``rules[slot](args, out, param)``."""

    def __init__(self, rule: Callable):
        self.rule = rule

    def __getitem__(self, slot: int) -> Callable:
        return lambda a, o, p: self.rule(slot, a, o, p)


def affine_pairs(a: Sequence, p) -> tuple:
    """An affine node's operands as ([(w, x), ...], bias or None); ``p`` is 1 when it has a bias."""
    n = len(a) - (1 if p else 0)
    return [(a[i], a[i + 1]) for i in range(0, n, 2)], (a[-1] if p else None)


def _affine_text(joiner: str) -> Callable:
    def text(a, p):
        pairs, bias = affine_pairs(a, p)
        terms = [f"{_wrap(w)}{joiner}{_wrap(x)}" for w, x in pairs] + ([bias] if bias is not None else [])
        return " + ".join(terms)
    return text


def _affine_forward(a, p):
    pairs, bias = affine_pairs(a, p)
    total = sum((w * x for w, x in pairs), ZERO) + (bias if bias is not None else ZERO)
    return tame(total)


def _affine_local(a, o, p):
    n = len(a) - (1 if p else 0)
    return tuple(a[i + 1] if i % 2 == 0 else a[i - 1] for i in range(n)) + ((ONE,) if p else ())


def _affine_d(slot, a, o, p):
    n = len(a) - (1 if p else 0)
    if slot >= n:
        return "1"
    return a[slot + 1] if slot % 2 == 0 else a[slot - 1]


# A neuron's pre-activation Σ w·x + b as one node (the --group neurons view of a network):
# operands (w1, x1, w2, x2, ..., b); the param is 1 when the last operand is a bias.
OPS["affine"] = Op("affine", -1, "Σ", _affine_forward, _affine_local, _affine_text(" * "),
                   _affine_text("·"), _affine_text(" \\cdot "), _PerSlot(_affine_d), _PerSlot(_affine_d),
                   _PerSlot(_affine_d),
                   lambda s, p: sum((s[i] * s[i + 1] for i in range(0, len(s) - (1 if p else 0), 2)), 0)
                   + (s[-1] if p else 0))

# sqrt reads as a radical, not a function applied in parentheses.
OPS["sqrt"] = Op(**{**OPS["sqrt"].__dict__, "tex": lambda a, p: f"\\sqrt{{{a[0]}}}"})

FUNCTIONS = ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "softplus", "abs")


def _powc_d(x: str, n: Fraction, style: str) -> str:
    """The derivative n·x^(n−1) of x^n, written without 1s and 0th powers."""
    m = n - 1
    xw = _wrap(x)
    if style == "text":
        factor = _num(n)
        if m == 0:
            return factor
        power = xw if m == 1 else f"{xw} ** {_wrap(_num(m))}"
        return power if n == 1 else f"{_wrap(factor)} * {power}"
    if style == "uni":
        factor = _num(n)
        if m == 0:
            return factor
        power = xw if m == 1 else f"{xw}{sup(m)}"
        if factor == "-1":
            return f"−{power}"
        return f"{factor}·{power}"
    factor = _tex_num(n)
    if m == 0:
        return factor
    power = xw if m == 1 else f"{{{xw}}}^{{{_tex_num(m)}}}"
    if factor == "-1":
        return f"-{power}"
    return f"{factor} {power}" if "frac" not in factor else f"{factor} \\cdot {power}"


def powc_symbol(n: Fraction) -> str:
    """The node mark of x**n: x², x⁻¹, √ for one half.

    >>> powc_symbol(Fraction(2)), powc_symbol(Fraction(-1))
    ('x²', 'x⁻¹')
    """
    return f"x{sup(n)}"
