"""The JSON printer: the finished graph as data (documented in docs/json.md)."""

from __future__ import annotations

import json
import re
from fractions import Fraction

from ..graph import Graph, gc_paused
from ..numeric import exact_text, json_number
from ..ops import ONE, Template
from ..escape import latex_name

FORMAT_VERSION = 2
_NAMES_FIELD = re.compile(r"\$[awo]")       # a Template field that names an operand or the node


def _fixed(rule) -> bool:
    """A rule that names no operand and not the node (a Template without $a/$w/$o: `1` for a sum):
    its text depends on the op, slot and parameter alone."""
    return isinstance(rule, Template) and not _NAMES_FIELD.search(rule.source)


def _derivatives(wrap=None):
    """``derivative(op, style, slot, args, out, param)``: an edge's local derivative as text (through
    ``wrap``, e.g. into JSON). Each op, style, slot and parameter's rule is looked up once; where the
    rule is _fixed, its text is made once too."""
    plan: dict = {}                     # (op, style, slot, param) -> the text, or the rule to call

    def derivative(op, style: str, slot: int, args: list, out: str, param) -> str:
        key = (op.name, style, slot, param)
        known = plan.get(key)
        if known is None:
            rule = op.derivative_rule(style, slot)
            known = plan[key] = rule
            if _fixed(rule):
                text = rule(args, param, out, style)
                known = plan[key] = text if wrap is None else wrap(text)
        if known.__class__ is str:
            return known
        text = known(args, param, out, style)
        return text if wrap is None else wrap(text)
    return derivative


def _edge_formulas(quoted: list, quoted_tex: list):
    """``formulas(op, slot, inputs, args, tex_args, out, tex_out, param)``: an edge's local derivative
    as the JSON text ``"formula", "latex": "latex"``, given every node's name and LaTeX name as JSON
    text. Each op, slot and parameter's rules are looked up once: _fixed ones give their text once,
    and where both are one operand's name alone (∂(a·b)/∂a = b), that operand's names are the
    texts, escaped already; any other rule is _derivatives'."""
    derivative = _derivatives(_STRING)
    plan: dict = {}                     # (op, slot, param) -> the text, the operand's slot, or None

    def general(op, slot: int, args: list, tex_args: list, out: str, tex_out: str, param) -> str:
        return (f'{derivative(op, "text", slot, args, out, param)}, "latex": '
                f'{derivative(op, "tex", slot, tex_args, tex_out, param)}')

    def formulas(op, slot: int, inputs: tuple, args: list, tex_args: list, out: str, tex_out: str, param) -> str:
        key = (op.name, slot, param)
        known = plan.get(key, False)
        if known is False:
            text_rule, tex_rule = op.derivative_rule("text", slot), op.derivative_rule("tex", slot)
            known = None
            if _fixed(text_rule) and _fixed(tex_rule):
                known = general(op, slot, args, tex_args, out, tex_out, param)
            elif isinstance(text_rule, Template) and isinstance(tex_rule, Template) \
                    and text_rule.operand is not None and text_rule.operand == tex_rule.operand:
                known = text_rule.operand
            plan[key] = known
        if known.__class__ is str:
            return known
        if known is not None and known < len(inputs):
            src = inputs[known]
            return f'{quoted[src]}, "latex": {quoted_tex[src]}'
        return general(op, slot, args, tex_args, out, tex_out, param)
    return formulas


def _number_fields(key: str, value) -> dict:
    if value.__class__ is not Fraction and value.__class__ is not float:
        return _array_fields(key, value)
    fields = {key: json_number(value)}
    if isinstance(value, Fraction):
        fields[f"{key}_exact"] = exact_text(value)
    return fields


class _Numbers:
    """A scalar's JSON fields, remembered by value: a big graph repeats the same few numbers (its
    weights as local derivatives, zeros behind a relu) on thousands of nodes and edges."""

    def __init__(self) -> None:
        self.seen: dict = {}                # (numerator, denominator) -> (number, exact text)

    def put(self, entry: dict, key: str, value) -> None:
        if value.__class__ is Fraction:
            both = (value.numerator, value.denominator)
            found = self.seen.get(both)
            if found is None:
                found = self.seen[both] = (json_number(value), exact_text(value))
            entry[key] = found[0]
            entry[key + "_exact"] = found[1]
        elif value.__class__ is float:
            entry[key] = float(value)
        else:
            entry.update(_array_fields(key, value))


