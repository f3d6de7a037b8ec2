"""latex_name's fast path for one-letter names (x0, a0_1, h12) gives the general rule's LaTeX."""

import random

from bpviz.escape import _latex_name, _letter_name, latex_name

# characters that make a name take the fast path, just miss it, or take another rule entirely
_ALPHABET = "abxyzAWL" + "0123456789" * 3 + "__" + "αθΣ" + "²٣" + ".-/[], " + "é"


def _names(count: int, seed: int) -> list:
    rng = random.Random(seed)
    names = []
    for _ in range(count):
        shape = rng.random()
        if shape < 0.5:                     # letter, digits, maybe _digits: the fast path's own shapes
            name = rng.choice("abxwhAZ") + str(rng.randrange(1000)) * rng.randrange(2)
            if rng.random() < 0.5:
                name += "_" + str(rng.randrange(100))
        else:                               # anything: near misses (a0_, a_b, x²) and other rules
            name = "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(1, 7)))
        names.append(name)
    return names


def test_letter_names_as_the_general_rule():
    taken = 0
    for name in _names(60_000, 14) + ["x", "x0", "a0_1", "a_1", "a01", "a0_", "a_", "x_y", "x²", "x٣",
                                      "x1_٣", "é1", "ab1", "a1_2_3", "", "_1", "1", "-0.5", "1/3"]:
        fast = _letter_name(name)
        if name:
            assert latex_name(name) == _latex_name(name), name
        if fast is not None:
            taken += 1
            assert fast == _latex_name(name), name
    assert taken > 30_000                   # the fast path was really exercised
