"""Matrix mode: shapes, arrays and vector-Jacobian products, on numpy.

A value is a numpy array: ``dtype=object`` holding Fractions while it is exact (every op so far
rational, at most MAX_EXACT_ENTRIES entries), else float64. Shapes are tuples of ints, or of text
for symbolic dimensions (``("N", "Dx")``) in shape-only mode; ``()`` is a scalar, ``(n,)`` a numpy
1-D vector (neither a row nor a column), ``(m, n)`` a matrix. Broadcasting, ``@`` and ``.T``
follow numpy exactly, restricted to at most two dimensions.

Gradients are vector-Jacobian products: an element-wise op sends back ``Ḡ ⊙ f′`` (summed over the
axes it was broadcast along), ``X @ W`` sends ``Ḡ Wᵀ`` and ``Xᵀ Ḡ``, and so on. Every rule is here,
once, with how it reads (``RULES``).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np

from .errors import DomainError, ProgramError, ValuesError
from .autodiff import TINY, _finite
from .numeric import LOSES_DIGITS, UNDERFLOWS, fmt, json_number, tame

MAX_EXACT_ENTRIES = 256      # exact (Fraction) arrays up to this many entries; float64 beyond
# A run holds every node's value and gradient and the share it sends back to each operand, and its
# outputs write them all (JSON: about 50 bytes of memory and 11 of text each at the peak): 10 million
# numbers are about 600 MB and 10 s at most. The matrix bench (784-128-10, 256 samples) holds 1.25 million.
MAX_RUN_ENTRIES = 10_000_000
MAX_ENTRIES = MAX_RUN_ENTRIES // 3   # one array: its value, its gradient and its first use's share
MAX_DIMS = 2

Shape = tuple


# -- shapes ---------------------------------------------------------------------------------------

def shape_text(shape: Shape) -> str:
    """``3×4`` for a matrix, ``3`` for a vector, ``scalar`` for a scalar.

    >>> shape_text((3, 4)), shape_text(("N", "Dx")), shape_text((5,)), shape_text(())
    ('3×4', 'N×Dx', '5', 'scalar')
    """
    return "×".join(str(d) for d in shape) if shape else "scalar"


def described(name: str, shape: Shape) -> str:
    """How a message names an operand and its shape.

    >>> described("X", (3, 4)), described("x", (3,)), described("s", ())
    ('X is 3×4', 'x is a vector of 3', 's is a scalar')
    """
    if not shape:
        return f"{name} is a scalar"
    if len(shape) == 1:
        return f"{name} is a vector of {shape[0]}"
    return f"{name} is {shape_text(shape)}"


def entries(shape: Shape) -> Optional[int]:
    """How many entries an array of ``shape`` has; None when a dimension is symbolic."""
    if any(isinstance(d, str) for d in shape):
        return None
    return math.prod(shape)


class ShapeError(ProgramError):
    """Operands whose shapes do not fit; shown with the program line and a caret when known."""

    def __init__(self, message: str, *, source: Optional[str] = None, pos: Optional[tuple] = None):
        detail = None
        if source and pos:
            from .errors import _window
            lines = source.split("\n")
            line, column = pos
            if 0 < line <= len(lines):
                text, caret = _window(lines[line - 1], max(column - 1, 0))
                detail = f"  {text}\n  {' ' * caret}^"
                if len(source.strip().splitlines()) > 1:
                    message = f"line {line}: {message}"
        super().__init__(message, detail=detail)


def run_entries(shape: Shape, operands: Sequence[Shape]) -> Optional[int]:
    """The numbers a node holds in a run: its value and gradient, and the share it sends back to each
    operand (at the operand's shape); None when a dimension is symbolic (nothing is computed).

    >>> run_entries((3, 4), [(3, 4), (4,)]), run_entries((), [(5,)]), run_entries(("N",), [])
    (40, 7, None)
    """
    sizes = [entries(s) for s in (shape, *operands)]
    return None if None in sizes else sizes[0] + sum(sizes)


def check_run_entries(total: int) -> None:
    """Refuse, before any number is computed, a run holding more than MAX_RUN_ENTRIES numbers in all
    (``run_entries`` summed over its nodes)."""
    if total > MAX_RUN_ENTRIES:
        raise ShapeError(f"the program's arrays would hold {total:,} numbers in all (each node's value and "
                         f"gradient, and what it sends back to each operand), more than the {MAX_RUN_ENTRIES:,} "
                         f"bpviz computes and writes in one run; use smaller arrays (a sample of the rows) or "
                         f"fewer steps")


def _same(a, b) -> bool:
    return a == b


def broadcast_shape(shapes: Sequence[Shape], fail) -> Shape:
    """numpy's broadcasting of several shapes; ``fail(i, j, axis)`` raises for a mismatch."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(-ndim, 0):
        dim = 1
        owner = None
        for i, s in enumerate(shapes):
            if len(s) < -axis:
                continue
            d = s[axis]
            if d == 1:
                continue
            if dim == 1:
                dim, owner = d, i
            elif not _same(dim, d):
                fail(owner, i, axis)
        out.append(dim)
    return tuple(out)


def matmul_shape(a: Shape, b: Shape, fail) -> Shape:
    """The shape of ``a @ b`` (numpy's rules for vectors and matrices); ``fail(message)`` raises."""
    if not a or not b:
        fail("@ multiplies vectors and matrices; use * to scale by a scalar")
    inner_a, inner_b = a[-1], b[0] if len(b) == 1 else b[-2]
    if not _same(inner_a, inner_b):
        fail(f"inner dimensions {inner_a} ≠ {inner_b}")
    return a[:-1] + b[1:] if len(b) == 2 else a[:-1]


def reduced_shape(shape: Shape, axis: Optional[int]) -> Shape:
    return () if axis is None else shape[:axis] + shape[axis + 1:]


def normal_axis(axis: Optional[int], shape: Shape) -> Optional[int]:
    """A non-negative axis of ``shape``, or None for all axes; -1 is the last."""
    if axis is None:
        return None
    if not -len(shape) <= axis < len(shape):
        return -1
    return axis % len(shape)


def reduced_axes(operand: Shape, out: Shape) -> tuple:
    """The axes of ``out`` that broadcasting stretched ``operand`` along (its gradient sums over
    them), for the shapes as given.

    >>> reduced_axes((4,), (3, 4)), reduced_axes((3, 1), (3, 4)), reduced_axes((), (3, 4))
    ((0,), (1,), (0, 1))
    """
    lead = len(out) - len(operand)
    axes = list(range(lead))
    axes += [lead + i for i, d in enumerate(operand) if d == 1 and out[lead + i] != 1]
    return tuple(axes)


# -- arrays -----------------------------------------------------------------------------------------

def exact(a: np.ndarray) -> bool:
    return a.dtype == object


def as_array(value) -> np.ndarray:
    """A value as an array: Fractions into an exact (object) array, floats into float64."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, Fraction):
        out = np.empty((), dtype=object)
        out[()] = value
        return out
    return np.asarray(float(value), dtype=float)


def to_float(a: np.ndarray) -> np.ndarray:
    """An exact array as float64, or a DomainError naming an entry that float64 cannot hold (beyond
    1.8e308, or nonzero below 2.2e-308, where it would print as a wrong number)."""
    if a.dtype != object:
        return a
    from .numeric import as_float
    flat = []
    for i, v in enumerate(a.ravel()):
        f = as_float(v) if isinstance(v, Fraction) else float(v)
        if f is None or not math.isfinite(f) or 0 < abs(f) < TINY:
            where = index_text(tuple(int(j) for j in np.unravel_index(i, a.shape))) if a.ndim else ""
            size = "large" if abs(v) > 1 else "small"
            raise DomainError(f"the exact value {fmt(v)}{f' (entry {where})' if where else ''} is too {size} "
                              f"for a 64-bit float (this step computes with floats)")
        flat.append(f)
    return np.array(flat, dtype=float).reshape(a.shape)


def settle(a: np.ndarray) -> np.ndarray:
    """An object array stays exact while all its entries are Fractions and it is small enough."""
    if a.dtype != object:
        return a
    if a.size > MAX_EXACT_ENTRIES or not all(isinstance(v, Fraction) for v in a.flat):
        return to_float(a)
    if any(v.numerator.bit_length() > 256 or v.denominator.bit_length() > 256 for v in a.flat):
        tamed = np.empty(a.shape, dtype=object)
        for index, v in np.ndenumerate(a):
            tamed[index] = tame(v)
        return settle(tamed) if not all(isinstance(v, Fraction) for v in tamed.flat) else tamed
    return a


def same_kind(args: Sequence) -> list:
    """Operands as arrays of one kind: all exact, or all float64."""
    arrays = [as_array(a) for a in args]
    if all(exact(a) for a in arrays):
        return arrays
    return [to_float(a) for a in arrays]


def plain(a):
    """A 0-d array as a plain number (Fraction or float); other arrays as they are."""
    if isinstance(a, np.generic):                    # numpy hands back scalars from 0-d arithmetic
        return float(a)
    if isinstance(a, np.ndarray) and a.shape == ():
        v = a[()]
        return v if isinstance(v, Fraction) else float(v)
    return a


def index_text(index: tuple) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]" if index else ""


def summary(a, digits: int = 4) -> str:
    """min, max and norm of a big array, in one line."""
    f = to_float(as_array(a))
    if f.size == 0:
        return "empty"
    return f"min {fmt(float(f.min()), digits)}, max {fmt(float(f.max()), digits)}, ‖·‖ {norm_text(f, digits)}"


def frobenius(f: np.ndarray):
    """The Frobenius norm, scaled by the largest entry so that large entries do not overflow nor tiny
    ones underflow (squared, 1e-200 is 0): a float, or beyond float64 the exact product of two floats."""
    top = float(np.max(np.abs(f)))
    if top == 0:
        return 0.0
    with np.errstate(all="ignore"):
        scaled = f / top
        norm = math.sqrt(float(np.sum(scaled * scaled)))
    total = top * norm
    return total if math.isfinite(total) else Fraction(top) * Fraction(norm)


def norm_text(f: np.ndarray, digits: int = 4) -> str:
    """The Frobenius norm as text; beyond float64 it is written from its logarithm."""
    total = frobenius(f)
    if isinstance(total, float):
        return fmt(total, digits)
    exponent = math.log10(total.numerator) - math.log10(total.denominator)
    return f"{10 ** (exponent % 1):.{max(digits - 1, 0)}f}e+{int(exponent)}"


def nested(a, number) -> object:
    """An array as nested lists of ``number(entry)``; a scalar as ``number(value)``."""
    if not isinstance(a, np.ndarray):
        return number(a)
    if a.ndim == 0:
        return number(plain(a))
    if a.dtype != object and (number is float or (number is json_number and a.dtype.kind == "f")):
        return a.tolist()              # json_number(a float) is that float: no Python call per entry
    if a.ndim == 1:
        return [number(v if isinstance(v, Fraction) else float(v)) for v in a]
    return [nested(row, number) for row in a]


def from_nested(raw, what: str, number) -> np.ndarray:
    """Nested lists (a vector or a matrix) as an array, exact when small; ``number(entry, what)``
    reads one entry exactly. Ragged, too deep, empty or non-numeric lists are ValuesErrors."""
    if not isinstance(raw, list):
        raise ValuesError(f"{what} must be a number or a list, got {raw!r}")
    if not raw:
        raise ValuesError(f"{what} is an empty list")
    if all(isinstance(row, list) for row in raw):
        width = len(raw[0])
        for i, row in enumerate(raw):
            if len(row) != width:
                raise ValuesError(f"{what} is ragged: row 0 has {width} entries but row {i} has {len(row)}")
        if width == 0:
            raise ValuesError(f"{what} has empty rows")
        shape = (len(raw), width)
        flat = list(itertools.chain.from_iterable(raw))
        if any(issubclass(kind, list) for kind in set(map(type, flat))):      # no Python loop per entry
            raise ValuesError(f"{what} is nested more than two levels deep (bpviz's arrays are "
                              f"vectors and matrices)")
    elif any(isinstance(row, list) for row in raw):
        first = next(i for i, row in enumerate(raw) if isinstance(row, list))
        raise ValuesError(f"{what} is ragged: entry {first} is a list but others are numbers")
    else:
        shape = (len(raw),)
        flat = raw
    if len(flat) > MAX_ENTRIES:
        raise ValuesError(f"{what} has {len(flat):,} entries, more than the {MAX_ENTRIES:,} of one array in a "
                          f"run (it is held with its gradient and what its use sends back); use a sample of it")
    if len(flat) <= MAX_EXACT_ENTRIES:
        out = np.empty(len(flat), dtype=object)
        for i, v in enumerate(flat):
            out[i] = number(v, f"{what}{index_text(np.unravel_index(i, shape))}")
        return out.reshape(shape)
    if not set(map(type, flat)) <= {int, float, str}:    # float64: check the kinds first (True would read as 1.0)
        for i, v in enumerate(flat):
            if v.__class__ not in (int, float, str):
                number(v, f"{what}{index_text(np.unravel_index(i, shape))}")    # raises the exact message
    try:
        out = np.array(flat, dtype=float)
    except (ValueError, TypeError, OverflowError):
        out = np.array([float(number(v, f"{what}{index_text(np.unravel_index(i, shape))}"))
                        for i, v in enumerate(flat)], dtype=float)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        i = int(bad[0])
        raise ValuesError(f"{what}{index_text(np.unravel_index(i, shape))} must be a finite number, "
                          f"got {flat[i]!r}")
    lost = np.flatnonzero(lost_digits(out, lambda: _nonzero_entries(flat, out == 0, what, number)))
    if lost.size:
        i = int(lost[0])
        raise ValuesError(f"{what}{index_text(np.unravel_index(i, shape))} = {flat[i]} {too_small(out[i])} "
                          f"(an array of more than {MAX_EXACT_ENTRIES} entries is computed in 64-bit floats)")
    return out.reshape(shape)


_ZERO_TEXTS = frozenset({0, "0", "-0", "0.0", "-0.0"})     # (0 == 0.0 == False: floats are in too)


def _nonzero_entries(flat: list, zero: np.ndarray, what: str, number) -> np.ndarray:
    """Which of the entries that read as float 0 (``zero``) are nonzero numbers (``1e-400``): each
    distinct text among them read exactly once, so a matrix of zeros costs one pass."""
    zeros = np.flatnonzero(zero).tolist()
    nonzero = np.zeros(len(flat), dtype=bool)
    lost = {v for v in {flat[i] for i in zeros} - _ZERO_TEXTS if number(v, what) != 0}
    if lost:
        nonzero[[i for i in zeros if flat[i] in lost]] = True
    return nonzero


# -- lost digits: the float results that underflowed ----------------------------------------------

def lost_digits(out, nonzero=None) -> np.ndarray:
    """Where a float64 array lost its digits, as a boolean mask: subnormal entries (below 2.2e-308,
    fewer digits), and 0 where the true value is not 0. ``nonzero`` says where that is: an array, True
    (everywhere), or a function giving one, called only when ``out`` has a 0 (it may cost a pass).

    >>> lost_digits(np.array([1e-310, 0.0, 0.0, 1.0]), np.array([True, True, False, True])).tolist()
    [True, True, False, False]
    """
    out = np.asarray(out)
    lost = np.abs(out) < TINY
    zero = out == 0
    if nonzero is None or not zero.any():
        return lost & ~zero
    if callable(nonzero):
        nonzero = nonzero()
    return lost & (~zero | nonzero)


def too_small(value) -> str:
    """How a message says that a float lost its digits, as scalar mode says it."""
    return UNDERFLOWS if value == 0 else LOSES_DIGITS


# where an element-wise op's true result is not 0, so a float 0 there is an underflow (as the scalar
# rules refuse them: a product or quotient of nonzero numbers, exp, sigmoid): op -> test on the operands
NONZERO = {
    "mul": lambda a, p: (a[0] != 0) & (a[1] != 0),
    "div": lambda a, p: a[0] != 0,
    "pow": lambda a, p: a[0] != 0,
    "powc": lambda a, p: a[0] != 0,
    "exp": lambda a, p: True,
    "sigmoid": lambda a, p: True,
    "softplus": lambda a, p: True,
}

# the same for local derivatives: op -> test on the operands, one per operand (None: any 0 is right)
NONZERO_LOCAL = {
    "div": lambda a, p: (None, a[0] != 0),
    "pow": lambda a, p: ((a[0] != 0) & (a[1] != 0), (a[0] > 0) & (a[0] != 1)),
    "powc": lambda a, p: ((a[0] != 0) if p != 0 else None,),
    "exp": lambda a, p: (True,),
    "tanh": lambda a, p: (True,),
    "sigmoid": lambda a, p: (True,),
    "softplus": lambda a, p: (True,),
}


# -- element-wise rules on float64 arrays ------------------------------------------------------------

def _sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _tanh_slope(x):
    e = np.exp(-2 * np.abs(x))
    return 4 * e / (1 + e) ** 2


# op -> (forward(args, param), local(args, out, param) -> per operand), on float64 arrays
FLOAT_RULES = {
    "add": (lambda a, p: a[0] + a[1], lambda a, o, p: (1.0, 1.0)),
    "sub": (lambda a, p: a[0] - a[1], lambda a, o, p: (1.0, -1.0)),
    "mul": (lambda a, p: a[0] * a[1], lambda a, o, p: (a[1], a[0])),
    "div": (lambda a, p: a[0] / a[1], lambda a, o, p: (1 / a[1], -a[0] / (a[1] * a[1]))),
    "pow": (lambda a, p: a[0] ** a[1],
            lambda a, o, p: (a[1] * a[0] ** (a[1] - 1), np.where(a[0] > 0, o * np.log(np.where(a[0] > 0, a[0], 1)), 0.0))),
    "powc": (lambda a, p: a[0] ** float(p), lambda a, o, p: (float(p) * a[0] ** float(p - 1) if p != 0 else 0.0,)),
    "neg": (lambda a, p: -a[0], lambda a, o, p: (-1.0,)),
    "id": (lambda a, p: a[0], lambda a, o, p: (1.0,)),
    "exp": (lambda a, p: np.exp(a[0]), lambda a, o, p: (o,)),
    "log": (lambda a, p: np.log(a[0]), lambda a, o, p: (1 / a[0],)),
    "sqrt": (lambda a, p: np.sqrt(a[0]), lambda a, o, p: (1 / (2 * o),)),
    "sin": (lambda a, p: np.sin(a[0]), lambda a, o, p: (np.cos(a[0]),)),
    "cos": (lambda a, p: np.cos(a[0]), lambda a, o, p: (-np.sin(a[0]),)),
    "tan": (lambda a, p: np.tan(a[0]), lambda a, o, p: (1 + o * o,)),
    "tanh": (lambda a, p: np.tanh(a[0]), lambda a, o, p: (_tanh_slope(a[0]),)),
    "sigmoid": (lambda a, p: _sigmoid(a[0]), lambda a, o, p: (_sigmoid(a[0]) * _sigmoid(-a[0]),)),
    "relu": (lambda a, p: np.maximum(a[0], 0.0), lambda a, o, p: ((a[0] > 0).astype(float),)),
    "softplus": (lambda a, p: _softplus(a[0]), lambda a, o, p: (_sigmoid(a[0]),)),
    "abs": (lambda a, p: np.abs(a[0]), lambda a, o, p: (np.sign(a[0]),)),
}

# where an element-wise op is undefined: op -> (test on the operands, what to say)
DOMAINS = {
    "log": (lambda a, p: a[0] <= 0, "log is undefined at {x} (it needs a value > 0)"),
    "sqrt": (lambda a, p: a[0] < 0, "sqrt is undefined at {x} (it needs a value ≥ 0)"),
    "div": (lambda a, p: a[1] == 0, "division by zero at {y}"),
    "pow": (lambda a, p: (a[0] < 0) & (a[1] != np.round(a[1])),
            "a negative base ({x}) raised to a non-integer power is not real"),
    "powc": (lambda a, p: (a[0] < 0) & (p.denominator != 1),
             "a negative base ({x}) raised to a non-integer power is not real"),
}


# -- the walker's two steps: forward and vector-Jacobian product --------------------------------------

def _within_memory(step):
    """A step whose arrays do not fit in memory ends the run with a DomainError (exit 1, the node
    named where the walker knows it), not numpy's MemoryError (an internal error, exit 3)."""
    @functools.wraps(step)
    def run(*args, **kwargs):
        try:
            return step(*args, **kwargs)
        except MemoryError:
            raise DomainError("there is not enough memory for this step's arrays; use smaller arrays "
                              "(docs/limits.md)") from None
    return run


@_within_memory
def forward(op, args: list, param, names: Sequence[str]) -> np.ndarray:
    """The node's value from its operands' values (arrays)."""
    if op.structural:
        arrays = same_kind(args)
        out = _structural_forward(op.name, arrays, param)
        if not exact(out):          # a sum's or a mean's 0 is a cancellation; a softmax is never 0
            _check_digits(out, {"matmul": lambda: _matmul_nonzero(*arrays), "softmax": True}.get(op.name))
        return out
    arrays = same_kind(args)
    if exact(arrays[0]) and all(a.size <= MAX_EXACT_ENTRIES for a in arrays):
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        if math.prod(shape) <= MAX_EXACT_ENTRIES:
            wide = np.broadcast_arrays(*arrays)
            out = np.empty(shape, dtype=object)
            for index in np.ndindex(*shape):
                try:
                    out[index] = _finite(op.forward([w[index] for w in wide], param))
                except (DomainError, ZeroDivisionError, OverflowError) as exc:
                    raise _entry_error(exc, index, names, arrays) from None
            return settle(out)
        arrays = [to_float(a) for a in arrays]
    arrays = [to_float(a) for a in arrays]
    wide = np.broadcast_arrays(*arrays)
    domain = DOMAINS.get(op.name)
    if domain is not None:
        _first_bad(domain[0](wide, param), domain[1], names, arrays)
    with np.errstate(all="ignore"):
        out = np.asarray(FLOAT_RULES[op.name][0](wide, param), dtype=float)
    nonzero = NONZERO.get(op.name)
    _check_finite(out, names, arrays, nonzero and (lambda: nonzero(wide, param)))
    return out


@_within_memory
def local(op, args: list, out: np.ndarray, param) -> tuple:
    """An element-wise op's local derivatives, one array per operand, at the output's shape."""
    arrays = same_kind(args)
    if exact(arrays[0]) and exact(as_array(out)):
        wide = np.broadcast_arrays(*arrays)
        shape = out.shape
        results = [np.empty(shape, dtype=object) for _ in arrays]
        for index in np.ndindex(*shape):
            try:
                ds = [_finite(d) for d in op.local([w[index] for w in wide], out[index], param)]
            except (DomainError, ZeroDivisionError, OverflowError) as exc:
                raise DomainError(f"{getattr(exc, 'message', exc)}, at entry {index_text(index)}") from None
            for r, d in zip(results, ds):
                r[index] = d
        return tuple(settle(r) for r in results)
    wide = np.broadcast_arrays(*[to_float(a) for a in arrays])
    with np.errstate(all="ignore"):
        ds = FLOAT_RULES[op.name][1](wide, to_float(as_array(out)), param)
    nonzero = NONZERO_LOCAL.get(op.name)
    nonzero = nonzero(wide, param) if nonzero else (None,) * len(ds)
    result = []
    for d, where in zip(ds, nonzero):
        d = np.broadcast_to(np.asarray(d, dtype=float), out.shape)
        if not np.all(np.isfinite(d)):
            index = first_index(~np.isfinite(d))
            raise DomainError(f"{op.name} has no finite derivative at entry {index_text(index)}")
        lost = lost_digits(d, where)
        if lost.any():
            index = first_index(lost)
            raise DomainError(f"{op.name}'s derivative {too_small(d[index])} at entry {index_text(index)}")
        result.append(d)
    return tuple(result)


def unbroadcast(g: np.ndarray, shape: Shape) -> np.ndarray:
    """Sum ``g`` over the axes broadcasting added or stretched, back to ``shape``."""
    if g.shape == shape:
        return g
    axes = reduced_axes(shape, g.shape)
    total = g.sum(axis=axes, keepdims=True) if axes else g
    lead = len(g.shape) - len(shape)
    return total.reshape(total.shape[lead:]) if lead else total.reshape(shape)


@_within_memory
def vjp(op, slot: int, g: np.ndarray, args: list, out: np.ndarray, local_arrays, param,
        shapes: Sequence[Shape]) -> np.ndarray:
    """What the node sends back to operand ``slot``: Ḡ times the Jacobian, at the operand's shape."""
    name = op.name
    g, *args = same_kind([g, *args])
    if name == "matmul":
        a, b = args
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        g2 = g.reshape(a2.shape[0], b2.shape[1])
        result = g2 @ b2.T if slot == 0 else a2.T @ g2
        return settle(result.reshape(shapes[slot]))
    if name == "transpose":
        return g.T
    if name in ("sum", "mean"):
        shape = shapes[0]
        axis = None if param is None else int(param)
        spread = g if axis is None else np.expand_dims(g, axis)
        full = np.broadcast_to(spread, shape).copy()
        if name == "mean":
            count = math.prod(shape) if axis is None else shape[axis]
            full = np.asarray(full / (Fraction(count) if exact(full) else count))   # 0-d: numpy gives a scalar
        return settle(full)
    if name == "softmax":
        p = to_float(as_array(out))
        g = to_float(g)
        d = g - np.sum(g * p, axis=-1, keepdims=True)
        # one refinement step: when p is nearly one-hot, ⟨ḡ, p⟩ cancels against ḡ's own entries
        # and the float rounding of the dot product dominates (2e-12 relative at logits ~100)
        d = d - np.sum(d * p, axis=-1, keepdims=True)
        return p * d
    d = local_arrays[slot]
    step = g * d if not (isinstance(d, float) and d == 1.0) else g
    return settle(unbroadcast(np.asarray(step), shapes[slot]))


def vanishing(op, slot: int, g, local_arrays, step, total) -> bool:
    """Whether a gradient lost digits on its way back to operand ``slot``, the vanishing gradient
    that scalar mode keeps and warns about: the operand's float total has subnormal entries, or an
    element-wise share is 0 where neither the gradient nor the local derivative is (checked only
    when the share has a 0)."""
    if exact(as_array(total)):
        return False
    if lost_digits(total).any():
        return True
    if op.structural or exact(as_array(step)) or not (np.asarray(step) == 0).any():
        return False
    g, d = to_float(as_array(g)), to_float(as_array(local_arrays[slot]))
    with np.errstate(all="ignore"):
        return bool((lost_digits(g * d, (g != 0) & (d != 0))).any())


def _structural_forward(name: str, args: list, param) -> np.ndarray:
    if name == "matmul":
        return settle(np.asarray(args[0] @ args[1]))
    a = args[0]
    if name == "transpose":
        return a.T
    axis = None if param is None else int(param)
    if name == "sum":
        return settle(np.asarray(a.sum(axis=axis)))
    if name == "mean":
        count = a.size if axis is None else a.shape[axis]
        total = np.asarray(a.sum(axis=axis))
        return settle(np.asarray(total / (Fraction(count) if exact(a) else count)))
    z = to_float(a)                               # softmax along the last axis, shifted by its max
    shifted = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def first_index(mask) -> tuple:
    """The first entry where ``mask`` holds, as a tuple (``()`` for a 0-d mask)."""
    mask = np.asarray(mask)
    return tuple(int(i) for i in np.argwhere(mask)[0]) if mask.ndim else ()


def _first_bad(mask, message: str, names, arrays) -> None:
    mask = np.asarray(mask)
    if mask.any():
        index = first_index(mask)
        x = _operand_at(names, arrays, 0, index)
        y = _operand_at(names, arrays, 1, index) if len(arrays) > 1 else ""
        raise DomainError(message.format(x=x, y=y))


def _own(a: np.ndarray, index: tuple) -> tuple:
    """An operand's own entry for an entry of the (broadcast) result: b[2], not b[1, 2]."""
    return tuple(0 if d == 1 else j for j, d in zip(index[len(index) - a.ndim:], a.shape)) if a.ndim else ()


def _indexed(name: str, own: tuple) -> str:
    """``A[1, 2]``, or ``(A - b)[1, 2]`` for an operand written as an expression."""
    return (name if name.isidentifier() or not own else f"({name})") + index_text(own)


def _operand_at(names, arrays, i: int, index: tuple) -> str:
    """Operand ``i`` at its own entry for ``index`` of the result: ``b[2] = 0.5`` (exact stays exact)."""
    shown = names[i] if i < len(names) else "the operand"
    own = _own(arrays[i], index)
    value = arrays[i][own]
    return f"{_indexed(shown, own)} = {fmt(value if isinstance(value, Fraction) else float(value), 6)}"


def _check_finite(out: np.ndarray, names, arrays, nonzero=None) -> None:
    """An element-wise result that overflowed, is NaN or lost its digits (``lost_digits``) is a
    DomainError naming the entry and the operands there."""
    bad = ~np.isfinite(out)
    if bad.any():
        index = first_index(bad)
        what = "overflows a 64-bit float" if np.isinf(out[index]) else "is not a number (NaN)"
    else:
        lost = lost_digits(out, nonzero)
        if not lost.any():
            return
        index = first_index(lost)
        what = too_small(out[index])
    args = ", ".join(_operand_at(names, arrays, i, index) for i in range(len(arrays)))
    raise DomainError(f"the result {what} at entry {index_text(index) or '(the scalar)'}: {args}")


def _check_digits(out: np.ndarray, nonzero=None) -> None:
    """A structural op's result (@, sum, mean, softmax) that lost its digits: the entry named (its
    operands are whole rows and columns, so not shown)."""
    lost = lost_digits(out, nonzero)
    if lost.any():
        index = first_index(lost)
        raise DomainError(f"the result {too_small(out[index])} at entry {index_text(index) or '(the scalar)'}")


def _matmul_nonzero(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where a float product ``a @ b`` is not truly 0 although it may read 0: some term a_ik·b_kj is
    nonzero, and all of them together are below the normal floats (so none kept its digits). An
    exact cancellation of representable terms is a true 0. Two more products, paid only when the
    result has a 0."""
    with np.errstate(all="ignore"):
        terms = (a != 0).astype(float) @ (b != 0).astype(float)
        size = np.abs(a) @ np.abs(b)
    return (terms > 0) & (size < TINY)


def _entry_error(exc, index: tuple, names, arrays) -> DomainError:
    """A scalar rule's error at one entry, naming each array operand's own entry (a broadcast
    operand's index is its own: b[2], not b[1, 2])."""
    message = getattr(exc, "message", None) or ("division by zero" if isinstance(exc, ZeroDivisionError)
                                                 else "the result is too large for a 64-bit float")
    if not index:
        return DomainError(message)
    shown = [_operand_at(names, arrays, i, index) for i, a in enumerate(arrays) if a.ndim]
    return DomainError(f"{message}, at {' and '.join(shown)}")


# -- shape inference: before any number is computed ---------------------------------------------------

def infer_shape(op, shapes: Sequence[Shape], param, names: Sequence[str], fail) -> Shape:
    """The node's shape from its operands' shapes; ``fail(message)`` raises a located ShapeError.

    >>> from bpviz.ops import OPS
    >>> infer_shape(OPS["matmul"], [(3, 4), (4, 2)], None, ["X", "W"], print)
    (3, 2)
    >>> infer_shape(OPS["add"], [("N", "H"), (1, "H")], None, ["Z", "b"], print)
    ('N', 'H')
    """
    if any(len(s) > MAX_DIMS for s in shapes):
        fail(f"bpviz's arrays have at most {MAX_DIMS} dimensions")
    name = op.name
    if name == "matmul":
        def inner(message):
            fail(f"{described(names[0], shapes[0])} but {described(names[1], shapes[1])} ({message})")
        return matmul_shape(shapes[0], shapes[1], inner)
    if name == "transpose":
        return tuple(reversed(shapes[0]))
    if name in ("sum", "mean"):
        if param is None:
            return ()
        axis = normal_axis(int(param), shapes[0])
        if axis == -1:
            axes = " and ".join(str(i) for i in range(len(shapes[0]))) or "none"
            has = f"which has axes {axes}" if shapes[0] else "which has no axes"
            fail(f"{name}(…, axis={int(param)}): {described(names[0], shapes[0])}, {has}")
        return reduced_shape(shapes[0], axis)
    if name == "softmax":
        if not shapes[0]:
            fail(f"softmax needs a vector or a matrix, and {described(names[0], shapes[0])}")
        return shapes[0]

    def mismatch(i, j, axis):
        which = "last" if axis == -1 else "first" if axis == -2 else f"{-axis}th from last"
        hint = ""
        for k, other in ((i, j), (j, i)):
            if len(shapes[k]) == 1 and len(shapes[other]) == 2 and _same(shapes[k][0], shapes[other][0]):
                hint = (f"; a vector is added to every row, so to add {names[k]} to every column give it "
                        f"the shape ({shapes[k][0]}, 1), a column")
        fail(f"{described(names[i], shapes[i])} but {described(names[j], shapes[j])}: they do not "
             f"broadcast ({shapes[i][axis]} ≠ {shapes[j][axis]} in the {which} axis, and neither is 1){hint}")
    return broadcast_shape(shapes, mismatch)


# -- how each vector-Jacobian product reads ---------------------------------------------------------

_ODOT = {"text": " * ", "uni": " ⊙ ", "tex": " \\odot "}
_TRANSPOSED = {"text": "{}.T", "uni": "{}ᵀ", "tex": "{{{}}}^{{\\top}}"}
_MATMUL = {"text": "{} @ {}", "uni": "{}·{}", "tex": "{} \\, {}"}
_OWN_OUTPUT = {           # σ′, tanh′ and exp′ in terms of the node's own output, as textbooks write them
    "sigmoid": {"text": "$o * (1 - $o)", "uni": "$o ⊙ (1 − $o)", "tex": "$o \\odot \\left(1 - $o\\right)"},
    "tanh": {"text": "(1 - $o**2)", "uni": "(1 − $o²)", "tex": "\\left(1 - {$o}^{\\odot 2}\\right)"},
    "exp": {"text": "$o", "uni": "$o", "tex": "$o"},
}


def bar(name: str, style: str) -> str:
    """A node's accumulated gradient ∂J/∂v: ``dW1`` in code, ``W̄1`` in Unicode, ``\\bar{W}_{1}`` in
    LaTeX (``name`` is already in the style's spelling: ``W_{1}`` for LaTeX).

    >>> print(bar("W1", "text"), bar("W1", "uni"), bar("W_{1}", "tex"), bar("z", "tex"), bar("ab", "tex"))
    dW1 W̄1 \\bar{W}_{1} \\bar{z} \\overline{ab}
    >>> print(bar("{a^{(o)}}", "tex"), bar("W^{(h)}_{2,1}", "tex"))
    {\\bar{a}^{(o)}} {\\bar{W}^{(h)}_{2,1}}
    """
    if style == "text":
        return f"d{name}" if name.isidentifier() else f"d({name})"
    if style == "uni":
        return name[0] + "\u0304" + name[1:]
    bare = name[1:-1] if name.startswith("{") and name.endswith("}") else name
    indexed = re.match(r"^([A-Za-z])((?:_\{[^{}]*\}|\^\{[^{}]*\}|\^\{\([^{}]*\)\})+)$", bare)
    if indexed:                                  # W_{1} → \bar{W}_{1}, a^{(o)} → \bar{a}^{(o)}
        return f"{{\\bar{{{indexed.group(1)}}}{indexed.group(2)}}}" if "^" in indexed.group(2) \
            else f"\\bar{{{indexed.group(1)}}}{indexed.group(2)}"
    return f"\\bar{{{name}}}" if len(name) == 1 else f"\\overline{{{name}}}"


def reduction_text(axes: tuple, ndim: int, keepdims: bool, inner: str, style: str) -> str:
    """``inner`` summed over broadcast ``axes`` of an ``ndim``-dimensional gradient."""
    if not axes:
        return inner
    if style == "text":
        if len(axes) == ndim:
            return f"sum({inner})" if not keepdims else f"sum({inner}, keepdims=True)"
        axis = axes[0] if len(axes) == 1 else tuple(axes)
        return f"sum({inner}, axis={axis}{', keepdims=True' if keepdims else ''})"
    if len(axes) == ndim:
        where = ""
    elif ndim == 2:
        where = "rows" if axes == (0,) else "cols"
    else:
        where = "axis " + ",".join(map(str, axes))
    if style == "uni":
        return f"Σ{('_' + where) if where else ''} {_paren(inner)}"
    return f"\\sum_{{\\text{{{where}}}}} {_paren(inner, True)}" if where else f"\\sum {_paren(inner, True)}"


def _factor(text: str, style: str) -> str:
    """A local derivative multiplied onto a gradient: parenthesised unless it is one name or number
    (J̄·(−t6/N²), not J̄·−t6/N²)."""
    if re.fullmatch(r"[\w.]+|\\?[A-Za-z]+(\{[^{}]*\})?(_\{[^{}]*\})?|\\frac\{[^{}]*\}\{[^{}]*\}", text):
        return text
    return f"\\left({text}\\right)" if style == "tex" else f"({text})"


def _dim(d, style: str) -> str:
    """A dimension as a formula writes it: ``Dx`` in LaTeX is ``\\mathrm{Dx}``."""
    if style != "tex" or not isinstance(d, str):
        return str(d)
    from .escape import latex_name
    return latex_name(d)


def _paren(text: str, tex: bool = False) -> str:
    bracketed = text.endswith(("]", "\\right]")) and text.count("[") == 1 and text.startswith(("𝟙[", "\\mathbf{1}"))
    if " " not in text or bracketed:          # 𝟙[z > 0] is one factor already
        return text
    return f"\\left({text}\\right)" if tex else f"({text})"


def vjp_text(op, slot: int, names: Sequence[str], out: str, shapes: Sequence[Shape], out_shape: Shape,
             param, style: str) -> str:
    """The rule of what a node sends back to operand ``slot``, in ``style`` (text, uni, tex)."""
    g = bar(out, style)
    t = _TRANSPOSED[style]
    mm = _MATMUL[style]
    name = op.name
    if name == "matmul":
        a, b = shapes
        if len(a) == 1 and len(b) == 1:
            return f"{g} * {names[1 - slot]}" if style == "text" else \
                f"{g}·{names[1 - slot]}" if style == "uni" else f"{g} \\, {names[1 - slot]}"
        if len(b) == 1:                      # A @ v: dA = outer(Ḡ, v), dv = Aᵀ Ḡ
            if slot == 0:
                return f"outer({g}, {names[1]})" if style == "text" else mm.format(g, t.format(names[1]))
            return mm.format(t.format(names[0]), g)
        if len(a) == 1:                      # v @ B: dv = B Ḡ, dB = outer(v, Ḡ)
            if slot == 0:
                return mm.format(names[1], g)
            return f"outer({names[0]}, {g})" if style == "text" else mm.format(names[0], t.format(g))
        return mm.format(g, t.format(names[1])) if slot == 0 else mm.format(t.format(names[0]), g)
    if name == "transpose":
        return t.format(g)
    if name in ("sum", "mean"):
        shape = shapes[0]
        dims = (shape if param is None else (shape[int(param) % len(shape)],)) if shape else ()
        count = entries(dims) if entries(dims) is not None else \
            {"text": "*", "uni": "·", "tex": " "}[style].join(_dim(d, style) for d in dims)
        if entries(dims) is None and len(dims) > 1 and style != "tex":
            count = f"({count})"
        axis = None if param is None else int(param) % max(len(shape), 1)
        if style == "text":
            spread = g if axis is None else f"expand_dims({g}, {axis})"
            body = f"broadcast_to({spread}, {names[0]}.shape)"
            return body if name == "sum" else f"{body} / {count}"
        ones = "𝟏" if style == "uni" else "\\mathbf{1}"
        if axis is None:
            body = f"{g}·{ones}" if style == "uni" else f"{g} \\, {ones}"
        elif axis == 0:
            body = f"{ones}·{t.format(g) if len(shape) == 2 else g}" if style == "uni" else \
                f"{ones} \\, {t.format(g) if len(shape) == 2 else g}"
        else:
            body = f"{g}·{t.format(ones)}" if style == "uni" else f"{g} \\, {t.format(ones)}"
        if name == "mean":
            body = f"{body} / {count}" if style != "tex" else f"\\frac{{1}}{{{count}}} {body}"
        return body
    if name == "softmax":
        o = out
        if style == "text":
            return f"{o} * ({g} - sum({g} * {o}, axis=-1, keepdims=True))"
        if style == "uni":
            inner = f"⟨{g}, {o}⟩" if len(out_shape) == 1 else f"Σ_cols({g} ⊙ {o})"
            return f"{o} ⊙ ({g} − {inner})"
        inner = (f"\\langle {g}, {o} \\rangle" if len(out_shape) == 1
                 else f"\\textstyle\\sum_{{\\text{{cols}}}} {g} \\odot {o}")
        return f"{o} \\odot \\left({g} - {inner}\\right)"
    # element-wise: Ḡ ⊙ f′, summed over the axes the operand was broadcast along
    own = _OWN_OUTPUT.get(name, {}).get(style)
    from .ops import Template
    if own is not None:
        local = Template(own)(names, param, out, style)
    else:
        local = op.derivative(style, slot, names, out, param)
    minus = {"text": "-", "uni": "−", "tex": "-"}[style]
    if local in ("1", "1.0"):
        inner = g
    elif local in ("-1", "−1"):
        inner = f"{minus}{g}"
    else:
        joiner = _ODOT[style] if out_shape else {"text": " * ", "uni": "·", "tex": " \\cdot "}[style]
        factor = local if own else _paren(local, style == "tex") if out_shape else _factor(local, style)
        inner = f"{g}{joiner}{factor}"
    axes = reduced_axes(shapes[slot], out_shape)
    keep = bool(axes) and len(shapes[slot]) == len(out_shape)
    return reduction_text(axes, len(out_shape), keep, inner, style)
