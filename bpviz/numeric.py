"""Exact-where-possible numbers: Fractions for rational work, floats otherwise, and their text.

Values are ``Fraction`` while every operation so far was rational on exact inputs,
and ``float`` as soon as a transcendental function (or a huge exact number) enters.
"""

from __future__ import annotations

import math
import sys
from functools import lru_cache
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Optional, Union

from .errors import DomainError, clip

Number = Union[Fraction, float]

# Exact numbers beyond this many bits become floats when float64 holds them faithfully: exactness
# is for readability, not for 10,000-digit numerators that would make a long chain quadratic.
MAX_EXACT_BITS = 256
MAX_EXACT_DIGITS = 4096     # an exact value float64 cannot hold is kept up to this many digits, then refused
MAX_EXPONENT = 4000         # literals beyond 10^±4000 are refused (1e-999999999 would take forever to build)
PRINT_INT_DIGITS = 15       # integers up to this many digits print in full
_HARD_BITS = int(MAX_EXACT_DIGITS * math.log2(10)) + 1


# how a message says that a float lost its digits (scalar and matrix mode alike)
UNDERFLOWS = "is too small for a 64-bit float (it underflows to 0)"
LOSES_DIGITS = "is too small for a 64-bit float (it would lose its digits)"


class NumberRangeError(ValueError):
    """A number too large or too small to compute with. Callers show its message as it is."""


class NumberTextError(NumberRangeError):
    """A number text written with characters other than ASCII ones (Arabic-Indic or fullwidth digits,
    which Python's Decimal, int and re's \\d all read as 0-9 but the program parser does not). A
    NumberRangeError, so every caller that shows a range error's message shows this one's too."""


def as_float(q: Fraction) -> Optional[float]:
    """``q`` as a float64 when it holds it faithfully (no overflow, no underflow to 0 or to a
    subnormal), else None.

    >>> as_float(Fraction(1, 4)), as_float(Fraction(10) ** 400), as_float(Fraction(1, 10 ** 400))
    (0.25, None, None)
    """
    try:
        f = q.numerator / q.denominator          # correctly rounded, raises on overflow
    except OverflowError:
        return None
    if q and abs(f) < sys.float_info.min:
        return None
    return f


def to_float(value: Number) -> float:
    """``value`` as the nearest float, an exact value beyond float64's range as ±inf and one below it
    as 0.0 or a subnormal (never an OverflowError): for functions whose result float64 holds although
    their operand does not, as tanh(1e400) = 1. The caller says when the result is not held.

    >>> to_float(Fraction(1, 4)), to_float(-Fraction(10) ** 400), to_float(Fraction(1, 10 ** 400))
    (0.25, -inf, 0.0)
    """
    if value.__class__ is float:
        return value
    try:
        return value.numerator / value.denominator      # correctly rounded
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def log_of(value: Number) -> float:
    """The natural logarithm of a positive number, exact ones beyond float64's range included
    (math.log takes big integers exactly, so log(1e-400) = log(1) - log(10**400) = -921.03).

    >>> round(log_of(Fraction(1, 10 ** 400)), 6), round(log_of(Fraction(10) ** 400), 6), log_of(Fraction(1))
    (-921.034037, 921.034037, 0.0)
    """
    if value.__class__ is not Fraction or as_float(value) is not None:
        return math.log(value)                          # no cancellation near 1
    return math.log(value.numerator) - math.log(value.denominator)    # |log| > 708: none to fear


def frexp_of(value: Fraction) -> tuple:
    """(m, e) with ``value == m * 2**e`` and a float 0.5 <= |m| <= 1 (rounded once): the scale of an
    exact number float64 may not hold.

    >>> frexp_of(Fraction(3, 4)), frexp_of(Fraction(10) ** 400)[1]
    ((0.75, 0), 1329)
    """
    n, d = abs(value.numerator), value.denominator
    e = n.bit_length() - d.bit_length()
    m = Fraction(n, d << e) if e >= 0 else Fraction(n << -e, d)    # 1/2 < m < 2
    if m >= 1:
        m, e = m / 2, e + 1
    return (m.numerator / m.denominator) * (1 if value > 0 else -1), e