def _array_fields(key: str, value) -> dict:
    """A matrix-mode value: nested lists (``null`` in shape-only mode), with ``_exact`` text nested
    the same way while it is exact."""
    if value is None:
        return {key: None}
    from ..tensor import exact, nested
    fields = {key: nested(value, json_number)}
    if exact(value):
        fields[f"{key}_exact"] = nested(value, exact_text)
    return fields


def _json_value(value):
    if value is None or value.__class__ is Fraction or value.__class__ is float:
        return json_number(value) if value is not None else None
    from ..tensor import nested
    return nested(value, json_number)


def _tex_name(node) -> str:
    return latex_name(node.name)


def to_data(graph: Graph, check=None) -> dict:
    """The document as plain data; ``check`` is a CheckReport to include."""
    data = _head(graph)
    data["nodes"] = list(_node_entries(graph))
    return _tail(graph, data, check)


def _head(graph: Graph) -> dict:
    return {"format": FORMAT_VERSION, "title": graph.title or None, "program": graph.source,
            "output": graph.out.name,
            "values": {k: _json_value(v) for k, v in graph.values.items()},
            "gradients": {n.name: _json_value(n.grad) for n in graph.inputs}}


def _tail(graph: Graph, data: dict, check) -> dict:
    data["warnings"] = list(graph.warnings)
    if check is not None:
        data["check"] = check.to_data()
    return data


def _node_entries(graph: Graph):
    """Each node's entry in turn (docs/json.md). The formulas are the graph's own (Graph.formula,
    Graph.local_formula), with every node's name and LaTeX name looked up once rather than once
    per use."""
    with gc_paused():                       # a big graph's entries: see gc_paused
        yield from (_matrix_entries(graph) if graph.matrix else _scalar_entries(graph))


def _scalar_entries(graph: Graph):
    nodes = graph.nodes
    names = [node.name for node in nodes]
    tex = [latex_name(name) for name in names]
    numbers = _Numbers()
    put = numbers.put
    seen = numbers.seen
    derivative = _derivatives()

    for node in nodes:
        op = node.op
        index = node.index
        entry = {"id": f"n{index}", "name": names[index], "kind": node.kind,
                 "op": op.name if op else None, "shape": list(node.shape)}
        if op is None:
            entry["formula"] = names[index]
            entry["latex"] = tex[index]
        else:
            if op.param_field:
                entry[op.param_field] = None if node.param is None else json_number(node.param)
            args = [names[i] for i in node.inputs]
            tex_args = [tex[i] for i in node.inputs]
            entry["formula"] = op.formula("text", args, node.param)
            entry["latex"] = op.formula("tex", tex_args, node.param)
        grad = node.grad
        for key, number in (("value", node.value), ("grad", grad)):
            if number.__class__ is Fraction:
                found = seen.get((number.numerator, number.denominator))
                if found is not None:
                    entry[key] = found[0]
                    entry[key + "_exact"] = found[1]
                    continue
            put(entry, key, number)
        inputs = []
        for slot, src in enumerate(node.inputs):
            surrogate = node.custom[slot] if node.custom else None
            if surrogate is None:
                local = {"formula": derivative(op, "text", slot, args, names[index], node.param),
                         "latex": derivative(op, "tex", slot, tex_args, tex[index], node.param)}
            else:
                local = {"formula": surrogate.formula("text", args), "latex": surrogate.formula("tex", tex_args)}
            factor = node.local[slot]
            put(local, "value", factor)
            if surrogate is not None:
                local["custom"] = True
                local["true_formula"] = op.derivative("text", slot, args, names[index], node.param)
            edge = {"id": f"n{src}", "name": names[src], "local": local}
            put(edge, "contribution", grad if factor is ONE else grad * factor)
            inputs.append(edge)
        entry["inputs"] = inputs
        if node.group:
            entry["group"] = node.group
        yield entry


