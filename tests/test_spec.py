"""YAML specs: every example against an independent answer (plain numpy forward/backward for the
networks, finite differences and sympy for all), the views, --set, and every error a user meets."""

from fractions import Fraction

import numpy as np
import pytest
from typer.testing import CliRunner

from bpviz.api import build_spec
from bpviz.check import check
from bpviz.cli import app
from bpviz.errors import SpecError
from conftest import EXAMPLES

NETWORKS = ["two-layer.yaml", "softmax.yaml", "init.yaml", "wide.yaml"]
runner = CliRunner()


def spec(name, overrides=None, group=False):
    path = EXAMPLES / name
    return build_spec(path.read_text(), str(path), overrides, group)


# -- an independent network: plain numpy, written from the formulas --------------------------------

ACT = {"sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a, z: a * (1 - a)),
       "tanh": (np.tanh, lambda a, z: 1 - a ** 2),
       "relu": (lambda z: np.maximum(z, 0), lambda a, z: (z > 0).astype(float)),
       "linear": (lambda z: z, lambda a, z: np.ones_like(z))}


def numpy_network(data: dict, weights: list, biases: list):
    """Loss and gradients (dW, db per layer, dx) by hand-written backprop."""
    x = np.array([float(v) for v in data["inputs"].values()])
    acts, zs = [x], []
    for layer, W, b in zip(data["layers"], weights, biases):
        z = W @ acts[-1] + (b if b is not None else 0)
        zs.append(z)
        if layer["activation"] == "softmax":
            e = np.exp(z - z.max())
            acts.append(e / e.sum())
        else:
            acts.append(ACT[layer["activation"]][0](z))
    loss = data["loss"]
    t = np.array([float(v) for v in loss["targets"]])
    a = acts[-1]
    if loss["kind"] == "mse":
        scale = float(loss.get("scale", 0.5))
        L = scale * np.sum((t - a) ** 2)
        da = -2 * scale * (t - a)
    elif loss["kind"] == "cross_entropy":
        L = -np.sum(t * np.log(a))
        da = -t / a
    else:
        L = -np.sum(t * np.log(a) + (1 - t) * np.log(1 - a))
        da = -t / a + (1 - t) / (1 - a)
    dWs, dbs = [], []
    for k in range(len(weights) - 1, -1, -1):
        layer = data["layers"][k]
        if layer["activation"] == "softmax":
            p = acts[k + 1]
            dz = p * (da - np.dot(da, p))
        else:
            dz = da * ACT[layer["activation"]][1](acts[k + 1], zs[k])
        dWs.insert(0, np.outer(dz, acts[k]))
        dbs.insert(0, dz)
        da = weights[k].T @ dz
    return L, dWs, dbs, da


def graph_weights(graph, data):
    weights, biases = [], []
    fan_in = len(data["inputs"])
    for layer in data["layers"]:
        n = layer["name"]
        units = sum(1 for node in graph.nodes if node.name.startswith(f"{n}.W[") and node.name.endswith(",1]"))
        W = np.array([[float(graph.node(f"{n}.W[{j},{i}]").value) for i in range(1, fan_in + 1)]
                      for j in range(1, units + 1)])
        if f"{n}.b" in graph:
            b = np.full(units, float(graph.node(f"{n}.b").value))
        elif f"{n}.b[1]" in graph:
            b = np.array([float(graph.node(f"{n}.b[{j}]").value) for j in range(1, units + 1)])
        else:
            b = None
        weights.append(W)
        biases.append(b)
        fan_in = units
    return weights, biases


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("group", [False, True])
def test_networks_match_numpy(name, group):
    import yaml
    data = yaml.safe_load((EXAMPLES / name).read_text())
    graph = spec(name, group=group)
    weights, biases = graph_weights(graph, data)
    L, dWs, dbs, dx = numpy_network(data, weights, biases)
    assert float(graph.out.value) == pytest.approx(L, rel=1e-12)
    for layer, dW, db, b in zip(data["layers"], dWs, dbs, biases):
        n = layer["name"]
        for (j, i), g in np.ndenumerate(dW):
            assert float(graph.node(f"{n}.W[{j + 1},{i + 1}]").grad) == pytest.approx(g, rel=1e-9, abs=1e-15)
        if f"{n}.b" in graph:          # a shared bias is one leaf: its gradient is the sum over units
            assert float(graph.node(f"{n}.b").grad) == pytest.approx(db.sum(), rel=1e-9, abs=1e-15)
        elif b is not None:
            for j, g in enumerate(db, start=1):
                assert float(graph.node(f"{n}.b[{j}]").grad) == pytest.approx(g, rel=1e-9, abs=1e-15)
    for name_, g in zip(data["inputs"], dx):
        assert float(graph.node(name_).grad) == pytest.approx(g, rel=1e-9, abs=1e-15)