def tame(value: Number) -> Number:
    """Keep a Fraction exact unless it has grown too large to be useful: then a float when float64
    holds it faithfully, else exact up to MAX_EXACT_DIGITS digits, else a DomainError.

    >>> tame(Fraction(2) ** 300) == 2.0 ** 300, tame(Fraction(10) ** 400) == 10 ** 400
    (True, True)
    """
    if value.__class__ is float:            # first: called on every value and every share of a gradient
        return value
    if isinstance(value, Fraction) and (value.numerator.bit_length() > MAX_EXACT_BITS
                                        or value.denominator.bit_length() > MAX_EXACT_BITS):
        f = as_float(value)
        if f is not None:
            return f
        if max(value.numerator.bit_length(), value.denominator.bit_length()) > _HARD_BITS:
            raise DomainError(f"the result has more than {MAX_EXACT_DIGITS} digits and is "
                              f"{'too large' if abs(value) > 1 else 'too small'} for a 64-bit float")
    return value


def check_exact(value: Fraction, what: str) -> Fraction:
    """Refuse an exact value beyond MAX_EXACT_DIGITS digits."""
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > _HARD_BITS:
        raise NumberRangeError(f"{what} has more than {MAX_EXACT_DIGITS} digits")
    return value


def parse_number(text: str) -> Fraction:
    """Parse a decimal literal exactly. Short texts are remembered (_parse_short): a values
    file or a program repeats the same few numbers, and a Fraction cannot change; a long one (a
    thousand zeros, in a long-running `bpviz md --watch` or notebook) is not kept.

    >>> parse_number("1.1")
    Fraction(11, 10)
    >>> parse_number("1e-3")
    Fraction(1, 1000)
    >>> parse_number("-2")
    Fraction(-2, 1)
    >>> parse_number("1/2/4"), parse_number("1_000")
    (Fraction(1, 8), Fraction(1000, 1))
    >>> parse_number("1e-999999999")
    Traceback (most recent call last):
    bpviz.numeric.NumberRangeError: 1e-999999999 is out of range (bpviz computes with numbers from 1e-4000 to 1e4000 in size)
    >>> parse_number("١٢")
    Traceback (most recent call last):
    bpviz.numeric.NumberTextError: '١٢' is not a number: write digits as 0-9 (found '١', U+0661)
    """
    if not text.isascii():
        _refuse_non_ascii(text)
    return _parse_short(text) if len(text) <= SHORT_NUMBER else _parse_number(text)


def _refuse_non_ascii(text: str):
    stripped = text.strip()
    odd = next((c for c in stripped if not c.isascii()), None)
    if odd is None:                          # only Unicode spaces around an ASCII number
        return
    why = ": write digits as 0-9" if odd.isdigit() or odd.isnumeric() else ""
    raise NumberTextError(f"{clip(stripped)!r} is not a number{why} (found {odd!r}, U+{ord(odd):04X})")


SHORT_NUMBER = 64              # characters of a number text worth remembering


@lru_cache(maxsize=4096)
def _parse_short(text: str) -> Fraction:
    return _parse_number(text)


