"""YAML specs -> graph: reading and checking a spec, with errors that name the key path and the
YAML line. Only ``yaml.SafeLoader`` reads the file; a spec is data, never code.

A graph spec becomes an expression program (bpviz.parse.expr); a network spec becomes a checked
``bpviz.network.Network``, which bpviz.network turns into a graph: the scalar view (a node per number)
or, with ``view="matrix"``, one node per layer quantity. A batch of samples (inputs that are lists,
targets that are rows) is matrix-view only. Numbers are read from the YAML
text itself, so ``1.1`` is exactly 11/10 (YAML's own float would be 1.1000000000000000888...).
"""

from __future__ import annotations

import difflib
import math
import re
from fractions import Fraction
from typing import Any, Optional

from ..errors import BpvizError, ParseError, SpecError, UsageError, clip
from ..escape import one_line
from ..graph import SpecInfo
from ..network import (ACTIVATIONS, INIT_SCHEMES, INPUTS_NODE, LAST_LAYER_ONLY, LOSSES, REDUCTIONS,
                       TARGETS_NODE, Layer, Network, build_matrix_network, build_network, init_weights,
                       matrix_size, network_size)
from ..numeric import NumberRangeError, check_exact, from_float, parse_number
from ..values import canonical

MAX_BYTES = 2_000_000      # spec text
MAX_NODES = 100_000        # graph nodes a network may expand to
MAX_ENTRIES = 1_000_000    # array entries a network may hold in the matrix view (weights, activations)
MAX_VALUES = 1_000_000     # YAML values after aliases are expanded
MAX_DEPTH = 64             # nesting of mappings and lists
MAX_TITLE = 300             # characters of a spec's title
GRAPH_KEYS = ("title", "values", "graph", "output", "learning_rate", "gradients")
NETWORK_KEYS = ("title", "inputs", "layers", "loss", "learning_rate", "init", "gradients")
LAYER_KEYS = ("name", "activation", "weights", "bias", "units", "init")
LOSS_KEYS = ("kind", "targets", "scale", "name", "reduction")
INIT_KEYS = ("scheme", "seed")


_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("map", "seq", "str", "int", "float", "bool", "null")}


