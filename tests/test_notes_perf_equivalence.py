"""The shortcuts that make big notes fast (issue 14) print exactly what the plain way prints.

The note model typesets each number once and derives its factor form from that text, reduces names
to letters with translation tables, and writes short sums of products on one line without the
line-breaking loop; the printers skip escaping where there is nothing to escape. Each shortcut is
checked here against the plain rule it stands in for.
"""

from __future__ import annotations

import random
import re
from fractions import Fraction

import pytest

from bpviz.api import Options, build_expression, exact_values, note_for
from bpviz.escape import GREEK_LETTERS, md_math_cell, tex_factor, tex_num, tex_operand
from bpviz.render.markdown import _math_cell
from bpviz.render.note import NoteBuilder, _broken_lines, _plain, _sum_lines

NUMBERS = [Fraction(0), Fraction(1), Fraction(-1), Fraction(-11, 5), Fraction(1, 3), Fraction(-2, 7),
           Fraction(715), Fraction(10) ** 20, -Fraction(10) ** 25, Fraction(1, 2 ** 40), Fraction(3, 10 ** 9),
           Fraction(-3, 10) * Fraction(10) ** 400, 0.0, -0.0, 1.0, -2.5, 1.5e-7, -3.2e-12, 1e20, 7.25e300,
           0.7513650695523157, float("inf"), float("-inf"), float("nan")]


@pytest.mark.parametrize("value", NUMBERS, ids=repr)
def test_a_factor_is_tex_operand_of_the_number(value):
    assert tex_factor(tex_num(value)) == tex_operand(value)
    assert tex_factor(tex_num(value, 2)) == tex_operand(value, 2)


def _builder(digits: int = 4) -> NoteBuilder:
    graph = build_expression("f = w*x", exact_values({"w": "2", "x": "-3"}))
    return NoteBuilder(graph, wrt=["w"], closed=None, digits=digits)


@pytest.mark.parametrize("digits", [2, 4])
def test_numbers_typeset_once_read_as_typeset_each_time(digits):
    """Equal numbers share one text, but a Fraction and a float never do (they may print apart)."""
    builder = _builder(digits)
    for value in NUMBERS + [Fraction(n) for n in (1, 20)] + [float(v) for v in NUMBERS[:11]] + NUMBERS:
        assert builder.num(value) == tex_num(value, digits), value
        assert builder.operand(value) == tex_operand(value, digits), value


def _plain_reference(text: str) -> str:
    text = "".join(GREEK_LETTERS.get(c, c) for c in text).replace("\\mathrm", "")
    return re.sub(r"[^A-Za-z0-9]", "", text)


@pytest.mark.parametrize("text", ["v12", "v_{12}", "θ_2", "\\theta_{2}", "\\mathrm{apple\\_price}", "apple_price",
                                  "h.W[2,1]", "W^{(h)}_{2,1}", "损失", "x²", "Σexp", "a b\tc", "\\mathrm{θ}", ""])
def test_plain_names_read_as_before(text):
    assert _plain(text) == _plain_reference(text)


def test_plain_names_read_as_before_on_random_text():
    rng = random.Random(14)
    alphabet = "ab01_{}\\^()[],. |-θΣλ损x²" + "".join(map(chr, range(32, 127)))
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert _plain(text) == _plain_reference(text), text


def test_short_sums_take_one_line_as_the_loop_gives_them():
    rng = random.Random(17)
    for _ in range(3000):
        products = [[f"f{i}{j}" for j in range(rng.randint(0, 4))] for i in range(rng.randint(0, 4))]
        per_line = rng.randint(1, 9)
        for joiner in (" ", " \\cdot "):
            assert _sum_lines(products, joiner, per_line) == _broken_lines(products, joiner, per_line)


@pytest.mark.parametrize("tex", ["t_{1}", "\\frac{4}{2}", "\\left|x\\right|", "a|b", "\\|v\\|", "\\frac{|x|}{2}", ""])
def test_markdown_cells_escape_bars_only_where_there_are_some(tex):
    style = "\\displaystyle " if "\\frac" in tex else ""
    assert _math_cell(tex) == (f"${style}{md_math_cell(tex)}$" if tex else "")


def test_a_note_can_be_built_twice_from_one_graph():
    """The note keeps nothing of one build for the next (its caches live on the builder)."""
    graph = build_expression("a = w*x + b; J = relu(a)**2 / 2", exact_values({"w": "2", "x": "-3", "b": "1"}))
    first, second = note_for(graph, Options()), note_for(graph, Options())
    assert first == second


def _random_texts(alphabet: str, count: int = 3000) -> list:
    rng = random.Random(21)
    return ["", "$", "$$", "50% of $a_1$ × b", "$x$ feeds 3 nodes, so its gradient is a sum of 3 terms.",
            "a $b", "trailing $math$", "tab\tand\nnewline\x7f"] + \
        ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16))) for _ in range(count)]


def test_tex_escapes_read_as_their_character_by_character_rules():
    """tex_text and tex_code's ASCII case are translation tables, tex_prose remembers the words
    between the math: each gives what the rule it replaces gives, one character at a time."""
    from bpviz.escape import (_CODE_SYMBOLS, _PROSE_SYMBOLS, _TEX_SPECIAL, _TEX_TEXT_SPECIAL, GREEK_LETTERS, tex_code,
                              tex_prose, tex_text)

    def text_rule(text):                    # prose also writes < > | as commands; \texttt has the glyphs
        return "".join(_TEX_TEXT_SPECIAL.get(c, c) for c in text)

    def code_rule(text):
        return "".join(_CODE_SYMBOLS.get(c) or ("\\ensuremath{\\" + GREEK_LETTERS[c] + "}" if c in GREEK_LETTERS
                       else _TEX_SPECIAL.get(c) or (c if 32 <= ord(c) < 127 else "" if ord(c) < 32 or ord(c) == 127
                                                    else "?")) for c in text)

    def prose_rule(text):
        parts = text.split("$")
        for i in range(0, len(parts), 2):
            parts[i] = text_rule(parts[i])
            for symbol, tex in _PROSE_SYMBOLS.items():
                parts[i] = parts[i].replace(symbol, tex)
        return "$".join(parts)

    ascii_ = "".join(map(chr, range(128)))
    for text in _random_texts(ascii_ + "×−→∂θ损é·²") + _random_texts(ascii_):
        assert tex_text(text) == text_rule(text), repr(text)
        assert tex_code(text) == code_rule(text), repr(text)
        assert tex_prose(text) == prose_rule(text), repr(text)
        assert tex_prose(text) == prose_rule(text), repr(text)        # remembered: the same again