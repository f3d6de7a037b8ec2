"""The op table: for every primitive, one entry with its forward rule, local-derivative rule, how
it reads (program syntax, Unicode, LaTeX) and its sympy builder.

An entry is built with keywords by ``defop``. Rules take the operand values as a sequence (and the
node's constant parameter, such as the exponent of ``x**2``) and return the value, or one local
derivative per operand; they stay exact on Fractions where the math is rational. Templates are
format strings over the operand names, so a 20,000-node graph never calls sympy for its labels:

    ``$a0``, ``$a1``, …   the operands' names           ``$w0``, ``$w1``, …  the same, parenthesised
    ``$o``                the node's own name            when a negative constant
    ``$p``                the parameter, written in the template's style

A callable may stand in for a template where a format string cannot say it (x**n's derivative).
Flags replace every ``if op.name == …`` elsewhere: ``function`` (callable by name in programs),
``activation`` (usable as a network layer's activation), ``neuron`` (a whole unit's Σ w·x + b),
``param_field`` (the JSON field that carries the parameter), ``param_symbol`` (a mark that shows
the parameter). ``FUNCTIONS`` and the activations derive from the table.

Adding an op is one ``defop`` call here plus a row in tests/test_ops.py.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from math import isqrt
from typing import Callable, Optional, Sequence, Union

from .errors import DomainError
from .escape import latex_name
from .numeric import (_HARD_BITS, MAX_EXACT_DIGITS, UNDERFLOWS, Number, as_float, const_name, exact_text, fmt,
                      frexp_of, log_of, tame, to_float)

ONE, ZERO = Fraction(1), Fraction(0)

SUPERSCRIPT = str.maketrans("0123456789-./", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·ᐟ")


def sup(n: Fraction) -> str:
    """A Unicode superscript for an exponent.

    >>> sup(Fraction(2)), sup(Fraction(-1)), sup(Fraction(1, 2))
    ('²', '⁻¹', '⁰·⁵')
    """
    return exact_text(n).translate(SUPERSCRIPT)


def wrap(name: str) -> str:
    r"""Parenthesise an operand that would not read as one factor: a negative constant, a fraction, or
    a constant in scientific notation as LaTeX writes it (``\times 10^{``, never in a shape's ``(2 \times 3)``).

    >>> wrap("x"), wrap("-2"), wrap("1/3"), wrap("1.5 \\times 10^{-300}")
    ('x', '(-2)', '(1/3)', '(1.5 \\times 10^{-300})')
    """
    return f"({name})" if name.startswith("-") or "/" in name or "\\times 10^{" in name else name


def param_text(param: Optional[Fraction], style: str) -> str:
    """A node's parameter as its templates write it: program syntax, superscript, or LaTeX."""
    if param is None:
        return ""
    text = const_name(param)
    if style == "uni":
        return sup(param)
    if style == "tex":
        return latex_name(text)
    return wrap(text)


# -- templates -------------------------------------------------------------------------------------

_FIELD = re.compile(r"\$(a\d+|w\d+|o|p)")


class Template:
    """A compiled format string: ``"$a0 + $w1"`` becomes ``"{0} + {1}".format(a0, wrap(a1))`` (fast,
    in C), each field taken from the operands, the node's name or the parameter as it asks."""

    __slots__ = ("source", "_format", "_fields", "_constant", "_operand")

    def __init__(self, source: str):
        self.source = source
        escaped = source.replace("{", "{{").replace("}", "}}")
        fields: list = []                   # each distinct field once, in order of first use

        def positional(match) -> str:
            if match.group(1) not in fields:
                fields.append(match.group(1))
            return "{" + str(fields.index(match.group(1))) + "}"
        self._format = _FIELD.sub(positional, escaped)
        # (0, i): operand i; (1, i): operand i, wrapped; (2, name): the node ("o") or parameter ("p")
        self._fields = tuple((0, int(f[1:])) if f[0] == "a" else (1, int(f[1:])) if f[0] == "w" else (2, f)
                             for f in fields)
        self._constant = None if fields else self._format.format()
        # "$a1" alone (∂(a·b)/∂a = b): the operand itself, the commonest rule of all
        self._operand = self._fields[0][1] if self._format == "{0}" and self._fields[0][0] == 0 else None

    def __call__(self, args: Sequence[str], param: Optional[Fraction], out: str, style: str) -> str:
        if self._constant is not None:
            return self._constant
        if self._operand is not None and self._operand < len(args):
            return args[self._operand]
        values = []
        try:
            for kind, which in self._fields:
                if kind == 0:
                    values.append(args[which])
                elif kind == 1:
                    values.append(wrap(args[which]))
                else:
                    values.append(out if which == "o" else param_text(param, style))
        except IndexError:
            raise KeyError(f"{'aw'[kind]}{which}") from None
        return self._format.format(*values)

    @property
    def operand(self) -> Optional[int]:
        """Which operand the template is, when it is one operand's name alone (``$a1``), else None."""
        return self._operand

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


Rule = Union[Template, Callable]          # a Template, or a callable: (args, param, out, style) -> str for
                                          # a formula, (slot, args, param, out, style) -> str for a derivative


def _template(t) -> Rule:
    return Template(t) if isinstance(t, str) else t


@dataclass(frozen=True)
class Op:
    name: str                      # the program's spelling: "add", "sigmoid", ...
    arity: int                     # operands; -1 for any number (a neuron's Σ w·x + b)
    symbol: str                    # short Unicode mark for a node: "+", "×", "σ"
    forward: Callable              # (args, param) -> value; raises DomainError
    local: Callable                # (args, out, param) -> tuple of ∂out/∂arg_i
    formulas: dict                 # style -> Rule: the node in terms of its operands
    derivatives: dict              # style -> tuple of Rules (one per operand), or one Rule for all
    sympy: Callable                # (sympy args, param) -> sympy expression
    kink: Optional[object] = None  # the convention at a non-differentiable point: a text, used where the
                                   # operand is 0, or (args, names) -> (where, convention, slots) or None
    function: bool = False         # written f(x) in programs
    activation: Optional[str] = None   # the spec name of this op as a layer's activation
    neuron: bool = False           # one unit's Σ w·x + b (operands w1, x1, w2, x2, …, [b])
    param_field: Optional[str] = None  # JSON field for the parameter ("exponent")
    param_symbol: Optional[Callable] = None   # param -> mark, for a mark that shows the parameter
    structural: bool = False       # matrix mode only (@, .T, sum, mean, softmax): not element-wise
    takes_axis: bool = False       # sum(A, axis=0): the parameter is the axis
    matrix_forms: Optional[dict] = None   # style -> Rule, when every operand is a vector or matrix (A ⊙ B)
    piece: Optional[Callable] = None      # operands -> which smooth piece of a piecewise op they are in
                                          # (--check: a finite difference that changes piece crossed a kink)
    operands: tuple = ()                  # the operands' names in a call, for messages: ("x", "lo", "hi")
    scalar_only: bool = False             # not in matrix mode (the non-smooth ops of issue 17)

    def kink_at(self, args: Sequence, names: Sequence[str]) -> Optional[tuple]:
        """(where, convention, slots) when the node sits at a point where its derivative with
        respect to the operands in ``slots`` is a convention."""
        if self.kink is None:
            return None
        if callable(self.kink):
            return self.kink(args, names)
        return (f"at {names[0]} = 0", self.kink, (0,)) if args[0] == 0 else None

    def mark(self, param: Optional[Fraction]) -> str:
        """The node's mark: ``(·)²`` for ``x**2`` (not ``x²``, which reads as an input x), else the
        op's symbol."""
        return self.param_symbol(param) if self.param_symbol else self.symbol

    def formula(self, style: str, args: Sequence[str], param: Optional[Fraction], arrays: bool = False) -> str:
        """The node in terms of its operands; ``arrays`` when every operand is a vector or matrix."""
        rules = self.matrix_forms if arrays and self.matrix_forms else self.formulas
        return rules[style](args, param, "", style)

    def derivative(self, style: str, slot: int, args: Sequence[str], out: str,
                   param: Optional[Fraction]) -> str:
        return self.derivative_rule(style, slot)(args, param, out, style)

    def derivative_rule(self, style: str, slot: int) -> Rule:
        """The rule for ∂node/∂operand ``slot`` in ``style``, called as (args, param, out, style):
        a Template, or the op's callable with the slot filled in."""
        rules = self.derivatives[style]
        rule = rules[slot] if isinstance(rules, tuple) else rules
        return rule if isinstance(rule, Template) else partial(rule, slot)


OPS: dict = {}


def defop(name: str, *, arity: int, symbol: str, forward: Callable, local: Callable, text, d,
          sympy: Callable, uni=None, tex=None, duni=None, dtex=None, **flags) -> Op:
    """Register one op. ``uni``/``tex`` default to ``text`` and ``duni``/``dtex`` to ``d``, so an op
    whose formula reads the same in every style gives it once."""
    styles = {"text": (text, d), "uni": (uni or text, duni or d), "tex": (tex or text, dtex or d)}
    if flags.get("matrix_forms"):
        flags["matrix_forms"] = {s: _template(f) for s, f in flags["matrix_forms"].items()}
    op = Op(name=name, arity=arity, symbol=symbol, forward=forward, local=local,
            formulas={s: _template(f) for s, (f, _) in styles.items()},
            derivatives={s: tuple(_template(r) for r in ds) if isinstance(ds, tuple) else _template(ds)
                         for s, (_, ds) in styles.items()},
            sympy=sympy, **flags)
    OPS[name] = op
    return op


def function(text: str, uni: Optional[str] = None, tex: Optional[str] = None) -> dict:
    """The templates of a one-operand function: ``exp(x)``, ``exp(x)``, ``\\exp\\left(x\\right)``."""
    return dict(text=f"{text}($a0)", uni=f"{uni or text}($a0)",
                tex=f"{tex or text}\\left($a0\\right)", arity=1, function=True)


# -- numeric rules -----------------------------------------------------------------------------

def _domain(msg: str):
    raise DomainError(msg)


def _too_small(name: str, x: Number):
    _domain(f"{name}({fmt(x)}) {UNDERFLOWS}")


def _float_call(name: str, fn: Callable[[float], float], periodic: bool = False) -> Callable:
    """A function of one float, for an exact operand too: ``periodic`` ones (sin, cos) cannot reduce an
    operand beyond float64's range; a nonzero operand whose result rounds to 0 (exp(-1e400),
    sin(1e-400)) is refused, not printed as 0."""
    def run(args, param) -> float:
        x = args[0]
        f = to_float(x)
        if periodic and math.isinf(f):
            _domain(f"{name}({fmt(x)}) cannot be computed: the operand is too large for a 64-bit float")
        try:
            result = fn(f)
        except OverflowError:
            _domain(f"{name}({fmt(x)}) overflows a 64-bit float")
        except ValueError:
            _domain(f"{name} is undefined at {fmt(x)}")
        if math.isinf(result):
            _domain(f"{name}({fmt(x)}) overflows a 64-bit float")
        if math.isnan(result):
            _domain(f"{name}({fmt(x)}) is not a finite number")
        if result == 0 and x != 0:
            _too_small(name, x)
        return result
    return run


_sin = _float_call("sin", math.sin, periodic=True)
_cos = _float_call("cos", math.cos, periodic=True)
_tanh = _float_call("tanh", math.tanh)      # tanh(1e400) is 1, although 1e400 is no float


def _sqrt(x: Number) -> Number:
    if x < 0:
        _domain(f"sqrt is undefined at {fmt(x)} (it needs a value ≥ 0)")
    if isinstance(x, Fraction):
        n, d = isqrt(x.numerator), isqrt(x.denominator)
        if n * n == x.numerator and d * d == x.denominator:
            return Fraction(n, d)
        if as_float(x) is None:             # beyond float64: sqrt(m·2^e) = sqrt(m·2^(e mod 2))·2^(e div 2)
            m, e = frexp_of(x)
            result = math.ldexp(math.sqrt(m * (1 << (e & 1))), e >> 1)
            if result < sys.float_info.min:
                _too_small("sqrt", x)
            return result
    return math.sqrt(x)


def _sqrt_local(a, o, p):
    if o == 0:
        _domain("sqrt is not differentiable at 0")
    return (tame(1 / (2 * o)),)


def _log(x: Number) -> float:
    if x <= 0:
        _domain(f"log is undefined at {fmt(x)} (it needs a value > 0)")
    return log_of(x)


def sigmoid(x: Number) -> float:
    f = to_float(x)                         # sigmoid(1e400) is 1, although 1e400 is no float
    if f >= 0:
        return 1.0 / (1.0 + math.exp(-f))
    e = math.exp(f)
    if e == 0:
        _too_small("sigmoid", x)
    return e / (1.0 + e)


def _sigmoid_slope(x: Number) -> float:
    """σ'(x) = σ(x)·σ(−x): no cancellation where σ(x) rounds to 1 (σ'(40) is 4.2e-18, not 0)."""
    return sigmoid(x) * sigmoid(-x)


def _tanh_slope(x: Number) -> float:
    """1 − tanh²(x), as 4e^(−2|x|)/(1 + e^(−2|x|))²: no cancellation where tanh(x) rounds to ±1."""
    e = math.exp(-2 * abs(to_float(x)))
    if e == 0:
        _too_small("tanh'", x)
    return 4 * e / (1 + e) ** 2


def _softplus(x: Number) -> float:
    f = to_float(x)
    result = max(f, 0.0) + math.log1p(math.exp(-abs(f)))
    if result == 0:                         # softplus(-1000) is e^-1000, never 0
        _too_small("softplus", x)
    return result


def _tan(x: Number) -> float:
    f = to_float(x)
    if math.isinf(f):
        _domain(f"tan({fmt(x)}) cannot be computed: the operand is too large for a 64-bit float")
    if math.cos(f) == 0:
        _domain(f"tan is undefined at {fmt(x)}")
    result = math.tan(f)
    if result == 0 and x != 0:
        _too_small("tan", x)
    return result


def _underflow(result: Number, *operands: Number) -> Number:
    """A float product or quotient of nonzero numbers that came out 0 lost every digit: say so. (An
    exact result is never such a loss: it is 0 only when an operand is, so it is not even compared.)"""
    if result.__class__ is not Fraction and result == 0 and all(operands):
        _domain(f"the result {UNDERFLOWS}")
    return result


def _mul(a: Number, b: Number) -> Number:
    return _underflow(tame(a * b), a, b)


def _div(a: Number, b: Number) -> Number:
    if b == 0:
        _domain("division by zero: the divisor is 0")
    try:
        quotient = a / b
    except (ZeroDivisionError, OverflowError):      # a float by an exact 1e-400: the divisor rounds to 0
        _domain(f"the quotient {fmt(a)} / {fmt(b)} is too large for a 64-bit float")
    return _underflow(tame(quotient), a)


def _power(a: Number, b: Number) -> Number:
    """a ** b, exact for a rational base and a small integer exponent."""
    if a == 0 and b < 0:
        _domain(f"0 raised to the negative power {fmt(b)} is a division by zero")
    if isinstance(a, Fraction) and isinstance(b, Fraction) and b.denominator == 1 and abs(b) <= 64:
        if a and abs(b) * max(a.numerator.bit_length(), a.denominator.bit_length()) > 2 * _HARD_BITS:
            _domain(f"{fmt(a)} ** {fmt(b)} has far more than {MAX_EXACT_DIGITS} digits")
        return tame(a ** int(b))
    if a < 0 and not (float(b).is_integer()):
        _domain(f"a negative number ({fmt(a)}) raised to the non-integer power {fmt(b)} is not real")
    try:
        if isinstance(a, Fraction) and a and as_float(a) is None:
            result = _scaled_power(a, b)
        else:
            result = float(a) ** float(b)
    except OverflowError:
        _domain(f"{fmt(a)} ** {fmt(b)} overflows a 64-bit float")
    if isinstance(result, complex) or math.isinf(result):
        _domain(f"{fmt(a)} ** {fmt(b)} is not a finite real number")
    return _underflow(result, a)


def _scaled_power(a: Fraction, b: Number) -> float:
    """a ** b for an exact base float64 cannot hold (1e-400 ** 0.5 = 1e-200): (m·2^e)^b as m^b·2^(e·b),
    the integer part of e·b applied by ldexp (which raises OverflowError, or gives 0 on underflow)."""
    m, e = frexp_of(a)
    scale = e * (b if isinstance(b, Fraction) else Fraction(b))      # exact: e is up to ~13,600
    whole = math.floor(scale)
    sign = -1.0 if m < 0 and int(b) % 2 else 1.0                    # a < 0 only with an integer b
    return sign * math.ldexp(abs(m) ** float(b) * 2.0 ** float(scale - whole), whole)


def _relu(x: Number) -> Number:
    return x if x > 0 else (ZERO if isinstance(x, Fraction) else 0.0)


def _sign(x: Number) -> Fraction:
    return ONE if x > 0 else (-ONE if x < 0 else ZERO)


def _sympy():
    import sympy
    return sympy


def _same_kind(x: Number, value: Fraction) -> Number:
    """``value`` as the kind of number ``x`` is: exact beside a Fraction, float beside a float."""
    return value if isinstance(x, Fraction) else float(value)


def _rounded(fn: Callable) -> Callable:
    """A forward rule giving a whole number (floor, ceil, round) of the operand's kind."""
    def run(a, p):
        return _same_kind(a[0], Fraction(fn(a[0])))
    return run


def _half_way(x: Number) -> bool:
    return x - math.floor(x) == Fraction(1, 2)


def _clip(a, p) -> Number:
    x, lo, hi = a
    if lo > hi:
        _domain(f"clip needs lo ≤ hi, and lo = {fmt(lo)} > hi = {fmt(hi)}")
    return lo if x < lo else hi if x > hi else x


def _clip_kink(a, names):
    x, lo, hi = a
    if x == lo or x == hi:
        bound, slot = (names[1], 1) if x == lo else (names[2], 2)
        return (f"at {names[0]} = {bound} = {fmt(x)} (the bound)",
                f"∂/∂{names[0]} = 1 and ∂/∂{bound} = 0 at the bound (a bound is active only beyond it)",
                (0, slot))
    return None


def _tie_kink(a, names):
    if a[0] == a[1]:
        return (f"at {names[0]} = {names[1]} = {fmt(a[0])} (a tie)",
                f"the whole gradient goes to the first operand, {names[0]}", (0, 1))
    return None


def _jump_kink(name: str, test: Callable, why: str) -> Callable:
    def kink(a, names):
        if test(a[0]):
            return f"at {names[0]} = {fmt(a[0])} ({why})", f"{name}' = 0 there", (0,)
        return None
    return kink


def _hardtanh_kink(a, names):
    if abs(a[0]) == 1:
        return f"at {names[0]} = {fmt(a[0])}", "hardtanh'(±1) = 0", (0,)
    return None


_SYMPY_FUNCTIONS: dict = {}


def _piecewise_constant(name: str, fn: Callable):
    """A sympy function for floor, ceil and round whose derivative is 0 (sympy leaves floor's
    unevaluated), and whose value at a number is ``fn``'s (round halves to even)."""
    if name not in _SYMPY_FUNCTIONS:
        sympy = _sympy()

        def eval_(cls, x):
            if x.is_Rational:
                return sympy.Integer(fn(Fraction(int(x.p), int(x.q))))
            if x.is_Float:
                return sympy.Integer(fn(float(x)))
            return None
        _SYMPY_FUNCTIONS[name] = type(name, (sympy.Function,), {
            "nargs": 1, "eval": classmethod(eval_), "fdiff": lambda self, argindex=1: sympy.Integer(0),
            "_latex": lambda self, printer: f"\\operatorname{{{name}}}\\left({printer._print(self.args[0])}\\right)"})
    return _SYMPY_FUNCTIONS[name]


def _leaky_sympy(s, p):
    sympy = _sympy()
    return sympy.Piecewise((s[0], s[0] > 0), (s[1] * s[0], True))


# -- x ** n: the derivative n·x^(n−1), written without 1s and 0th powers --------------------------

def _powc_derivative(slot, args, n: Fraction, out, style: str) -> str:
    m = n - 1
    xw = wrap(args[0])
    factor = param_text(n, style) if style == "tex" else exact_text(n)
    if m == 0:
        return factor
    if style == "text":
        power = xw if m == 1 else f"{xw} ** {wrap(exact_text(m))}"
        return power if n == 1 else f"{wrap(factor)} * {power}"
    if style == "uni":
        power = xw if m == 1 else f"{xw}{sup(m)}"
        return f"−{power}" if factor == "-1" else f"{factor}·{power}"
    power = xw if m == 1 else f"{{{xw}}}^{{{param_text(m, 'tex')}}}"
    if factor == "-1":
        return f"-{power}"
    return f"{factor} {power}" if "frac" not in factor else f"{factor} \\cdot {power}"


# -- a neuron: Σ w·x + b over operands (w1, x1, w2, x2, …, b); the param is 1 when there is a bias --

def affine_pairs(a: Sequence, p) -> tuple:
    """An affine node's operands as ([(w, x), ...], bias or None)."""
    n = len(a) - (1 if p else 0)
    return [(a[i], a[i + 1]) for i in range(0, n, 2)], (a[-1] if p else None)


def _affine_forward(a, p):
    pairs, bias = affine_pairs(a, p)
    total = sum((w * x for w, x in pairs), ZERO) + (bias if bias is not None else ZERO)
    return tame(total)


def _affine_local(a, o, p):
    n = len(a) - (1 if p else 0)
    return tuple(a[i + 1] if i % 2 == 0 else a[i - 1] for i in range(n)) + ((ONE,) if p else ())


def _affine_formula(joiner: str) -> Callable:
    def text(args, p, out, style):
        pairs, bias = affine_pairs(args, p)
        terms = [f"{wrap(w)}{joiner}{wrap(x)}" for w, x in pairs] + ([wrap(bias)] if bias is not None else [])
        return " + ".join(terms)
    return text


def _affine_derivative(slot, args, p, out, style) -> str:
    """∂(Σ w·x + b)/∂w_i = x_i, ∂/∂x_i = w_i, ∂/∂b = 1."""
    n = len(args) - (1 if p else 0)
    if slot >= n:
        return "1"
    return args[slot + 1] if slot % 2 == 0 else args[slot - 1]


def _affine_sympy(s, p):
    n = len(s) - (1 if p else 0)
    return sum((s[i] * s[i + 1] for i in range(0, n, 2)), 0) + (s[-1] if p else 0)


# -- the table ---------------------------------------------------------------------------------

defop("add", arity=2, symbol="+", forward=lambda a, p: tame(a[0] + a[1]), local=lambda a, o, p: (ONE, ONE),
      text="$a0 + $w1", d=("1", "1"), sympy=lambda s, p: s[0] + s[1])
defop("sub", arity=2, symbol="−", forward=lambda a, p: tame(a[0] - a[1]), local=lambda a, o, p: (ONE, -ONE),
      text="$a0 - $w1", uni="$a0 − $w1", d=("1", "-1"), duni=("1", "−1"), sympy=lambda s, p: s[0] - s[1])
defop("mul", arity=2, symbol="×", forward=lambda a, p: _mul(a[0], a[1]), local=lambda a, o, p: (a[1], a[0]),
      text="$w0 * $w1", uni="$w0·$w1", tex="$w0 \\cdot $w1", d=("$a1", "$a0"),
      matrix_forms={"text": "$w0 * $w1", "uni": "$w0 ⊙ $w1", "tex": "$w0 \\odot $w1"},
      sympy=lambda s, p: s[0] * s[1])
defop("div", arity=2, symbol="÷", forward=lambda a, p: _div(a[0], a[1]),
      local=lambda a, o, p: (_div(ONE, a[1]), _div(-a[0], _mul(a[1], a[1]))),
      text="$w0 / $w1", tex="\\frac{$a0}{$a1}",
      d=("1 / $w1", "-$w0 / $w1**2"), duni=("1/$w1", "−$w0/$w1²"),
      dtex=("\\frac{1}{$a1}", "-\\frac{$a0}{{$w1}^{2}}"), sympy=lambda s, p: s[0] / s[1])
defop("pow", arity=2, symbol="^", forward=lambda a, p: _power(a[0], a[1]),
      local=lambda a, o, p: (tame(a[1] * _power(a[0], a[1] - 1)), ZERO if o == 0 or a[0] < 0 else o * _log(a[0])),
      kink=lambda a, names: (f"with respect to {names[1]} at {names[0]} = {fmt(a[0])} (a negative base)",
                             f"∂/∂{names[1]} = 0", (1,)) if a[0] < 0 else None,
      text="$w0 ** $w1", uni="$w0^$w1", tex="{$w0}^{$a1}",
      d=("$w1 * $w0 ** ($a1 - 1)", "$w0 ** $w1 * log($a0)"),
      duni=("$w1·$w0^($a1−1)", "$w0^$w1·ln $w0"),
      dtex=("$w1 \\cdot {$w0}^{$a1 - 1}", "{$w0}^{$a1} \\ln $w0"), sympy=lambda s, p: s[0] ** s[1])
defop("powc", arity=1, symbol="(·)ⁿ", forward=lambda a, p: _power(a[0], p),
      local=lambda a, o, p: (ZERO if p == 0 else tame(p * _power(a[0], p - 1)),),
      text="$w0 ** $p", uni="$w0$p", tex="{$w0}^{$p}", d=(_powc_derivative,),
      sympy=lambda s, p: s[0] ** _sympy().Rational(p.numerator, p.denominator),
      param_field="exponent", param_symbol=lambda p: f"(·){sup(p)}")
defop("neg", arity=1, symbol="−", forward=lambda a, p: -a[0], local=lambda a, o, p: (-ONE,),
      text="-$w0", uni="−$w0", d=("-1",), duni=("−1",), sympy=lambda s, p: -s[0])
defop("id", arity=1, symbol="=", forward=lambda a, p: a[0], local=lambda a, o, p: (ONE,),
      text="$a0", d=("1",), sympy=lambda s, p: s[0], activation="linear")
defop("exp", symbol="exp", **function("exp", tex="\\exp"), forward=_float_call("exp", math.exp),
      local=lambda a, o, p: (o,), d=("exp($a0)",), dtex=("e^{$a0}",), sympy=lambda s, p: _sympy().exp(s[0]))
defop("log", symbol="log", **function("log", "ln", "\\ln"), forward=lambda a, p: _log(a[0]),
      local=lambda a, o, p: (_div(ONE, a[0]),), d=("1 / $w0",), duni=("1/$w0",), dtex=("\\frac{1}{$a0}",),
      sympy=lambda s, p: _sympy().log(s[0]))
defop("sqrt", symbol="√", **{**function("sqrt", "√"), "tex": "\\sqrt{$a0}"}, forward=lambda a, p: _sqrt(a[0]),
      local=_sqrt_local, d=("1 / (2 * sqrt($a0))",), duni=("1/(2√$w0)",), dtex=("\\frac{1}{2\\sqrt{$a0}}",),
      sympy=lambda s, p: _sympy().sqrt(s[0]))
defop("sin", symbol="sin", **function("sin", tex="\\sin"), forward=_sin,
      local=lambda a, o, p: (_cos(a, p),), d=("cos($a0)",), dtex=("\\cos\\left($a0\\right)",),
      sympy=lambda s, p: _sympy().sin(s[0]))
defop("cos", symbol="cos", **function("cos", tex="\\cos"), forward=_cos,
      local=lambda a, o, p: (-_sin(a, p),), d=("-sin($a0)",), duni=("−sin($a0)",),
      dtex=("-\\sin\\left($a0\\right)",), sympy=lambda s, p: _sympy().cos(s[0]))
defop("tan", symbol="tan", **function("tan", tex="\\tan"), forward=lambda a, p: _tan(a[0]),
      local=lambda a, o, p: (1 + o * o,), d=("1 + tan($a0)**2",), duni=("1 + tan²($a0)",),
      dtex=("1 + \\tan^{2}\\left($a0\\right)",), sympy=lambda s, p: _sympy().tan(s[0]))
defop("tanh", symbol="tanh", **function("tanh", tex="\\tanh"), forward=_tanh,
      local=lambda a, o, p: (_tanh_slope(a[0]),), d=("1 - tanh($a0)**2",), duni=("1 − tanh²($a0)",),
      dtex=("1 - \\tanh^{2}\\left($a0\\right)",), sympy=lambda s, p: _sympy().tanh(s[0]),
      activation="tanh")
defop("sigmoid", symbol="σ", **function("sigmoid", "σ", "\\sigma"), forward=lambda a, p: sigmoid(a[0]),
      local=lambda a, o, p: (_sigmoid_slope(a[0]),), d=("sigmoid($a0) * (1 - sigmoid($a0))",),
      duni=("σ($a0)·(1 − σ($a0))",),
      dtex=("\\sigma\\left($a0\\right)\\left(1 - \\sigma\\left($a0\\right)\\right)",),
      sympy=lambda s, p: 1 / (1 + _sympy().exp(-s[0])), activation="sigmoid")
defop("relu", symbol="ReLU", **function("relu", "ReLU", "\\operatorname{ReLU}"),
      forward=lambda a, p: _relu(a[0]), local=lambda a, o, p: (ONE if a[0] > 0 else ZERO,),
      d=("1 if $a0 > 0 else 0",), duni=("𝟙[$a0 > 0]",), dtex=("\\mathbf{1}\\left[$a0 > 0\\right]",),
      sympy=lambda s, p: _sympy().Max(0, s[0]), kink="relu'(0) = 0", activation="relu",
      piece=lambda a: _sign(a[0]))
defop("softplus", symbol="softplus", **function("softplus", tex="\\operatorname{softplus}"),
      forward=lambda a, p: _softplus(a[0]), local=lambda a, o, p: (sigmoid(a[0]),),
      d=("sigmoid($a0)",), duni=("σ($a0)",), dtex=("\\sigma\\left($a0\\right)",),
      sympy=lambda s, p: _sympy().log(1 + _sympy().exp(s[0])))
defop("abs", symbol="|·|", **{**function("abs"), "uni": "|$a0|", "tex": "\\left|$a0\\right|"},
      forward=lambda a, p: abs(a[0]), local=lambda a, o, p: (_sign(a[0]),),
      d=("sign($a0)",), dtex=("\\operatorname{sign}\\left($a0\\right)",),
      sympy=lambda s, p: _sympy().Abs(s[0]), kink="abs'(0) = 0",
      piece=lambda a: _sign(a[0]))
# non-smooth functions (issue 17): each with its true derivative where it exists and the convention at
# its kinks and jumps (docs/custom-gradients.md); "piece" tells --check which side of a kink it is on
_SIGN_PIECE = dict(piece=lambda a: _sign(a[0]), scalar_only=True)
defop("sign", symbol="sign", **function("sign", tex="\\operatorname{sign}"), forward=lambda a, p: _sign(a[0]),
      local=lambda a, o, p: (ZERO,), d=("0",), sympy=lambda s, p: _sympy().sign(s[0]), kink="sign'(0) = 0",
      **_SIGN_PIECE)
defop("step", symbol="step", **function("step", tex="\\operatorname{step}"),
      forward=lambda a, p: ONE if a[0] > 0 else ZERO, local=lambda a, o, p: (ZERO,), d=("0",),
      sympy=lambda s, p: _sympy().Heaviside(s[0], 0), kink="step'(0) = 0", **_SIGN_PIECE)
defop("round", symbol="round", **function("round", tex="\\operatorname{round}"), forward=_rounded(round),
      local=lambda a, o, p: (ZERO,), d=("0",), sympy=lambda s, p: _piecewise_constant("round", round)(s[0]),
      kink=_jump_kink("round", _half_way, "round jumps half-way between whole numbers; it halves to even"),
      piece=lambda a: round(a[0]), scalar_only=True)
defop("floor", symbol="⌊·⌋", **{**function("floor"), "uni": "⌊$a0⌋", "tex": "\\left\\lfloor $a0 \\right\\rfloor"},
      forward=_rounded(math.floor), local=lambda a, o, p: (ZERO,), d=("0",),
      sympy=lambda s, p: _piecewise_constant("floor", math.floor)(s[0]),
      kink=_jump_kink("floor", lambda x: x == math.floor(x), "floor jumps at whole numbers"),
      piece=lambda a: math.floor(a[0]), scalar_only=True)
defop("ceil", symbol="⌈·⌉", **{**function("ceil"), "uni": "⌈$a0⌉", "tex": "\\left\\lceil $a0 \\right\\rceil"},
      forward=_rounded(math.ceil), local=lambda a, o, p: (ZERO,), d=("0",),
      sympy=lambda s, p: _piecewise_constant("ceil", math.ceil)(s[0]),
      kink=_jump_kink("ceil", lambda x: x == math.ceil(x), "ceil jumps at whole numbers"),
      piece=lambda a: math.ceil(a[0]), scalar_only=True)
defop("clip", arity=3, symbol="clip", function=True, text="clip($a0, $a1, $a2)",
      tex="\\operatorname{clip}\\left($a0, $a1, $a2\\right)", forward=_clip,
      local=lambda a, o, p: (ONE if a[1] <= a[0] <= a[2] else ZERO, ONE if a[0] < a[1] else ZERO,
                             ONE if a[0] > a[2] else ZERO),
      d=("1 - step($a1 - $w0) - step($a0 - $w2)", "step($a1 - $w0)", "step($a0 - $w2)"),
      duni=("𝟙[$a1 ≤ $a0 ≤ $a2]", "𝟙[$a0 < $a1]", "𝟙[$a0 > $a2]"),
      dtex=("\\mathbf{1}\\left[$a1 \\le $a0 \\le $a2\\right]", "\\mathbf{1}\\left[$a0 < $a1\\right]",
            "\\mathbf{1}\\left[$a0 > $a2\\right]"),
      sympy=lambda s, p: _sympy().Min(_sympy().Max(s[0], s[1]), s[2]), kink=_clip_kink,
      piece=lambda a: (_sign(a[0] - a[1]), _sign(a[0] - a[2])), operands=("x", "lo", "hi"), scalar_only=True)
defop("max", arity=2, symbol="max", function=True, text="max($a0, $a1)",
      tex="\\max\\left($a0, $a1\\right)", forward=lambda a, p: a[0] if a[0] >= a[1] else a[1],
      local=lambda a, o, p: (ONE, ZERO) if a[0] >= a[1] else (ZERO, ONE),
      d=("1 - step($a1 - $w0)", "step($a1 - $w0)"), duni=("𝟙[$a0 ≥ $a1]", "𝟙[$a0 < $a1]"),
      dtex=("\\mathbf{1}\\left[$a0 \\ge $a1\\right]", "\\mathbf{1}\\left[$a0 < $a1\\right]"),
      sympy=lambda s, p: _sympy().Max(s[0], s[1]), kink=_tie_kink, piece=lambda a: _sign(a[0] - a[1]),
      operands=("a", "b"), scalar_only=True)
defop("min", arity=2, symbol="min", function=True, text="min($a0, $a1)",
      tex="\\min\\left($a0, $a1\\right)", forward=lambda a, p: a[0] if a[0] <= a[1] else a[1],
      local=lambda a, o, p: (ONE, ZERO) if a[0] <= a[1] else (ZERO, ONE),
      d=("1 - step($a0 - $w1)", "step($a0 - $w1)"), duni=("𝟙[$a0 ≤ $a1]", "𝟙[$a0 > $a1]"),
      dtex=("\\mathbf{1}\\left[$a0 \\le $a1\\right]", "\\mathbf{1}\\left[$a0 > $a1\\right]"),
      sympy=lambda s, p: _sympy().Min(s[0], s[1]), kink=_tie_kink, piece=lambda a: _sign(a[0] - a[1]),
      operands=("a", "b"), scalar_only=True)
defop("hardtanh", symbol="hardtanh", **function("hardtanh", tex="\\operatorname{hardtanh}"),
      forward=lambda a, p: _same_kind(a[0], -ONE) if a[0] < -1 else _same_kind(a[0], ONE) if a[0] > 1 else a[0],
      local=lambda a, o, p: (ONE if -1 < a[0] < 1 else ZERO,),
      d=("step(1 - abs($a0))",), duni=("𝟙[|$a0| < 1]",), dtex=("\\mathbf{1}\\left[\\left|$a0\\right| < 1\\right]",),
      sympy=lambda s, p: _sympy().Min(_sympy().Max(s[0], -1), 1), kink=_hardtanh_kink,
      piece=lambda a: (_sign(a[0] + 1), _sign(a[0] - 1)), scalar_only=True)
defop("leaky_relu", arity=2, symbol="LReLU", function=True, text="leaky_relu($a0, $a1)",
      tex="\\operatorname{LeakyReLU}\\left($a0, $a1\\right)",
      forward=lambda a, p: a[0] if a[0] > 0 else _mul(a[1], a[0]),
      local=lambda a, o, p: (ONE, ZERO) if a[0] > 0 else (a[1], a[0]),
      d=("$w1 + (1 - $w1) * step($a0)", "min($a0, 0)"), duni=("1 if $a0 > 0 else $a1", "min($a0, 0)"),
      dtex=("\\mathbf{1}\\left[$a0 > 0\\right] + $w1 \\, \\mathbf{1}\\left[$a0 \\le 0\\right]",
            "\\min\\left($a0, 0\\right)"),
      sympy=_leaky_sympy, kink="leaky_relu'(0) = slope (the x ≤ 0 side)", piece=lambda a: _sign(a[0]),
      operands=("x", "slope"), scalar_only=True)
defop("affine", arity=-1, symbol="Σ", forward=_affine_forward, local=_affine_local,
      text=_affine_formula(" * "), uni=_affine_formula("·"), tex=_affine_formula(" \\cdot "),
      d=_affine_derivative, sympy=_affine_sympy, neuron=True)



# -- matrix mode's own ops (bpviz.tensor has their shapes and vector-Jacobian products) ------------------

def _matrix_only(*args):
    raise DomainError("this operation needs matrix mode (bpviz.tensor)")


def _axis_form(name: str, uni: str, tex: str) -> dict:
    """``sum(A)`` / ``sum(A, axis=0)`` in each style."""
    def rule(style):
        def text(args, p, out, s):
            if style == "tex":
                return f"{tex}\\left({args[0]}\\right)" if p is None else f"{tex}_{{{int(p)}}}\\left({args[0]}\\right)"
            head = name if style == "text" else uni
            return f"{head}({args[0]})" if p is None else f"{head}({args[0]}, axis={int(p)})"
        return text
    return dict(text=rule("text"), uni=rule("uni"), tex=rule("tex"))


def _reduction_derivative(slot, args, p, out, style) -> str:
    return "1" if style != "tex" else "\\mathbf{1}"


_STRUCTURAL = dict(forward=_matrix_only, local=_matrix_only, sympy=_matrix_only, structural=True)
defop("matmul", arity=2, symbol="@", text="$w0 @ $w1", uni="$w0·$w1", tex="$w0 \\, $w1",
      d=("$a1ᵀ", "$a0ᵀ"), dtex=("{$a1}^{\\top}", "{$a0}^{\\top}"),
      **_STRUCTURAL)
defop("transpose", arity=1, symbol="ᵀ", text="$w0.T", uni="$w0ᵀ", tex="{$w0}^{\\top}", d=("1",), **_STRUCTURAL)
defop("sum", arity=1, symbol="Σ", **_axis_form("sum", "sum", "\\operatorname{sum}"), d=_reduction_derivative,
      function=True, takes_axis=True, param_field="axis", **_STRUCTURAL)
defop("mean", arity=1, symbol="mean", **_axis_form("mean", "mean", "\\operatorname{mean}"),
      d=_reduction_derivative, function=True, takes_axis=True, param_field="axis",
      **_STRUCTURAL)
defop("softmax", symbol="softmax", **function("softmax", tex="\\operatorname{softmax}"),
      d=("diag($o) - $o $oᵀ",), dtex=("\\operatorname{diag}\\left($o\\right) - $o {$o}^{\\top}",), **_STRUCTURAL)

RESERVED = ("grad",)          # names a program may not use (custom gradients: y = sign(u) @grad(1))
FUNCTIONS = tuple(name for name, op in OPS.items() if op.function)
ACTIVATIONS = {op.activation: op.name for op in OPS.values() if op.activation}
