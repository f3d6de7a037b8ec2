"""Input values from the command line (``--at "w=2, x=-2"``) and from YAML/JSON files."""

from __future__ import annotations

import math
from decimal import Decimal
import numbers
import re
import unicodedata
from fractions import Fraction

from .errors import ValuesError, clip
from .numeric import NumberRangeError, check_exact, from_float, parse_number

MAX_FILE_BYTES = 32_000_000     # a values file


def _capped_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader that refuses aliases: a values file is a flat mapping, and aliases are how a
        small YAML file expands into a huge one."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed in a values file",
                                           problem_mark=event.start_mark)
            return super().compose_node(parent, index)
    return Loader


def canonical(name: str) -> str:
    """A name as Python's parser reads it (NFKC): ``ｗ`` and ``w`` are the same name.

    >>> canonical("ｗ"), canonical("θ")
    ('w', 'θ')
    """
    return unicodedata.normalize("NFKC", name)


def parse_assignments(text: str) -> dict:
    """Parse ``name=value`` pairs separated by commas or whitespace.

    >>> parse_assignments("w=2, x=-2, b=8")
    {'w': Fraction(2, 1), 'x': Fraction(-2, 1), 'b': Fraction(8, 1)}
    >>> parse_assignments("θ = 0.5")
    {'θ': Fraction(1, 2)}
    """
    values: dict = {}
    for name, raw in _named(text, "expected name=value, got {pair}", "", "is given twice in " + repr(clip(text.strip()))):
        values[name] = value(_bracketed(raw) if raw.startswith("[") else raw, f"the value of {name}")
    return values


def _named(text: str, no_equals: str, flag: str, twice: str) -> list:
    """``name=raw`` pairs of ``text`` as [(canonical name, raw text)], each name valid and given once;
    the messages name the option (``flag``) and say what a repeat is (``twice``)."""
    found: dict = {}
    for pair in _pairs(text):
        if "=" not in pair:
            raise ValuesError(no_equals.format(pair=repr(clip(pair.strip()))))
        name, raw = (part.strip() for part in pair.split("=", 1))
        name = canonical(name)
        if not name.isidentifier():
            raise ValuesError(f"{clip(name)!r} is not a valid name (in {flag}{clip(pair.strip())!r})")
        if name in found:
            raise ValuesError(f"{clip(name)!r} {twice}")
        found[name] = raw
    return list(found.items())


def _pairs(text: str) -> list:
    """``name=value`` pairs split at commas (or whitespace before the next ``name=``), never inside
    brackets: ``W=[[1,2],[3,4]], b=0`` is two pairs.

    >>> _pairs("W=[[1, 2], [3, 4]], b=0  c = 1")
    ['W=[[1, 2], [3, 4]]', 'b=0', 'c = 1']
    """
    pairs, depth, start = [], 0, 0
    next_name = re.compile(r"\s+([^\s=\[\](),]+)\s*=")
    for i, c in enumerate(text):
        if c in "[(":
            depth += 1
        elif c in "])":
            depth = max(depth - 1, 0)
        elif depth == 0 and (c == "," or (c.isspace() and i > start and not text[start:i].strip().endswith("=")
                                          and "=" in text[start:i] and _names_next(next_name, text, i))):
            pairs.append(text[start:i])
            start = i + 1
    pairs.append(text[start:])
    return [p.strip() for p in pairs if p.strip()]


def _names_next(next_name: re.Pattern, text: str, i: int) -> bool:
    """Whether whitespace at ``i`` is followed by ``name =``: a name as Python reads one, combining
    marks included (x̄ is x and U+0304)."""
    found = next_name.match(text, i)
    return found is not None and found.group(1).isidentifier()


_TOKEN = re.compile(r"\s*(\[|\]|,|[^\[\],\s]+)")


