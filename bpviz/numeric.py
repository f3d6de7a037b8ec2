"""Exact-where-possible numbers: Fractions for rational work, floats otherwise, and their text.

Values are ``Fraction`` while every operation so far was rational on exact inputs,
and ``float`` as soon as a transcendental function (or a huge exact number) enters.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Union

Number = Union[Fraction, float]

# Exact numbers beyond this many bits fall back to float: exactness is for readability,
# not for 10,000-digit numerators that would make a long chain quadratic.
MAX_EXACT_BITS = 256
MAX_EXACT_DIGITS = 15
MAX_EXPONENT = 400          # literals beyond 1e±400 are refused: past float range, and 1e-999999999 as
                            # an exact fraction would take forever to build


class NumberRangeError(ValueError):
    """A number too large or too small to compute with."""


def tame(value: Number) -> Number:
    """Keep a Fraction exact unless it has grown too large to be useful."""
    if isinstance(value, Fraction) and (value.numerator.bit_length() > MAX_EXACT_BITS
                                        or value.denominator.bit_length() > MAX_EXACT_BITS):
        return float(value)
    return value


def parse_number(text: str) -> Fraction:
    """Parse a decimal literal exactly.

    >>> parse_number("1.1")
    Fraction(11, 10)
    >>> parse_number("1e-3")
    Fraction(1, 1000)
    >>> parse_number("-2")
    Fraction(-2, 1)
    >>> parse_number("1e-999999999")
    Traceback (most recent call last):
    bpviz.numeric.NumberRangeError: 1e-999999999 is out of range (bpviz computes with numbers from 1e-400 to 1e400 in size)
    """
    cleaned = text.strip().replace("_", "")
    if "/" in cleaned:
        num, den = cleaned.split("/", 1)
        return Fraction(parse_number(num)) / parse_number(den)
    decimal = Decimal(cleaned)
    if decimal.is_finite() and decimal and not -MAX_EXPONENT <= decimal.adjusted() <= MAX_EXPONENT:
        raise NumberRangeError(f"{text.strip()} is out of range (bpviz computes with numbers from "
                               f"1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT} in size)")
    return Fraction(decimal)


def from_float(value: float) -> Fraction:
    """The exact decimal a float was most likely typed as (its shortest repr).

    >>> from_float(1.1)
    Fraction(11, 10)
    """
    return Fraction(Decimal(repr(value)))


def _terminating(q: Fraction) -> bool:
    d = q.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def exact_text(q: Fraction) -> str:
    """An exact Fraction as text: a decimal when it terminates, else ``p/q``.

    >>> exact_text(Fraction(715))
    '715'
    >>> exact_text(Fraction(-11, 4))
    '-2.75'
    >>> exact_text(Fraction(1, 3))
    '1/3'
    """
    if q.denominator == 1:
        return str(q.numerator)
    if _terminating(q):
        text = format(Decimal(q.numerator) / Decimal(q.denominator), "f")
        if len(text.replace("-", "").replace(".", "").lstrip("0")) <= 40:
            return text
    return f"{q.numerator}/{q.denominator}"


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
    >>> fmt(0.7513650695523157)
    '0.7514'
    >>> fmt(2.0)
    '2'
    >>> fmt(1.5e-7)
    '1.5e-07'
    >>> fmt(-0.0)
    '0'
    """
    if isinstance(value, Fraction):
        if value.denominator == 1 and len(str(abs(value.numerator))) <= MAX_EXACT_DIGITS:
            return str(value.numerator)
        if _terminating(value):
            text = exact_text(value)
            significant = text.replace("-", "").replace(".", "").lstrip("0")
            if len(significant) <= max(digits, 6) and "/" not in text:
                return text
        value = float(value)
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


def json_number(value: Number):
    """A JSON-ready number: int for exact integers, float otherwise."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value.numerator)
    return float(value)
