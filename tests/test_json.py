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