def _bracketed(text: str) -> list:
    """A vector or matrix written in brackets, entries as text (read exactly later).

    >>> _bracketed("[[1, 2], [3, -0.5]]"), _bracketed("[1/2, 3]")
    ([['1', '2'], ['3', '-0.5']], ['1/2', '3'])
    """
    tokens = [m.group(1) for m in _TOKEN.finditer(text)]
    if "".join(tokens) != re.sub(r"\s+", "", text):
        raise ValuesError(f"cannot read {clip(text)!r} as a vector or matrix")
    position = 0

    def items(depth: int) -> list:
        nonlocal position
        if depth > 3:
            raise ValuesError(f"{clip(text)!r} is nested too deeply (bpviz's arrays are vectors and matrices)")
        position += 1                                   # the "["
        found: list = []
        while True:
            if position >= len(tokens):
                raise ValuesError(f"{clip(text)!r} has an unclosed '['")
            token = tokens[position]
            if token == "]":
                position += 1
                return found
            if token == "[":
                found.append(items(depth + 1))
            elif token == ",":
                raise ValuesError(f"{clip(text)!r} has an empty entry (two commas, or a comma after '[')")
            else:
                found.append(token)
                position += 1
            if position < len(tokens) and tokens[position] == ",":
                position += 1
                if position < len(tokens) and tokens[position] == "]":
                    raise ValuesError(f"{clip(text)!r} has a comma before ']'")
    result = items(1)
    if position != len(tokens):
        raise ValuesError(f"{clip(text)!r} has text after its closing ']'")
    return result


_DIM = re.compile(r"^(?:[1-9]\d{0,8}|[^\W\d]\w*)$")


def parse_shapes(text: str) -> dict:
    """``--shape`` text: ``X=(N,Dx), W=(Dx,H), b=(H,)`` -> {name: shape}; a dimension is a
    positive whole number or a symbol.

    >>> parse_shapes("X=(N, Dx) W=(Dx,H), b=(H,), s=()")
    {'X': ('N', 'Dx'), 'W': ('Dx', 'H'), 'b': ('H',), 's': ()}
    >>> parse_shapes("W=(3,4)")
    {'W': (3, 4)}
    """
    shapes: dict = {}
    for name, raw in _named(text, "--shape takes NAME=(DIMS), e.g. X=(N,Dx); got {pair}", "--shape ",
                            "is given two shapes"):
        pair = f"{name}={raw}"
        inner = raw[1:-1] if raw[:1] + raw[-1:] in ("()", "[]") else raw
        dims = [d.strip() for d in inner.split(",")]
        if dims and dims[-1] == "":
            dims.pop()
        if len(dims) > 2 or any(not _DIM.match(canonical(d)) for d in dims):
            raise ValuesError(f"--shape {clip(pair.strip())!r}: a shape is up to two dimensions, each a positive "
                              f"whole number or a name, e.g. X=(N,Dx), b=(H,) or s=()")
        shapes[name] = tuple(int(d) if d.isdigit() else canonical(d) for d in dims)
    return shapes


def value(raw, what: str):
    """A number (exact Fraction), or for a list a numpy vector or matrix (bpviz.tensor)."""
    if isinstance(raw, (list, tuple)):
        from .tensor import from_nested
        return from_nested(list(list(r) if isinstance(r, tuple) else r for r in raw), what, number)
    if type(raw).__name__ == "ndarray" and hasattr(raw, "tolist"):      # numpy, without importing it
        from .tensor import from_nested
        return from_nested(raw.tolist(), what, number) if raw.ndim else number(raw.item(), what)
    return number(raw, what)


def number(raw, what: str) -> Fraction:
    """One value, exact: ints, Fractions and decimal text stay exact, floats keep the decimal
    they show; anything else (booleans, None, NaN, infinities, text that is not a number) is a
    ValuesError.

    >>> number(3, "x"), number("1.1", "x"), number(0.1, "x")
    (Fraction(3, 1), Fraction(11, 10), Fraction(1, 10))
    >>> number(float("nan"), "the value of x")
    Traceback (most recent call last):
    bpviz.errors.ValuesError: the value of x must be a finite number, got nan
    """
    if raw.__class__ is str:                # a values file's numbers, first: decimal text (see _text)
        return _text(raw, what)
    if raw.__class__ is Fraction:           # already exact (the command line's values): its size only
        return _exact(raw, what)
    if isinstance(raw, bool) or raw is None:
        raise ValuesError(f"{what} must be a number, got {_kind_of(raw)}")
    if isinstance(raw, Decimal):
        raw = str(raw)
    if isinstance(raw, numbers.Rational):      # int, Fraction, numpy integers: plain Python ints inside
        return _exact(Fraction(int(raw.numerator), int(raw.denominator)), what)
    if isinstance(raw, numbers.Real):
        raw = float(raw)
        if not math.isfinite(raw):
            raise ValuesError(f"{what} must be a finite number, got {raw!r}")
        return from_float(raw)
    if isinstance(raw, str):
        return _text(raw, what)
    raise ValuesError(f"{what} must be a number, got {_kind_of(raw)}")


