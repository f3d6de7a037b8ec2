"""The JSON printer: the finished graph as data (documented in docs/json.md)."""

from __future__ import annotations

import json
from fractions import Fraction

from ..graph import Graph
from ..numeric import exact_text, json_number
from ..escape import latex_name

FORMAT_VERSION = 2


def _number_fields(key: str, value) -> dict:
    if value.__class__ is not Fraction and value.__class__ is not float:
        return _array_fields(key, value)
    fields = {key: json_number(value)}
    if isinstance(value, Fraction):
        fields[f"{key}_exact"] = exact_text(value)
    return fields


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
    nodes = []
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
                     "latex": graph.local_formula(node, slot, "tex", _tex_name)}
            if graph.matrix:
                local["rule"] = "vjp"              # the formula is what the edge sends back, given Ḡ
            else:
                local.update(_number_fields("value", node.local[slot]))
            inputs.append({"id": source.id, "name": source.name, "local": local,
                           **_number_fields("contribution", graph.contribution(node.index, slot))})
        entry["inputs"] = inputs
        if node.group:
            entry["group"] = node.group
        nodes.append(entry)
    data = {"format": FORMAT_VERSION, "title": graph.title or None, "program": graph.source,
            "output": graph.out.name,
            "values": {k: _json_value(v) for k, v in graph.values.items()},
            "gradients": {n.name: _json_value(n.grad) for n in graph.inputs},
            "nodes": nodes, "warnings": list(graph.warnings)}
    if check is not None:
        data["check"] = check.to_data()
    return data


def print_json(job) -> str:
    return render_json(job.graph, job.check)


def render_json(graph: Graph, check=None) -> str:
    """Pretty at the top level, one node per line: readable, diffable, and fast on big graphs
    (json's indenting encoder is pure Python; the compact one is C)."""
    data = to_data(graph, check)
    lines = ["{"]
    items = list(data.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if key == "nodes":
            lines.append('  "nodes": [')
            for j, node in enumerate(value):
                end = "," if j < len(value) - 1 else ""
                lines.append(f"    {_compact(node)}{end}")
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {_compact(key)}: {_compact(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)
