"""The JSON printer: its documented shape, numbers, and a golden file."""

import json

import bpviz
from bpviz.render.json_out import render_json


def test_shape_of_documented_fields():
    g = bpviz.from_expression("J = (u / v) - y", {"u": 3, "v": 2, "y": 1})
    data = json.loads(render_json(g))
    assert data["output"] == "J"
    node = {n["name"]: n for n in data["nodes"]}
    assert set(node["u"]) >= {"id", "name", "kind", "op", "formula", "latex", "value", "grad", "inputs"}
    div = node["t1"]
    assert div["kind"] == "op" and div["op"] == "div" and div["formula"] == "u / v"
    assert div["latex"] == "\\frac{u}{v}"
    assert div["value"] == 1.5 and div["value_exact"] == "1.5"
    local_v = div["inputs"][1]
    assert local_v["name"] == "v" and local_v["local"]["formula"] == "-u / v**2"
    assert local_v["local"]["value"] == -0.75
    assert node["J"]["op"] == "sub" and node["J"]["inputs"][1]["local"]["value"] == -1


def test_golden_apples(golden):
    g = bpviz.from_expression(
        "apple_price = apple * n_apple; orange_price = orange * n_orange; "
        "subtotal = apple_price + orange_price; total = subtotal * tax",
        {"apple": 100, "n_apple": 2, "orange": 150, "n_orange": 3, "tax": "1.1"})
    golden("apples.json", render_json(g))


MATRIX = "Z = X @ W + b; J = sum(Z * Z) / 2"
MATRIX_AT = {"X": [[1, 2], [3, 4], [5, 6]], "W": [["0.5", -1], [0, "1/3"]], "b": [1, -1]}


def test_golden_matrix(golden):
    """Format 2: shapes, nested values and gradients, nested exact text, VJP rules on edges."""
    golden("matrix.json", render_json(bpviz.from_expression(MATRIX, MATRIX_AT)))


def test_matrix_fields_follow_the_shapes():
    data = json.loads(render_json(bpviz.from_expression(MATRIX, MATRIX_AT)))
    assert data["format"] == 2
    node = {n["name"]: n for n in data["nodes"]}
    assert node["X"]["shape"] == [3, 2] and node["b"]["shape"] == [2] and node["J"]["shape"] == []
    assert node["W"]["value_exact"] == [["0.5", "-1"], ["0", "1/3"]]
    # Z = X W + b; dJ/dZ = Z; dJ/db = the sum of Z's rows; dJ/dW = Xᵀ Z
    z = node["Z"]["value"]
    assert node["Z"]["grad"] == z
    assert node["b"]["grad"] == [sum(row[j] for row in z) for j in range(2)]
    assert data["gradients"]["b"] == node["b"]["grad"]
    edge_b = node["Z"]["inputs"][1]
    assert edge_b["local"] == {"formula": "sum(dZ, axis=0)", "latex": "\\sum_{\\text{rows}} \\bar{Z}", "rule": "vjp"}
    assert edge_b["contribution"] == node["b"]["grad"]


def test_shape_only_json_has_symbols_and_nulls():
    from bpviz.api import Source
    graph = Source.expression(MATRIX, shapes={"X": ("N", "D"), "W": ("D", "H"), "b": ("H",)}).build()
    data = json.loads(render_json(graph))
    node = {n["name"]: n for n in data["nodes"]}
    assert node["Z"]["shape"] == ["N", "H"] and node["Z"]["value"] is None and node["Z"]["grad"] is None
    assert data["values"] == {} and data["gradients"] == {"X": None, "W": None, "b": None}