def _parse_number(text: str) -> Fraction:
    cleaned = text.strip().replace("_", "")
    if "/" in cleaned:                      # a/b/c is (a/b)/c, as in a program
        parts = cleaned.split("/")
        if len(parts) > 16:
            raise ValueError(f"{clip(text.strip())}: too many divisions for one number")
        value = _parse_number(parts[0])
        for part in parts[1:]:
            divisor = _parse_number(part)
            if divisor == 0:
                raise ValueError(f"{clip(text.strip())} divides by zero")
            value /= divisor
        return check_exact(value, clip(text.strip()))
    if text.strip().endswith("_") or text.strip().startswith("_") or "__" in text:
        raise ValueError(f"{text!r} is not a number")
    decimal = Decimal(cleaned)
    if decimal.is_finite() and decimal and not -MAX_EXPONENT <= decimal.adjusted() <= MAX_EXPONENT:
        raise NumberRangeError(f"{clip(text.strip())} is out of range (bpviz computes with numbers from "
                               f"1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT} in size)")
    if len(decimal.as_tuple().digits) > MAX_EXACT_DIGITS:
        raise NumberRangeError(f"{clip(text.strip())} has more than {MAX_EXACT_DIGITS} digits")
    return Fraction(decimal)


def from_float(value: float) -> Fraction:
    """The exact decimal a float was most likely typed as (its shortest repr).

    >>> from_float(1.1)
    Fraction(11, 10)
    """
    return Fraction(Decimal(repr(value)))


def _decimal_places(q: Fraction) -> Optional[int]:
    """How many decimal places ``q`` needs, or None when its decimal does not terminate.

    >>> _decimal_places(Fraction(3, 40)), _decimal_places(Fraction(1, 3)), _decimal_places(Fraction(7))
    (3, None, 0)
    """
    d = q.denominator
    twos = (d & -d).bit_length() - 1            # the factors of 2, at once
    d >>= twos
    fives = 0
    while d % 625 == 0:                         # four factors of 5 at a time, then one
        d //= 625
        fives += 4
    while d % 5 == 0:
        d //= 5
        fives += 1
    return max(twos, fives) if d == 1 else None


def exact_text(q: Fraction) -> str:
    """An exact Fraction as text: a decimal when it terminates, else ``p/q``.

    >>> exact_text(Fraction(715))
    '715'
    >>> exact_text(Fraction(-11, 4))
    '-2.75'
    >>> exact_text(Fraction(1, 3))
    '1/3'
    >>> exact_text(Fraction(1, 2 ** 40))
    '0.0000000000009094947017729282379150390625'
    """
    if q.denominator == 1:
        return str(q.numerator)
    return _exact_text(q, _decimal_places(q))


SHORT_NAME = 20             # characters of a constant's exact decimal kept as its name