def dotted(path: tuple) -> str:
    """A key path as people write it: ``layers[0].weights[1]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the spec"


class Doc:
    """The parsed YAML with the line of every key and item, for messages."""

    def __init__(self, text: str, filename: str = "spec", *, max_bytes: int = MAX_BYTES,
                 loader_class=None, allow_empty: bool = False):
        """``loader_class`` (a yaml.SafeLoader) and ``allow_empty`` let a values file use this reader."""
        import yaml
        self.filename = filename
        if not isinstance(text, str):
            raise SpecError(f"{filename}: a spec must be text, not {type(text).__name__}")
        surrogate = re.search("[\ud800-\udfff]", text)
        if surrogate:
            line = text.count("\n", 0, surrogate.start()) + 1
            raise SpecError(f"{filename}, line {line}: not UTF-8 text (a lone surrogate U+{ord(surrogate.group()):04X})")
        if len(text.encode("utf-8", "replace")) > max_bytes:
            raise SpecError(f"{filename}: the spec is larger than {max_bytes // 1_000_000} MB")
        self.lines: dict = {}
        self.overridden: dict = {}          # key path -> the --set that replaced its value
        self._values = 0
        self._open: set = set()
        loader = None
        try:
            loader = (loader_class or yaml.SafeLoader)(text)
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = exc.problem or exc.context or "invalid YAML"
            raise SpecError(f"{filename}{where}: YAML syntax error: {problem}") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"{filename}: YAML syntax error: {one_line(str(exc))}") from None
        except RecursionError:
            raise SpecError(f"{filename}: the YAML is nested too deeply") from None
        finally:
            if loader is not None:
                loader.dispose()
        if node is None:
            if allow_empty:
                self.data = None
                return
            raise SpecError(f"{filename}: the spec is empty")
        try:
            self.data = self._convert(node, (), loader)
        except RecursionError:
            raise SpecError(f"{filename}: the YAML is nested too deeply") from None

    def _convert(self, node, path: tuple, loader) -> Any:
        import yaml
        self.lines[path] = node.start_mark.line + 1
        self._values += 1
        if self._values > MAX_VALUES:      # aliases can make a small file expand without bound
            raise self.error(path, f"the spec holds more than {MAX_VALUES:,} values (YAML aliases "
                                   f"repeat what they refer to)", node.start_mark.line + 1)
        if len(path) > MAX_DEPTH:
            raise self.error(path[:MAX_DEPTH], f"the spec is nested more than {MAX_DEPTH} levels deep",
                             node.start_mark.line + 1)
        if id(node) in self._open:          # an alias inside what it refers to: a cycle
            raise self.error(path, "this YAML alias refers to itself", node.start_mark.line + 1)
        if node.tag not in _PLAIN_TAGS:
            raise self.error(path, f"the YAML tag {node.tag!r} is not allowed; a spec is plain data",
                             node.start_mark.line + 1)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self._open.add(id(node))
            try:
                return self._collection(node, path, loader)
            finally:
                self._open.discard(id(node))
        if node.tag.endswith((":int", ":float")):
            return self._number(node, path, loader)
        try:
            value = loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            raise self.error(path, f"cannot read this value: {one_line(str(getattr(exc, 'problem', None) or exc))[:200]}") from None
        return value

    def _number(self, node, path: tuple, loader) -> Any:
        """A YAML number, exactly as written: decimal text is read by parse_number (so 1.1 is 11/10,
        and a 5,000-digit integer gets bpviz's size message, not Python's); 0x1f, 0b101 and .inf are
        YAML's own reading. YAML 1.1's base 60 (``1:30`` is 90) is refused: it is nearly always a
        time or a typo, and no other channel of bpviz reads it."""
        text = node.value[1:] if node.value.startswith("+") else node.value
        if ":" in text:
            raise self.error(path, f"{clip(node.value)} is a YAML 1.1 base-60 number; write it in base 10 "
                                   f"(or quote it, if it is text)")
        try:
            return parse_number(text)
        except NumberRangeError as exc:
            raise self.error(path, str(exc)) from None
        except (ValueError, ArithmeticError, TypeError):
            pass
        try:
            value = loader.construct_object(node, deep=True)
            if isinstance(value, int):
                return check_exact(Fraction(value), "this number")
            if not math.isfinite(value):
                raise self.error(path, f"{clip(node.value)} is not a finite number")
            return from_float(value)
        except NumberRangeError as exc:
            raise self.error(path, str(exc)) from None
        except ValueError as exc:
            raise self.error(path, f"cannot read {clip(node.value)!r} as a number: {one_line(str(exc))[:200]}") from None

    def _collection(self, node, path: tuple, loader) -> Any:
        import yaml
        if isinstance(node, yaml.MappingNode):
            result: dict = {}
            for key_node, value_node in node.value:
                key = self._convert(key_node, path + ("?",), loader)
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else type(key).__name__
                    raise self.error(path, f"keys must be names, not {shown!r}", key_node.start_mark.line + 1)
                key = str(key)
                if key in result:
                    raise self.error(path + (key,), "this key is given twice", key_node.start_mark.line + 1)
                result[key] = self._convert(value_node, path + (key,), loader)
                self.lines[path + (key,)] = key_node.start_mark.line + 1
            return result
        return [self._convert(item, path + (i,), loader) for i, item in enumerate(node.value)]

    def line(self, path: tuple) -> Optional[int]:
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return None

    def error(self, path: tuple, message: str, line: Optional[int] = None) -> SpecError:
        for cut in range(len(path), 0, -1):           # a value that --set put there: blame --set
            if path[:cut] in self.overridden:
                return SpecError(f"--set {self.overridden[path[:cut]]}: {dotted(path)}: {message}")
        line = line or self.line(path)
        where = f", line {line}" if line else ""
        return SpecError(f"{self.filename}{where}: {dotted(path)}: {message}")


# -- reading values with checks ------------------------------------------------------------------

def _keys(doc: Doc, path: tuple, value: Any, allowed: tuple, required: tuple = ()) -> dict:
    if not isinstance(value, dict):
        raise doc.error(path, f"expected a mapping of {', '.join(allowed)}, not {_kind(value)}")
    for key in value:
        if key not in allowed:
            hint = difflib.get_close_matches(key, allowed, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else f" (known keys: {', '.join(allowed)})"
            raise doc.error(path + (key,), f"unknown key {key!r}{extra}")
    for key in required:
        if key not in value:
            raise doc.error(path, f"missing key {key!r}")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (Fraction, float, int)):
        return "a number"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else type(value).__name__


def _number(doc: Doc, path: tuple, value: Any) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (Fraction, float, int)):
        if isinstance(value, str):
            try:
                return parse_number(value)
            except NumberRangeError as exc:
                raise doc.error(path, str(exc)) from None
            except (ValueError, ArithmeticError):
                pass
        raise doc.error(path, f"expected a number, not {_kind(value)}")
    return value if isinstance(value, Fraction) else from_float(float(value))


def _name(doc: Doc, path: tuple, value: Any) -> str:
    if not isinstance(value, str) or not value.isidentifier():
        raise doc.error(path, f"expected a name (letters, digits and _), not {_kind(value)}")
    return value


def _choice(doc: Doc, path: tuple, value: Any, choices: tuple) -> str:
    if value not in choices:
        hint = difflib.get_close_matches(str(value), choices, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise doc.error(path, f"{value!r} is not one of {', '.join(choices)}{extra}")
    return value


def _list(doc: Doc, path: tuple, value: Any, length: Optional[int] = None, what: str = "items") -> list:
    if not isinstance(value, list):
        raise doc.error(path, f"expected a list, not {_kind(value)}")
    if length is not None and len(value) != length:
        raise doc.error(path, f"expected {length} {what}, found {len(value)}")
    return value


# -- --set overrides -----------------------------------------------------------------------------

def apply_overrides(doc: Doc, overrides: list) -> None:
    """``--set key.path=value`` (``layers.0.bias=0.5`` or ``layers[0].bias=0.5``), on existing keys;
    the value is read as YAML by the same checked reader as the spec."""
    for item in overrides:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. inputs.x1=0.3")
        key, text = item.split("=", 1)
        parts = [p for p in key.strip().replace("[", ".").replace("]", "").split(".") if p]
        if not parts:
            raise SpecError(f"--set {item!r}: the key path is empty")
        target, path = doc.data, ()
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(target, list):
                if not (part.isascii() and part.isdigit()) or int(part) >= len(target):
                    raise SpecError(f"--set {item!r}: {dotted(path)} has {len(target)} items; "
                                    f"{part!r} is not an index of it")
                part = int(part)
            elif isinstance(target, dict):
                if part not in target:
                    hint = difflib.get_close_matches(part, [str(k) for k in target], n=1)
                    extra = f"; did you mean {hint[0]!r}?" if hint else ""
                    raise SpecError(f"--set {item!r}: {dotted(path + (part,))} is not in the spec{extra}")
            else:
                raise SpecError(f"--set {item!r}: {dotted(path)} is a single value, not a mapping or list")
            path += (part,)
            if last:
                target[part] = Doc(text, f"--set {key}").data if text.strip() else None
                doc.overridden[path] = item
            else:
                target = target[part]


# -- graph specs ---------------------------------------------------------------------------------

def build_graph_spec(doc: Doc) -> tuple:
    """A graph spec -> (graph without values, values)."""
    from .expr import parse_program
    data = _keys(doc, (), doc.data, GRAPH_KEYS, required=("graph",))
    entries = data["graph"]
    if not isinstance(entries, dict) or not entries:
        raise doc.error(("graph",), "expected a mapping of names to expressions, e.g. 'c: w * x'")
    lines, paths, given, seen = [], [], {}, {}
    for name, expression in entries.items():
        path = ("graph", name)
        _name(doc, path, name)
        if canonical(name) in seen:
            raise doc.error(path, f"{name!r} is the same name as {seen[canonical(name)]!r} (names are read as "
                                  f"Python reads them), given twice")
        seen[canonical(name)] = name
        name = canonical(name)
        if isinstance(expression, (Fraction, float, int)) and not isinstance(expression, bool):
            given[name] = _number(doc, path, expression)      # `b: 0.5` gives b a value: an input
            continue
        if not isinstance(expression, str) or not expression.strip():
            raise doc.error(path, f"expected an expression such as 'w * x', not {_kind(expression)}")
        if len(expression.strip().splitlines()) > 1:        # \n, and \r, \f, U+2028 … as Python splits lines
            raise doc.error(path, "an expression must fit on one line")
        if ";" in expression:
            raise doc.error(path, "an entry is one expression; give each assignment its own entry of graph, "
                                  "e.g. 'a: x * 2' and 'b: a * 100'")
        lines.append(f"{name} = {expression.strip()}")
        paths.append(path)
    entries = {canonical(name): expression for name, expression in entries.items()}
    output = data.get("output")
    if output is not None:
        output = canonical(_name(doc, ("output",), output))
        if output not in entries:
            hint = difflib.get_close_matches(output, list(entries), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise doc.error(("output",), f"{output!r} is not an entry of graph{extra}")
        if output in given:
            raise doc.error(("output",), f"{output!r} is a value the spec gives, not something it computes")
    else:
        output = ([name for name in entries if name not in given] or [None])[-1]
    if not lines:
        raise doc.error(("graph",), "every entry is a number: add the formula to differentiate, e.g. 'J: w * x'")
    program = "\n".join(lines)
    try:
        graph = parse_program(program, output=output)
    except ParseError as exc:
        path = paths[(exc.line or 1) - 1]
        column = (exc.column or 1) - len(path[-1]) - 3
        message = exc.message.split(": ", 1)[-1] if ": " in exc.message else exc.message
        raise doc.error(path, f"syntax error at column {max(column, 1)} of the expression: {message}") from None
    except BpvizError as exc:
        raise doc.error(("graph",), exc.message) from None
    values = data.get("values") or {}
    if not isinstance(values, dict):
        raise doc.error(("values",), f"expected a mapping of names to numbers, not {_kind(values)}")
    read = {}
    for name, v in values.items():
        if canonical(name) in read:
            raise doc.error(("values", name), f"{name!r} is the same name as {canonical(name)!r}, given twice")
        read[canonical(name)] = _number(doc, ("values", name), v)
    values = read
    graph.defaults.update({name: value for name, value in given.items() if name in graph})
    graph.names = tuple(sorted(set(graph.names) | set(given)))
    graph.spec = SpecInfo(values_key="values", program_paths=tuple(paths))
    return graph, values


# -- networks ------------------------------------------------------------------------------------

def _init_weights(doc: Doc, path: tuple, init: dict, units: int, fan_in: int, layer_index: int) -> list:
    init = _keys(doc, path, init, INIT_KEYS, required=("scheme",))
    scheme = _choice(doc, path + ("scheme",), init["scheme"], tuple(INIT_SCHEMES))
    seed = init.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, (int, Fraction)) or Fraction(seed).denominator != 1:
        raise doc.error(path + ("seed",), f"expected a whole number, not {_kind(seed)}")
    return init_weights(scheme, int(seed), units, fan_in, layer_index)


def _check_size(doc: Doc, path: tuple, nodes: int, matrix: bool = False) -> None:
    if matrix:
        if nodes > MAX_ENTRIES:
            raise doc.error(path, f"the network is too large: about {nodes:,} array entries (weights and "
                                  f"activations of every sample), over the limit of {MAX_ENTRIES:,}")
    elif nodes > MAX_NODES:
        raise doc.error(path, f"the network is too large: about {nodes:,} graph nodes, over the limit of "
                              f"{MAX_NODES:,} (bpviz draws every weight; keep it to a few hundred)")


def _layers(doc: Doc, data: dict, fan_in: int, samples: Optional[int] = None) -> list:
    """The layers, checked; ``samples`` (the matrix view: 1, or a batch's N) sizes the network by
    array entries instead of scalar nodes."""
    matrix = samples is not None

    def size(units: int, fan_in: int) -> int:
        return matrix_size(units, fan_in, samples) if matrix else network_size(units, fan_in)
    layers = _list(doc, ("layers",), data["layers"])
    if not layers:
        raise doc.error(("layers",), "a network needs at least one layer")
    default_init = data.get("init")
    result, names = [], set()
    total = 0
    for index, layer in enumerate(layers):
        path = ("layers", index)
        layer = _keys(doc, path, layer, LAYER_KEYS, required=("activation",))
        last = index == len(layers) - 1
        name = _name(doc, path + ("name",), layer.get("name", "o" if last else f"h{index + 1}"))
        if name in names:
            raise doc.error(path + ("name",), f"two layers are named {name!r}")
        names.add(name)
        activation = _choice(doc, path + ("activation",), layer["activation"], ACTIVATIONS)
        if activation in LAST_LAYER_ONLY and not last:
            raise doc.error(path + ("activation",), f"{activation} is allowed only in the last layer")
        init = layer.get("init", default_init)
        if "weights" in layer:
            if "units" in layer or "init" in layer:
                raise doc.error(path, "give either weights, or units with init, not both")
            rows = _list(doc, path + ("weights",), layer["weights"])
            if not rows:
                raise doc.error(path + ("weights",), "a layer needs at least one unit (one row)")
            weights = []
            for j, row in enumerate(rows):
                row = _list(doc, path + ("weights", j), row, fan_in,
                            f"weights (one per {'input' if index == 0 else 'unit of the layer before'})")
                weights.append([_number(doc, path + ("weights", j, i), w) for i, w in enumerate(row)])
        else:
            if "units" not in layer:
                raise doc.error(path, "missing key 'weights' (or 'units' with 'init')")
            units = layer["units"]
            if isinstance(units, bool) or not isinstance(units, (int, Fraction)) or units < 1 \
                    or Fraction(units).denominator != 1:
                raise doc.error(path + ("units",), f"expected a whole number of units ≥ 1, not {_kind(units)}")
            if init is None:
                raise doc.error(path, "missing key 'init' (e.g. init: {scheme: xavier, seed: 0}) "
                                      "to generate the weights")
            init_path = path + ("init",) if "init" in layer else ("init",)
            _check_size(doc, path, total + size(int(units), fan_in), matrix)   # before drawing any weight
            weights = _init_weights(doc, init_path, init, int(units), fan_in, index)
        units = len(weights)
        bias = layer.get("bias")
        if isinstance(bias, list):
            bias = [_number(doc, path + ("bias", j), b) for j, b in
                    enumerate(_list(doc, path + ("bias",), bias, units, "biases (one per unit)"))]
        elif bias is not None:
            bias = _number(doc, path + ("bias",), bias)
        total += size(units, fan_in)
        _check_size(doc, path, total, matrix)
        result.append(Layer(name, activation, weights, bias))
        fan_in = units
    return result


def _inputs(doc: Doc, inputs: Any, view: str) -> tuple:
    """The inputs: name -> a number, or (a batch, matrix view only) name -> a list of N numbers;
    and N (None without a batch)."""
    if not isinstance(inputs, dict) or not inputs:
        raise doc.error(("inputs",), "expected a mapping of input names to numbers, e.g. {x1: 0.05}")
    values, samples, first = {}, None, None
    for name, v in inputs.items():
        path = ("inputs", name)
        _name(doc, path, name)
        if not isinstance(v, list):
            values[name] = _number(doc, path, v)
            continue
        if view != "matrix":
            raise doc.error(path, f"a list of {len(v)} value{'s' * (len(v) != 1)} is a batch (one value per "
                                  f"sample), which only the matrix view draws: use --view matrix")
        if not v:
            raise doc.error(path, "expected a number, or a list with one number per sample; found an empty list")
        if samples is None:
            samples, first = len(v), name
        elif len(v) != samples:
            raise doc.error(path, f"expected {samples} values (one per sample, as inputs.{first} has), "
                                  f"found {len(v)}")
        values[name] = [_number(doc, path + (k,), x) for k, x in enumerate(v)]
    if samples is not None:
        single = next((name for name, v in values.items() if not isinstance(v, list)), None)
        if single is not None:
            raise doc.error(("inputs", single), f"a single number, but inputs.{first} is a batch of "
                                                f"{samples} values: give every input one value per sample")
    return values, samples


def _targets(doc: Doc, raw: Any, last: Layer, samples: Optional[int], check, matrix: bool) -> list:
    """One target per unit of the last layer; with a batch, one such row per sample (for a last
    layer of one unit, a plain list of one target per sample is accepted too). ``check`` is the
    loss's check, applied to each sample's targets."""
    path = ("loss", "targets")
    units = len(last.weights)
    what = f"targets (one per unit of the last layer, {last.name!r})"
    raw = _list(doc, path, raw)
    if samples is None:
        row = next((k for k, t in enumerate(raw) if isinstance(t, list)), None)
        if row is not None:
            raise doc.error(path + (row,), "a row of targets is for a batch of samples, but the inputs are "
                                           "single numbers (one sample): give each input a list of values, "
                                           "one per sample" + ("" if matrix else ", and use --view matrix"))
        targets = [_number(doc, path + (j,), t) for j, t in enumerate(_list(doc, path, raw, units, what))]
        complaint = check(targets)
        if complaint:
            raise doc.error(path, complaint)
        return targets
    if units == 1 and not any(isinstance(t, list) for t in raw):
        _list(doc, path, raw, samples, f"targets (one per sample; the last layer, {last.name!r}, has one unit)")
        rows = [[_number(doc, path + (k,), t)] for k, t in enumerate(raw)]
    else:
        _list(doc, path, raw, samples, f"rows of targets (one per sample: the inputs have {samples} values each)")
        rows = []
        for k, row in enumerate(raw):
            if not isinstance(row, list):
                raise doc.error(path + (k,), f"expected a row of {units} {what}, not {_kind(row)}")
            _list(doc, path + (k,), row, units, what)
            rows.append([_number(doc, path + (k, j), t) for j, t in enumerate(row)])
    for k, row in enumerate(rows):
        complaint = check(row)
        if complaint:
            raise doc.error(path + (k,), f"sample {k + 1}: {complaint}")
    return rows


def read_network(doc: Doc, view: str = "scalar") -> Network:
    """A network spec, every key checked, as a ``Network``; a batch (lists of inputs) only with
    ``view="matrix"``."""
    data = _keys(doc, (), doc.data, NETWORK_KEYS, required=("inputs", "layers", "loss"))
    values, samples = _inputs(doc, data["inputs"], view)
    layers = _layers(doc, data, len(values), (samples or 1) if view == "matrix" else None)
    loss = _keys(doc, ("loss",), data["loss"], LOSS_KEYS, required=("kind", "targets"))
    kind = _choice(doc, ("loss", "kind"), loss["kind"], tuple(LOSSES))
    if view == "matrix" and LOSSES[kind].build_matrix is None:
        raise doc.error(("loss", "kind"), f"{kind} has no matrix view yet; draw it without --view matrix")
    targets = _targets(doc, loss["targets"], layers[-1], samples, LOSSES[kind].check, view == "matrix")
    if "scale" in loss and not LOSSES[kind].scaled:
        raise doc.error(("loss", "scale"), f"scale applies to {', '.join(k for k, l in LOSSES.items() if l.scaled)} only")
    scale = _number(doc, ("loss", "scale"), loss["scale"]) if "scale" in loss else Fraction(1, 2)
    reduction = _choice(doc, ("loss", "reduction"), loss.get("reduction", "mean"), REDUCTIONS)
    loss_name = _name(doc, ("loss", "name"), loss.get("name", "L"))
    if loss_name in values:
        raise doc.error(("loss", "name"), f"{loss_name!r} is already the name of an input; name the loss otherwise")
    if view == "matrix" and loss_name in (INPUTS_NODE, TARGETS_NODE):
        what = "inputs" if loss_name == INPUTS_NODE else "targets"
        raise doc.error(("loss", "name"), f"{loss_name!r} is the matrix view's node of the {what}; "
                                          f"name the loss otherwise")
    return Network(values, layers, kind, targets, scale, loss_name, reduction, samples)


# -- entry point ---------------------------------------------------------------------------------

def _gradients(doc: Doc, graph, grads: Optional[dict]) -> None:
    """A spec's ``gradients: {sign: ste}`` (or a rule in the operand u), then --grad over it."""
    from .expr import apply_estimators, estimator_rule
    given = doc.data.get("gradients")
    if given is not None and not isinstance(given, dict):
        raise doc.error(("gradients",), f"expected a mapping of functions to estimators, e.g. 'sign: ste', "
                                        f"not {_kind(given)}")
    for op, rule in (given or {}).items():
        if not isinstance(rule, str):
            raise doc.error(("gradients", op), f"expected ste, ste-clip or a rule in u such as "
                                               f"'step(1 - abs(u))', not {_kind(rule)}")
        try:
            estimator_rule(op, rule)
        except BpvizError as exc:
            message = re.sub(r"^--grad \S+?=…: ", "", exc.message)
            raise doc.error(("gradients", op), message) from None
    merged = {**(given or {}), **(grads or {})}
    if merged:
        if graph.matrix or any(n.op is not None and n.op.structural for n in graph.nodes):
            if given:
                raise doc.error(("gradients",), "custom gradients work on scalar graphs only, not in the matrix view")
            raise UsageError("--grad works on scalar graphs only, not in the matrix view (--view matrix)")
        apply_estimators(graph, merged)


def load_spec(text: str, filename: str = "spec", overrides: Optional[list] = None,
              group: bool = False, view: str = "scalar", grads: Optional[dict] = None) -> tuple:
    """Parse a spec -> (graph without values, values, doc); ``view`` "matrix" builds a network with
    one node per layer quantity."""
    doc = Doc(text, filename)
    apply_overrides(doc, overrides or [])
    if not isinstance(doc.data, dict):
        raise doc.error((), f"expected a mapping at the top, not {_kind(doc.data)}")
    if "graph" in doc.data and "layers" in doc.data:
        raise doc.error((), "give either 'graph' (named assignments) or 'layers' (a network), not both")
    if "graph" in doc.data:
        if group:
            raise SpecError("--group neurons applies to network specs (with 'layers')")
        if view != "scalar":
            raise SpecError("--view matrix applies to network specs (with 'layers'); a graph spec's "
                            "values may be matrices already")
        graph, values = build_graph_spec(doc)
    elif "layers" in doc.data:
        if view == "matrix":
            if group:
                raise UsageError("--group neurons draws units of the scalar view; --view matrix has one "
                                 "node per layer")
            graph, values = build_matrix_network(read_network(doc, view))
        else:
            graph, values = build_network(read_network(doc), group=group)
    else:
        keys = ", ".join(doc.data) or "none"
        raise doc.error((), f"a spec needs 'graph' (named assignments) or 'layers' (a network); "
                            f"found keys: {keys}")
    title = doc.data.get("title")
    if title is not None and not isinstance(title, str):
        raise doc.error(("title",), f"expected text, not {_kind(title)}")
    if title is not None and len(title) > MAX_TITLE:
        raise doc.error(("title",), f"the title is {len(title):,} characters, more than the {MAX_TITLE} a heading "
                                    f"holds (a figure's title goes to Graphviz, whose labels are bounded)")
    graph.title = title or ""
    graph.source = text
    _gradients(doc, graph, grads)
    if "learning_rate" in doc.data:
        rate = _number(doc, ("learning_rate",), doc.data["learning_rate"])
        if rate <= 0:
            raise doc.error(("learning_rate",), "must be positive")
        graph.spec.learning_rate = rate
    return graph, values, doc