def test_two_layer_matches_mazurs_published_numbers():
    graph = spec("two-layer.yaml")
    assert float(graph.out.value) == pytest.approx(0.298371109, abs=1e-9)
    assert float(graph.node("o.W[1,1]").grad) == pytest.approx(0.082167041, abs=1e-9)   # his w5
    assert float(graph.node("h.W[1,1]").grad) == pytest.approx(0.000438568, abs=1e-9)   # his w1
    assert graph.node("h.b").kind == "input" and len(graph.consumers[graph.node("h.b").index]) == 2


@pytest.mark.parametrize("name", NETWORKS + ["apples.yaml", "ng-spec.yaml"])
def test_every_example_agrees_with_sympy_and_finite_differences(name):
    report = check(spec(name))
    assert report.ok, [(r.name, r.ours, r.symbolic, r.numeric) for r in report.rows]


@pytest.mark.parametrize("name", NETWORKS)
def test_grouped_view_has_identical_gradients_and_fewer_nodes(name):
    full, grouped = spec(name), spec(name, group=True)
    assert len(grouped.nodes) < len(full.nodes)
    assert grouped.out.value == full.out.value
    for key, g in full.gradients().items():
        assert float(grouped.node(key).grad) == pytest.approx(float(g), rel=1e-12, abs=1e-300)
    first = next(n for n in grouped.nodes if n.kind == "op")
    layer = first.name.split(".")[0]
    assert first.name == f"{layer}.z[1]" and first.op.name == "affine"
    assert grouped.formula(first, "uni").startswith(f"{layer}.W[1,1]·x1 + ")


def test_grouped_figure_draws_weights_inside_their_neuron():
    from bpviz.render.dot import render_dot
    graph = spec("two-layer.yaml", group=True)
    source = render_dot(graph)
    ids = {n.name: n.id for n in graph.nodes}
    declared = {line.split()[0] for line in source.splitlines() if " [label=<" in line and "->" not in line}
    assert ids["h.W[1,1]"] not in declared and ids["o.b[2]"] not in declared
    assert ids["h.b"] in declared and ids["x1"] in declared      # shared bias and inputs stay nodes
    assert "h.W[1,1] = </font>" in source and "0.0004386" in source
    assert "h.W[1,1]·x1 + h.W[1,2]·x2 + h.b" in source


def test_wide_network_grouped_elides_long_sums():
    from bpviz.render.dot import FigureOptions, render_dot
    graph = spec("wide.yaml", group=True)
    source = render_dot(graph, FigureOptions(edge_labels="numeric"))   # "auto" leaves the weights out
    assert "h2.W[1,1]·h1.a[1] + … + h2.W[1,8]·h1.a[8] + h2.b" in source
    assert sum(1 for n in graph.nodes if n.kind != "const") - len(graph.params) < 60


def test_softmax_cross_entropy_gradient_is_probability_minus_target():
    graph = spec("softmax.yaml")
    for z_name, a_name, target in graph.spec.softmax_cross_entropy:
        p = float(graph.node(a_name).value)
        assert float(graph.node(z_name).grad) == pytest.approx(p - float(target), abs=1e-12)
    assert "o.a[2]" in graph                          # every probability is drawn, target 0 or not