def const_name(q: Fraction) -> str:
    """A constant's node name: its exact_text when short, else, when its decimal terminates, the same
    exact value in scientific form (every digit kept), whichever is shorter. The program's ``1e-300``
    is a node named 1e-300, not a 302-character decimal.

    >>> const_name(Fraction(1, 10 ** 300)), const_name(Fraction(-3, 2) * 10 ** 300), const_name(Fraction(5, 2))
    ('1e-300', '-1.5e300', '2.5')
    >>> const_name(Fraction(123456789123456789123456789)), const_name(Fraction(1, 3 * 10 ** 30))
    ('123456789123456789123456789', '1/3000000000000000000000000000000')
    >>> const_name(Fraction(12345678901234567, 10 ** 40))
    '1.2345678901234567e-24'
    """
    text = exact_text(q)
    if len(text) <= SHORT_NAME:
        return text
    places = _decimal_places(q)
    if places is None:
        return text
    digits = str(abs(q.numerator) * 10 ** places // q.denominator)      # q = ±digits · 10^-places
    significant = digits.rstrip("0")
    mantissa = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
    scientific = f"{'-' if q < 0 else ''}{mantissa}e{len(digits) - 1 - places}"
    return scientific if len(scientific) < len(text) else text


def _exact_text(q: Fraction, places: Optional[int]) -> str:
    n, d = q.numerator, q.denominator
    if places is not None:
        digits = str(abs(n) * 10 ** places // d).rjust(places + 1, "0")
        if len(digits.lstrip("0")) <= 40:
            return ("-" if n < 0 else "") + digits[:-places] + "." + digits[-places:]
    return f"{n}/{d}"


def fmt(value: Number, digits: int = 4) -> str:
    """A number for people: exact decimals when short, else ``digits`` significant digits.

    >>> fmt(Fraction(715))
    '715'
    >>> fmt(Fraction(11, 10) * 650)
    '715'
    >>> fmt(Fraction(-11, 5))
    '-2.2'
    >>> fmt(Fraction(1, 3))
    '0.3333'
    >>> fmt(Fraction(143767, 100000)), fmt(Fraction(3775, 10000))      # one precision, exact or not
    ('1.438', '0.3775')
    >>> fmt(0.7513650695523157)
    '0.7514'
    >>> fmt(2.0)
    '2'
    >>> fmt(1.5e-7)
    '1.5e-07'
    >>> fmt(-0.0)
    '0'
    >>> fmt(Fraction(-3, 10) * Fraction(10) ** 400), fmt(Fraction(1, 7 * 10 ** 500))
    ('-3e+399', '1.429e-501')
    """
    if isinstance(value, Fraction):
        if value.denominator == 1 and value.numerator.bit_length() < 64 \
                and len(str(abs(value.numerator))) <= PRINT_INT_DIGITS:
            return str(value.numerator)
        places = _decimal_places(value)
        if places is not None and max(value.numerator.bit_length(), value.denominator.bit_length()) < 200:
            text = _exact_text(value, places) if value.denominator != 1 else str(value.numerator)
            significant = text.replace("-", "").replace(".", "").lstrip("0")
            if len(significant) <= digits and "/" not in text:
                return text
        return _decimal_g(value, digits)
    if value == 0:
        return "0"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}"
    return text


_SUPERSCRIPTS = str.maketrans("0123456789-+", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺")


def fmt_uni(value: Number, digits: int = 4) -> str:
    """``fmt`` for people reading Unicode (figures, the terminal): a typographic minus and scientific
    notation as ``5.93×10⁻⁶``, never ``5.93e-06``.

    >>> fmt_uni(-5.929e-06), fmt_uni(Fraction(-11, 5)), fmt_uni(3e+20, 3)
    ('−5.929×10⁻⁶', '−2.2', '3×10²⁰')
    """
    text = fmt(value, digits)
    if "e" in text and not text.lstrip("-").startswith(("inf", "nan")):
        mantissa, exponent = text.split("e")
        text = f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPTS)}"
    return text.replace("-", "−")


def _decimal_g(q: Fraction, digits: int) -> str:
    """A Fraction in ``digits`` significant digits, rounded once from its exact value (a float in
    between would round twice: 2/3 at 16 digits is 0.6666666666666667, not ...666), written as
    Python writes floats with ``g``: fixed from 1e-4 to 10^digits, else ``1.5e-07``.

    >>> _decimal_g(Fraction(2, 3), 16), _decimal_g(Fraction(1, 7), 17), _decimal_g(Fraction(-1, 3), 4)
    ('0.6666666666666667', '0.14285714285714286', '-0.3333')
    >>> _decimal_g(Fraction(3, 20000000), 4), _decimal_g(Fraction(10) ** 400 / 3, 4)
    ('1.5e-07', '3.333e+399')
    """
    with localcontext() as context:
        context.prec = digits
        context.rounding = ROUND_HALF_EVEN
        context.Emax, context.Emin = MAX_EXPONENT * 4, -MAX_EXPONENT * 4
        d = Decimal(q.numerator) / Decimal(q.denominator)      # correctly rounded to `digits`
        if not d:
            return "0"
        exponent = d.adjusted()
        if -4 <= exponent < digits:
            text = format(d, "f")
            return text.rstrip("0").rstrip(".") if "." in text else text
        mantissa = format(d.scaleb(-exponent), "f")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def json_number(value: Number):
    """A JSON-ready number: int for exact integers, float otherwise; None for an exact value
    float64 cannot hold (its ``_exact`` text carries it)."""
    if isinstance(value, Fraction):
        return int(value.numerator) if value.denominator == 1 else as_float(value)
    return float(value)