def _exact(value: Fraction, what: str) -> Fraction:
    try:
        return check_exact(value, what)
    except NumberRangeError as exc:
        raise ValuesError(str(exc)) from None


def _text(raw: str, what: str) -> Fraction:
    try:
        return parse_number(raw)
    except NumberRangeError as exc:
        raise ValuesError(f"{what}: {exc}") from None
    except (ValueError, ArithmeticError, TypeError):
        raise ValuesError(f"{what} must be a number, got {_kind_of(raw)}") from None


def _kind_of(raw) -> str:
    """What a value that is not a number is, as a user wrote it.

    >>> _kind_of(None), _kind_of({"a": 1}), _kind_of("abc"), _kind_of(True)
    ('null', 'a mapping', "'abc'", 'True')
    """
    if raw is None:
        return "null"
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, str):
        return repr(clip(raw))
    if isinstance(raw, (bool, int, float)):
        return repr(raw)
    return f"a {type(raw).__name__}"


def load_values_file(path: str) -> dict:
    """A YAML (or JSON, which is YAML) mapping of names to numbers, at most MAX_FILE_BYTES."""
    from .write import read_text
    text = read_text(path, MAX_FILE_BYTES, ValuesError, "the values file")
    if text.lstrip().startswith(("{", "[")):     # JSON: read by json, which is fast and has no aliases
        import json
        try:
            data = json.loads(text, parse_float=str, parse_int=str, parse_constant=str,
                              object_pairs_hook=_once_each)
        except _Twice as twice:
            raise ValuesError(f"{path}, line {_json_key_line(text, twice.key)}: {twice.key!r} is given twice "
                              f"in this JSON object") from None
        except RecursionError:
            raise ValuesError(f"{path}: the JSON is nested too deeply (values are numbers, vectors and "
                              f"matrices)") from None
        except ValueError as exc:
            raise ValuesError(f"{path}: invalid JSON: {exc}") from None
        return _values_mapping(path, data)
    from .errors import SpecError
    from .parse.spec import Doc
    try:                                           # numbers read exactly, as in a spec; no aliases
        data = Doc(text, path, max_bytes=MAX_FILE_BYTES, loader_class=_capped_loader(), allow_empty=True).data
    except SpecError as exc:
        raise ValuesError(exc.message) from None
    return _values_mapping(path, data)


class _Twice(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _once_each(pairs: list) -> dict:
    """A JSON object whose keys are all different: json itself keeps the last of a repeated key, and
    a values file that says x twice has a mistake in it, as a YAML one does."""
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set = set()
        for key, _ in pairs:
            if key in seen:
                raise _Twice(key)
            seen.add(key)
    return result


def _json_key_line(text: str, key: str) -> int:
    """The line of the second time ``key`` is written as a key (1 when it cannot be told), written as
    it is or with escapes (\u0078)."""
    import json
    spellings = {json.dumps(key), json.dumps(key, ensure_ascii=False)}
    found = sorted(m.start() for spelling in spellings for m in re.finditer(re.escape(spelling) + r"\s*:", text))
    return text.count("\n", 0, found[1]) + 1 if len(found) > 1 else 1


def _values_mapping(path: str, data) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValuesError(f"{path}: expected a mapping of names to numbers, got a {type(data).__name__}")
    values = {}
    for name, raw in data.items():
        key = canonical(name) if isinstance(name, str) else None
        if key is None or not key.isidentifier():
            raise ValuesError(f"{path}: {name!r} is not a valid name")
        if key in values:
            raise ValuesError(f"{path}: {name!r} is given twice (names are read as Python reads them: "
                              f"{key!r})")
        values[key] = value(raw, f"{path}: the value of {name}")
    return values