def test_apples_spec_is_exact():
    graph = spec("apples.yaml")
    assert graph.out.value == 715 and graph.title == "Buying apples and oranges"
    assert graph.gradients() == {"apple": Fraction(11, 5), "n_apple": 110, "orange": Fraction(33, 10),
                                 "n_orange": 165, "tax": 650}


def test_ng_spec_matches_the_expression():
    graph = spec("ng-spec.yaml")
    assert graph.out.value == 2 and graph.gradients() == {"w": -4, "x": 4, "b": 2, "y": -2}
    assert graph.spec.learning_rate == Fraction(1, 10)


def test_init_is_reproducible_and_seeded():
    a, b = spec("init.yaml"), spec("init.yaml")
    assert [n.value for n in a.inputs] == [n.value for n in b.inputs]
    c = spec("init.yaml", ["layers.0.init.seed=8"])
    assert a.node("h.W[1,1]").value != c.node("h.W[1,1]").value
    weights = [float(a.node(f"h.W[{j},{i}]").value) for j in range(1, 5) for i in range(1, 4)]
    assert len(set(weights)) == 12 and all(abs(w) < 5 for w in weights)


def test_set_overrides_values():
    graph = spec("two-layer.yaml", ["inputs.x1=0.3", "layers[1].bias=[0.5, 0.7]", "loss.scale=1"])
    assert graph.node("x1").value == Fraction(3, 10)
    assert graph.node("o.b[2]").value == Fraction(7, 10)
    a1, a2 = (float(graph.node(f"o.a[{j}]").value) for j in (1, 2))
    assert float(graph.out.value) == pytest.approx((0.01 - a1) ** 2 + (0.99 - a2) ** 2)


def test_network_params_are_weights_and_biases():
    graph = spec("two-layer.yaml")
    assert graph.params[:3] == ["h.b", "h.W[1,1]", "h.W[1,2]"]
    assert "x1" not in graph.params and len(graph.params) == 11


# -- errors --------------------------------------------------------------------------------------

TWO = (EXAMPLES / "two-layer.yaml").read_text()
APPLES = (EXAMPLES / "apples.yaml").read_text()

ERRORS = [
    ("title: [unclosed\n", "line 2, column 1: YAML syntax error"),
    ("", "the spec is empty"),
    ("- 1\n- 2\n", "expected a mapping at the top"),
    ("title: x\n", "a spec needs 'graph'"),
    (TWO.replace("weights: [[0.15, 0.20],", "weights: [[0.15],"),
     "line 7: layers[0].weights[0]: expected 2 weights (one per input), found 1"),
    (TWO.replace("targets: [0.01, 0.99]", "targets: [0.01]"),
     "loss.targets: expected 2 targets (one per unit of the last layer, 'o'), found 1"),
    (TWO.replace("activation: sigmoid", "activaton: sigmoid", 1),
     "unknown key 'activaton'; did you mean 'activation'?"),
    (TWO.replace("kind: mse", "kind: msе"), "loss.kind: 'msе' is not one of mse, cross_entropy"),
    (TWO.replace("activation: sigmoid", "activation: softmax", 1),
     "layers[0].activation: softmax is allowed only in the last layer"),
    (TWO.replace("bias: 0.35", "bias: yes"), "layers[0].bias: expected a number, not the boolean true"),
    (TWO.replace("bias: [0.60, 0.60]", "bias: [0.60]"), "expected 2 biases (one per unit), found 1"),
    ("inputs: {x: 1}\nlayers:\n  - activation: relu\n    units: 100000\n    init: {scheme: he}\n"
     "loss: {kind: mse, targets: [1]}\n", "the network is too large"),
    ("inputs: {x: 1}\nlayers:\n  - activation: relu\n    units: 2\nloss: {kind: mse, targets: [1, 2]}\n",
     "missing key 'init'"),
    (APPLES.replace("apple * n_apple", "apple * * n_apple"),
     "line 5: graph.apple_price: syntax error at column"),
    (APPLES.replace("tax: 1.1}", "taxes: 1.1}"), "line 3: values: a value was given for 'taxes', which "
                                                  "the program does not use; did you mean 'tax'?"),
    (APPLES.replace(", tax: 1.1}", "}"), "line 3: values: no value for tax"),
    (APPLES.replace("output: total", "output: totl"), "'totl' is not an entry of graph; did you mean 'total'?"),
    ("graph: {f: '__import__(\"os\")'}\n", "graph.f: syntax error"),
    ("values: !!python/object/apply:os.system ['echo pwned']\ngraph: {f: x}\n",
     "line 1: values: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed"),
    ("values: {x: !!binary aGk=}\ngraph: {f: x}\n", "is not allowed"),
    ("values: {x: 1}\ngraph: {f: x, f: 2*x}\n", "graph.f: this key is given twice"),
]