def _matrix_entries(graph: Graph):
    for node in graph.nodes:
        entry = {"id": node.id, "name": node.name, "kind": node.kind,
                 "op": node.op.name if node.op else None, "shape": list(node.shape)}
        if node.op is not None and node.op.param_field:
            entry[node.op.param_field] = None if node.param is None else json_number(node.param)
        entry["formula"] = graph.formula(node)
        entry["latex"] = graph.formula(node, "tex", _tex_name)
        entry.update(_number_fields("value", node.value))
        entry.update(_number_fields("grad", node.grad))
        inputs = []
        for slot, src in enumerate(node.inputs):
            source = graph.nodes[src]
            local = {"formula": graph.local_formula(node, slot),
                     "latex": graph.local_formula(node, slot, "tex", _tex_name),
                     "rule": "vjp"}                 # the formula is what the edge sends back, given Ḡ
            inputs.append({"id": source.id, "name": source.name, "local": local,
                           **_number_fields("contribution", graph.contribution(node.index, slot))})
        entry["inputs"] = inputs
        if node.group:
            entry["group"] = node.group
        yield entry


def print_json(job) -> str:
    return render_json(job.graph, job.check)


def render_json(graph: Graph, check=None) -> str:
    """Pretty at the top level, one node per line: readable, diffable, and fast on big graphs
    (json's indenting encoder is pure Python; the compact one is C). Each node's line is made as soon
    as its entry is, so the entries of a big graph are never all held at once; a scalar graph's lines
    are written directly as text (_scalar_lines), the same bytes json would give for its entries."""
    lines = ["{"]
    for key, value in _head(graph).items():
        lines.append(f"  {_compact(key)}: {_compact(value)},")
    lines.append('  "nodes": [')
    doc = "\n".join(lines)
    if graph.matrix:
        encode = _ENCODER.encode
        entries = (f"    {encode(entry)}," for entry in _matrix_entries(graph))
    else:
        entries = _scalar_lines(graph)
    with gc_paused():
        # appended block by block to one string, which grows in place: the document is never held
        # twice (a list of its pieces and their join)
        for block in _blocks(_without_last_comma(entries)):
            doc += "\n" + block
    tail = list(_tail(graph, {}, check).items())
    lines = ["  ],"] + [f"  {_compact(key)}: {_compact(value)}{',' if i < len(tail) - 1 else ''}"
                        for i, (key, value) in enumerate(tail)] + ["}\n"]
    doc += "\n" + "\n".join(lines)
    return doc


def _without_last_comma(lines):
    """The node lines, the last one without its comma."""
    previous = None
    for line in lines:
        if previous is not None:
            yield previous
        previous = line
    if previous is not None:
        yield previous[:-1]


def _blocks(lines, size: int = 1024):
    """Lines joined ``size`` at a time (with the line breaks between them): a big document is then a
    few hundred large strings, whose memory goes back to the system once the document is joined,
    rather than one small string per node, whose memory Python keeps."""
    block: list = []
    for line in lines:
        block.append(line)
        if len(block) == size:
            yield "\n".join(block)
            block.clear()
    if block:
        yield "\n".join(block)


# one encoder for every node (json.dumps with options builds a new one per call); the data has no
# cycles, so no circular-reference check
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), allow_nan=False, check_circular=False)
_STRING = json.encoder.encode_basestring     # what _ENCODER writes for a str (ensure_ascii=False)


def _compact(value) -> str:
    return _ENCODER.encode(value)


def _number_text(value) -> str:
    """A JSON number (int, float or None) as _ENCODER writes it: ints and floats by their repr, and
    a float that is not finite refused by the encoder itself, with its own error."""
    if value is None:
        return "null"
    if value.__class__ is float:
        return float.__repr__(value) if -_INF < value < _INF else _ENCODER.encode(value)
    return int.__repr__(value)


_INF = float("inf")