@pytest.mark.parametrize("text, message", ERRORS)
def test_spec_errors_name_the_key_and_line(text, message):
    with pytest.raises(SpecError) as info:
        build_spec(text, "net.yaml")
    assert message in info.value.message
    assert info.value.message.startswith("net.yaml")


@pytest.mark.parametrize("override, message", [
    ("inputs.x3=1", "inputs.x3 is not in the spec"),
    ("inputz.x1=1", "did you mean 'inputs'?"),
    ("layers.5.bias=1", "layers has 2 items"),
    ("learning_rate", "expected KEY.PATH=VALUE"),
])
def test_bad_overrides(override, message):
    with pytest.raises(SpecError) as info:
        build_spec(TWO, "net.yaml", [override])
    assert message in info.value.message


# -- the command line ----------------------------------------------------------------------------

def test_cli_spec_to_svg_and_note_with_the_specs_learning_rate(tmp_path):
    result = runner.invoke(app, ["spec", str(EXAMPLES / "two-layer.yaml"), "-o", str(tmp_path / "n.md")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "n.md").read_text()
    assert text.startswith("# A 2-2-2 network") and "```yaml" in text
    update = text.split("## Gradient-descent update")[1]
    assert "$\\eta = 0.5$" in update and "| $W^{(o)}_{1,1}$ | $0.4$ | $0.08217$ |" in update
    assert "| $x_{1}$ |" not in update                         # inputs are data, not parameters
    assert (tmp_path / "n.svg").read_text().count("<svg") == 1


def test_cli_spec_group_and_set(tmp_path):
    out = tmp_path / "g.json"
    result = runner.invoke(app, ["spec", str(EXAMPLES / "two-layer.yaml"), "--group", "neurons",
                                 "--set", "inputs.x1=0.3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    import json
    data = json.loads(out.read_text())
    ops = {n["name"]: n["op"] for n in data["nodes"]}
    assert ops["h.z[1]"] == "affine" and ops["o.a[2]"] == "sigmoid"
    assert next(n for n in data["nodes"] if n["name"] == "x1")["value"] == 0.3


def test_cli_spec_from_stdin():
    result = runner.invoke(app, ["spec", "-", "-o", "-"], input=APPLES)
    assert result.exit_code == 0, result.output
    assert '"output": "total"' in result.output


@pytest.mark.parametrize("args, code, message", [
    (["missing.yaml"], 1, "missing.yaml: no such file"),
    ([str(EXAMPLES / "apples.yaml"), "--group", "neurons"], 1, "--group neurons applies to network specs"),
    ([str(EXAMPLES / "apples.yaml"), "--group", "layers"], 2, "--group must be auto, none or neurons"),
])
def test_cli_spec_errors(tmp_path, args, code, message):
    out = tmp_path / "x.svg"
    result = runner.invoke(app, ["spec", *args, "-o", str(out)])
    assert result.exit_code == code and message in result.output
    assert "Traceback" not in result.output and not out.exists()