def _number_text_of(key: str):
    """``text(value)``: a scalar's JSON fields as text (``"value": 0.5, "value_exact": "0.5"``),
    remembered by value for Fractions: a big graph repeats the same few numbers on thousands of
    nodes and edges."""
    seen: dict = {}                         # (numerator, denominator) -> the fields' text
    head, exact = f"{_STRING(key)}: ", f", {_STRING(key + '_exact')}: "

    def text(value) -> str:
        if value.__class__ is Fraction:
            both = (value.numerator, value.denominator)
            found = seen.get(both)
            if found is None:
                found = seen[both] = (f"{head}{_number_text(json_number(value))}"
                                      f"{exact}{_STRING(exact_text(value))}")
            return found
        if value.__class__ is float:
            return head + _number_text(value)
        return _ENCODER.encode(_array_fields(key, value))[1:-1]
    return text


def _scalar_lines(graph: Graph):
    """Each node's line of the document, ``    {...},``: the text _ENCODER would write for the
    node's entry (docs/json.md; _scalar_entries gives the same entries as data), built directly
    from strings escaped once per name, formula and number rather than through a dict per node and
    per edge. tests/test_json_bytes.py compares the two."""
    nodes = graph.nodes
    names = [node.name for node in nodes]
    tex = [latex_name(name) for name in names]
    quoted = [_STRING(name) for name in names]
    quoted_tex = [_STRING(text) for text in tex]
    value_text, grad_text, contribution_text = (_number_text_of(key) for key in ("value", "grad", "contribution"))
    kinds = {kind: _STRING(kind) for kind in ("input", "const", "op")}
    ops: dict = {}                          # op name -> the name as JSON text
    heads = [None] * len(nodes)             # an edge's '{"id": "n3", "name": "x", "local": {"formula": '
    formulas = _edge_formulas(quoted, quoted_tex)

    for node in nodes:
        op = node.op
        index = node.index
        kind = kinds.get(node.kind) or _STRING(node.kind)
        shape = "[]" if not node.shape else _ENCODER.encode(list(node.shape))
        if op is None:
            head = (f'    {{"id": "n{index}", "name": {quoted[index]}, "kind": {kind}, "op": null, '
                    f'"shape": {shape}, "formula": {quoted[index]}, "latex": {quoted_tex[index]}, ')
        else:
            op_text = ops.get(op.name)
            if op_text is None:
                op_text = ops[op.name] = _STRING(op.name)
            param = node.param
            extra = ""
            if op.param_field:
                extra = (f"{_STRING(op.param_field)}: "
                         f"{'null' if param is None else _number_text(json_number(param))}, ")
            inputs = node.inputs
            args = [names[i] for i in inputs]
            tex_args = [tex[i] for i in inputs]
            head = (f'    {{"id": "n{index}", "name": {quoted[index]}, "kind": {kind}, "op": {op_text}, '
                    f'"shape": {shape}, {extra}"formula": {_STRING(op.formula("text", args, param))}, '
                    f'"latex": {_STRING(op.formula("tex", tex_args, param))}, ')
        grad = node.grad
        edges = ""
        if op is not None:
            name, tex_name, local = names[index], tex[index], node.local
            shares = []
            for slot, src in enumerate(inputs):
                edge = heads[src]
                if edge is None:
                    edge = heads[src] = f'{{"id": "n{src}", "name": {quoted[src]}, "local": {{"formula": '
                factor = local[slot]
                share = contribution_text(grad if factor is ONE else grad * factor)
                surrogate = node.custom[slot] if node.custom else None
                if surrogate is None:
                    shares.append(f'{edge}{formulas(op, slot, inputs, args, tex_args, name, tex_name, param)}, '
                                  f'{value_text(factor)}}}, {share}}}')
                else:
                    shares.append(f'{edge}{_STRING(surrogate.formula("text", args))}, "latex": '
                                  f'{_STRING(surrogate.formula("tex", tex_args))}, {value_text(factor)}, '
                                  f'"custom": true, "true_formula": '
                                  f'{_STRING(op.derivative("text", slot, args, name, param))}}}, {share}}}')
            edges = ", ".join(shares)
        group = f', "group": {_ENCODER.encode(node.group)}' if node.group else ""
        yield f'{head}{value_text(node.value)}, {grad_text(grad)}, "inputs": [{edges}]{group}}},'
