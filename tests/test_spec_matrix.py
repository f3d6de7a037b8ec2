"""Network specs in the matrix view (`bpviz spec --view matrix`): one node per layer quantity, the
same gradients as the scalar view, batches of samples with a mean or sum reduction, and every error
with its YAML line."""

import json
from fractions import Fraction

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from bpviz.api import Source, build_spec
from bpviz.autodiff import gradient_step
from bpviz.cli import app
from bpviz.errors import BpvizError, SpecError, UsageError
from conftest import EXAMPLES

NETWORKS = ["two-layer.yaml", "softmax.yaml", "init.yaml", "wide.yaml"]
BATCH = "two-layer-batch.yaml"
runner = CliRunner()


def spec(name, overrides=None, view="scalar", text=None):
    path = EXAMPLES / name
    return build_spec(text if text is not None else path.read_text(), str(path), overrides, False, view)


def entries(value):
    """(index, entry) of an array, or ((), value) of a scalar."""
    if isinstance(value, np.ndarray):
        return list(np.ndenumerate(value))
    return [((), value)]


def scalar_name(name, index):
    """The scalar view's name of entry ``index`` (0-based) of matrix node ``name``: h.W, (0, 1) ->
    h.W[1,2]; a bias column (units, 1) is one entry per unit."""
    if not index:
        return name
    if name.endswith(".b"):
        index = index[:1]
    return f"{name}[{','.join(str(i + 1) for i in index)}]"


def assert_same(matrix_value, scalar_value, exact=False):
    if exact:
        assert isinstance(matrix_value, Fraction) and matrix_value == scalar_value
    else:
        assert float(matrix_value) == pytest.approx(float(scalar_value), rel=1e-12, abs=1e-300)


# -- the matrix view of a one-sample spec: same numbers as the scalar view --------------------------

@pytest.mark.parametrize("name", NETWORKS)
def test_matrix_view_has_the_scalar_views_loss_and_gradients(name):
    scalar, matrix = spec(name), spec(name, view="matrix")
    assert matrix.matrix and not scalar.matrix
    assert matrix.out.name == scalar.out.name
    assert_same(matrix.out.value, scalar.out.value)
    for param in matrix.params:
        node = matrix.node(param)
        assert np.shape(node.grad) == node.shape
        for index, g in entries(node.grad):
            assert_same(g, scalar.node(scalar_name(param, index)).grad)
        for index, v in entries(node.value):
            assert node.value is not None and v == scalar.node(scalar_name(param, index)).value
    data = yaml.safe_load((EXAMPLES / name).read_text())
    for i, input_name in enumerate(data["inputs"]):     # x's entry i is input i
        assert_same(matrix.node("x").grad[i], scalar.node(input_name).grad)


def test_two_layer_in_the_matrix_view_keeps_mazurs_numbers():
    graph = spec("two-layer.yaml", view="matrix")
    assert float(graph.out.value) == pytest.approx(0.298371109, abs=1e-9)
    assert float(graph.node("o.W").grad[0, 0]) == pytest.approx(0.082167041, abs=1e-9)   # his w5
    assert float(graph.node("h.W").grad[0, 0]) == pytest.approx(0.000438568, abs=1e-9)   # his w1


def test_one_node_per_layer_quantity_with_shapes():
    graph = spec("two-layer.yaml", view="matrix")
    named = [n.name for n in graph.nodes if n.kind != "const" and not n.name.startswith("t")]
    assert named == ["x", "h.W", "h.b", "h.z", "h.a", "o.W", "o.b", "o.z", "o.a", "y", "E"]
    shapes = {n.name: n.shape for n in graph.nodes}
    assert shapes["x"] == (2,) and shapes["h.W"] == (2, 2) and shapes["h.z"] == (2,) and shapes["y"] == (2,)
    assert shapes["h.b"] == () and shapes["o.b"] == (2,)      # a shared bias is a scalar, a list a vector
    assert graph.params == ["h.W", "h.b", "o.W", "o.b"]
    assert graph.spec.values_key == "inputs" and graph.spec.learning_rate == Fraction(1, 2)
    z = graph.node("h.z")
    assert graph.formula(graph.nodes[z.inputs[0]]) == "h.W @ x"     # z = W a + b: rows of W are units


NUMBERS = """
title: exact
inputs: {x1: 0.5, x2: -2, x3: 3}
layers:
  - {name: h, activation: relu, weights: [[1, -0.5, 0.25], [0.5, 2, -1]], bias: 0.5}
  - {name: g, activation: linear, weights: [[0.5, -1], [2, 0.25]], bias: [0.1, -0.3]}
  - {name: o, activation: linear, weights: [[1.5, -0.5]]}
loss: {kind: mse, targets: [0.7], scale: 0.5}
"""


def test_an_exact_network_has_exactly_the_scalar_views_gradients():
    scalar = build_spec(NUMBERS, "exact.yaml")
    matrix = build_spec(NUMBERS, "exact.yaml", view="matrix")
    assert isinstance(matrix.out.value, Fraction) and matrix.out.value == scalar.out.value
    compared = 0
    for param in matrix.params:
        for index, g in entries(matrix.node(param).grad):
            assert_same(g, scalar.node(scalar_name(param, index)).grad, exact=True)
            compared += 1
    assert compared == 6 + 1 + 4 + 2 + 2


# -- batches --------------------------------------------------------------------------------------

def test_batch_shapes_samples_are_columns():
    graph = spec(BATCH, view="matrix")
    shapes = {n.name: n.shape for n in graph.nodes}
    assert shapes["x"] == (2, 3) and shapes["y"] == (2, 3)
    assert shapes["h.z"] == shapes["h.a"] == shapes["o.a"] == (2, 3)
    assert shapes["h.b"] == () and shapes["o.b"] == (2, 1)     # a per-unit bias is a column in a batch
    assert graph.out.shape == () and graph.out.name == "E" and graph.out.op.name == "mean"
    x = graph.node("x").value
    assert [float(v) for v in x[:, 1]] == [0.5, -0.2]           # sample 2 is column 2
    y = graph.node("y").value
    assert [float(v) for v in y[:, 1]] == [0.99, 0.01]          # targets row 2 is column 2 of y


SAMPLES = [(0.05, 0.10, [0.01, 0.99]), (0.50, -0.20, [0.99, 0.01]), (-0.30, 0.80, [0.50, 0.50])]


def per_sample(samples):
    """The scalar view of each sample of two-layer-batch.yaml (its weights are two-layer.yaml's)."""
    return [spec("two-layer.yaml", [f"inputs.x1={x1}", f"inputs.x2={x2}", f"loss.targets={list(t)}"])
            for x1, x2, t in samples]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n", [3, 2])      # 2 samples and 2 units: a bias that broadcast wrongly would fit
def test_batch_loss_and_gradients_reduce_the_samples_scalar_views(reduction, n):
    samples = SAMPLES[:n]
    overrides = [f"loss.reduction={reduction}"]
    if n != len(SAMPLES):
        overrides += [f"inputs.x1={[s[0] for s in samples]}", f"inputs.x2={[s[1] for s in samples]}",
                      f"loss.targets={[s[2] for s in samples]}"]
    graph = spec(BATCH, overrides, view="matrix")
    assert graph.node("x").shape == (2, n)
    singles = per_sample(samples)
    factor = 1 / len(singles) if reduction == "mean" else 1
    assert float(graph.out.value) == pytest.approx(factor * sum(float(s.out.value) for s in singles), rel=1e-12)
    for param in graph.params:
        for index, g in entries(graph.node(param).grad):
            name = scalar_name(param, index)
            expected = factor * sum(float(s.node(name).grad) for s in singles)
            assert float(g) == pytest.approx(expected, rel=1e-12)
    for k, single in enumerate(singles):       # x's gradient per sample: column k is sample k's
        for i, name in enumerate(["x1", "x2"]):
            assert float(graph.node("x").grad[i, k]) == pytest.approx(factor * float(single.node(name).grad),
                                                                     rel=1e-12)


def batch_text(reduction, text=NUMBERS):
    return (text.replace("inputs: {x1: 0.5, x2: -2, x3: 3}", "inputs: {x1: [0.5, 1, -1], x2: [-2, 0, 0.5], "
                                                            "x3: [3, 0.25, 2]}")
                .replace("targets: [0.7]", f"targets: [0.7, -1, 2], reduction: {reduction}"))


def test_sum_reduction_is_n_times_the_mean_exactly():
    mean = build_spec(batch_text("mean"), "b.yaml", view="matrix")
    total = build_spec(batch_text("sum"), "b.yaml", view="matrix")
    assert mean.node("x").shape == (3, 3) and mean.node("y").shape == (1, 3)
    assert isinstance(mean.out.value, Fraction) and total.out.value == 3 * mean.out.value
    for param in mean.params:
        for (index, m), (_, s) in zip(entries(mean.node(param).grad), entries(total.node(param).grad)):
            assert isinstance(m, Fraction) and s == 3 * m
    assert mean.out.value != total.out.value


def test_sum_reduction_is_n_times_the_mean_for_the_float_example():
    mean = spec(BATCH, view="matrix")
    total = spec(BATCH, ["loss.reduction=sum"], view="matrix")
    assert total.out.op.name == "sum"
    assert float(total.out.value) == pytest.approx(3 * float(mean.out.value), rel=1e-12)
    np.testing.assert_allclose(np.asarray(total.node("h.W").grad, dtype=float),
                               3 * np.asarray(mean.node("h.W").grad, dtype=float), rtol=1e-12)


def test_the_default_reduction_is_the_mean():
    text = (EXAMPLES / BATCH).read_text()
    assert "  reduction: mean" in text
    graph = build_spec(text.replace("  reduction: mean", "  #"), "b.yaml", view="matrix")
    assert graph.out.op.name == "mean" and graph.out.value == spec(BATCH, view="matrix").out.value


def test_a_batch_of_one_sample_is_the_scalar_view():
    text = (EXAMPLES / "two-layer.yaml").read_text().replace(
        "inputs: {x1: 0.05, x2: 0.10}", "inputs: {x1: [0.05], x2: [0.10]}").replace(
        "targets: [0.01, 0.99]", "targets: [[0.01, 0.99]]")
    for reduction in ("mean", "sum"):
        graph = build_spec(text.replace("scale: 0.5", f"scale: 0.5\n  reduction: {reduction}"), "one.yaml",
                           view="matrix")
        scalar = spec("two-layer.yaml")
        assert graph.node("x").shape == (2, 1) and graph.node("o.b").shape == (2, 1)
        assert_same(graph.out.value, scalar.out.value)
        for param in graph.params:
            for index, g in entries(graph.node(param).grad):
                assert_same(g, scalar.node(scalar_name(param, index)).grad)


def test_one_output_unit_takes_one_target_per_sample():
    text = batch_text("mean")
    rows = build_spec(text.replace("targets: [0.7, -1, 2]", "targets: [[0.7], [-1], [2]]"), "b.yaml",
                      view="matrix")
    flat = build_spec(text, "b.yaml", view="matrix")
    assert rows.out.value == flat.out.value and rows.node("y").shape == (1, 3)


def test_softmax_cross_entropy_batch_gradient_is_p_minus_y_over_n():
    text = (EXAMPLES / "softmax.yaml").read_text().replace(
        "inputs: {x1: 0.5, x2: -1.0}", "inputs: {x1: [0.5, -0.2, 1.0, 0.3], x2: [-1.0, 0.4, 0.0, 0.9]}").replace(
        "targets: [1, 0]", "targets: [[1, 0], [0, 1], [0.25, 0.75], [0, 1]]")
    for reduction, n in (("mean", 4), ("sum", 1)):
        graph = build_spec(text.replace("kind: cross_entropy", f"kind: cross_entropy\n  reduction: {reduction}"),
                           "s.yaml", view="matrix")
        ((z, a, targets),) = graph.spec.softmax_cross_entropy
        assert (z, a) == ("o.z", "o.a") and np.shape(targets) == (2, 4)
        p = np.asarray(graph.node(a).value, dtype=float)
        y = np.asarray(targets, dtype=float)
        np.testing.assert_allclose(p.sum(axis=0), 1, rtol=1e-12)            # softmax over the units
        np.testing.assert_allclose(np.asarray(graph.node(z).grad, dtype=float), (p - y) / n, atol=1e-15)
        assert graph.node("o.Σexp").shape == (4,)
        loss = -np.sum(y * np.log(p), axis=0)
        assert float(graph.out.value) == pytest.approx(loss.mean() if reduction == "mean" else loss.sum())


def test_binary_cross_entropy_batch_matches_each_samples_scalar_view():
    base = (EXAMPLES / "init.yaml").read_text()
    samples = [([1.0, 0.5, -1.5], 1), ([0.2, -0.4, 0.3], 0), ([-1, 2, 0.5], 0.25)]
    batch = base.replace("inputs: {x1: 1.0, x2: 0.5, x3: -1.5}",
                         "inputs: {x1: [1.0, 0.2, -1], x2: [0.5, -0.4, 2], x3: [-1.5, 0.3, 0.5]}").replace(
        "targets: [1]", "targets: [1, 0, 0.25]")
    graph = build_spec(batch, "b.yaml", view="matrix")
    singles = [spec("init.yaml", [f"inputs.x{i + 1}={v}" for i, v in enumerate(xs)] + [f"loss.targets=[{t}]"])
               for xs, t in samples]
    assert float(graph.out.value) == pytest.approx(np.mean([float(s.out.value) for s in singles]), rel=1e-12)
    for param in graph.params:
        for index, g in entries(graph.node(param).grad):
            name = scalar_name(param, index)
            assert float(g) == pytest.approx(np.mean([float(s.node(name).grad) for s in singles]), rel=1e-12)


def test_binary_cross_entropy_with_every_target_one_leaves_out_log_of_one_minus_a():
    graph = spec("init.yaml", view="matrix")                 # targets: [1]
    assert "y" not in graph and not any(n.op and n.op.name == "sub" for n in graph.nodes)
    saturated = spec("init.yaml", ["inputs.x1=-400"], view="matrix")
    assert float(saturated.node("o.a").value[0]) == 1.0        # sigmoid rounds to 1: log(1 − a) would be log(0)
    assert float(saturated.out.value) == 0


def test_the_gradient_step_updates_weights_and_biases():
    graph = spec(BATCH, view="matrix")
    step = gradient_step(graph, Fraction(1, 2))
    assert [row[0] for row in step.rows] == ["h.W", "h.b", "o.W", "o.b"]
    for name, old, grad, new in step.rows:
        np.testing.assert_allclose(np.asarray(new, dtype=float),
                                   np.asarray(old, dtype=float) - 0.5 * np.asarray(grad, dtype=float))
        assert np.shape(new) == np.shape(old)
    assert float(step.after) < float(graph.out.value)


def test_set_overrides_a_batch():
    graph = spec(BATCH, ["inputs.x1=[0.3, 0.3, 0.3]", "layers[1].bias=[0.5, 0.7]"], view="matrix")
    assert [float(v) for v in graph.node("x").value[0]] == [0.3, 0.3, 0.3]
    assert [float(v) for v in graph.node("o.b").value[:, 0]] == [0.5, 0.7]


def test_matrix_view_sizes_by_entries_not_nodes():
    big = ("inputs: {x1: 1, x2: 2, x3: 3, x4: 4, x5: 5, x6: 6, x7: 7, x8: 8, x9: 9, x10: 10}\n"
           "init: {scheme: xavier, seed: 0}\nlayers:\n  - {activation: tanh, units: 6000}\n"
           "  - {activation: linear, units: 1}\nloss: {kind: mse, targets: [1]}\n")
    with pytest.raises(SpecError, match="the network is too large: about .* graph nodes"):
        build_spec(big, "big.yaml")
    graph = build_spec(big, "big.yaml", view="matrix")
    assert graph.node("h1.W").shape == (6000, 10) and graph.node("h1.W").value.dtype == float
    huge = big.replace("units: 6000", "units: 2000000")
    with pytest.raises(SpecError, match="line 4: layers\\[0\\]: the network is too large: about .* array entries"):
        build_spec(huge, "huge.yaml", view="matrix")


# -- refusals and errors --------------------------------------------------------------------------

def test_the_scalar_view_refuses_a_batch_with_the_key_and_line():
    with pytest.raises(SpecError) as info:
        spec(BATCH)
    message = info.value.message
    assert message.startswith(f"{EXAMPLES / BATCH}, line 7: inputs.x1: a list of 3 values is a batch")
    assert "--view matrix" in message and "\n" not in message


def test_cli_refuses_a_batch_in_the_scalar_view(tmp_path):
    out = tmp_path / "b.json"
    result = runner.invoke(app, ["spec", str(EXAMPLES / BATCH), "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert "line 7: inputs.x1:" in result.output and "use --view matrix" in result.output
    assert "Traceback" not in result.output


def test_cli_matrix_view_json_and_table(tmp_path):
    result = runner.invoke(app, ["spec", str(EXAMPLES / BATCH), "--view", "matrix", "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    nodes = {n["name"]: n for n in data["nodes"]}
    assert nodes["x"]["shape"] == [2, 3] and nodes["o.b"]["shape"] == [2, 1] and nodes["h.b"]["shape"] == []
    assert data["output"] == "E" and nodes["E"]["op"] == "mean"
    assert len(data["gradients"]["h.W"]) == 2 and len(data["gradients"]["h.W"][0]) == 2
    table = runner.invoke(app, ["spec", str(EXAMPLES / BATCH), "--view", "matrix"])
    assert table.exit_code == 0, table.output
    assert "h.W" in table.output and "2×3" in table.output


def test_matrix_view_refuses_group_and_graph_specs():
    with pytest.raises(UsageError):
        build_spec((EXAMPLES / "two-layer.yaml").read_text(), "t.yaml", None, True, "matrix")
    with pytest.raises(BpvizError, match="applies to network specs"):
        spec("ng-spec.yaml", view="matrix")
    assert Source.spec((EXAMPLES / BATCH).read_text(), "b.yaml", view="matrix").build().matrix


BATCH_TEXT = (EXAMPLES / BATCH).read_text()
TWO = (EXAMPLES / "two-layer.yaml").read_text()

ERRORS = [
    (BATCH_TEXT.replace("x2: [0.10, -0.20, 0.80]", "x2: [0.10, -0.20]"),
     "line 8: inputs.x2: expected 3 values (one per sample, as inputs.x1 has), found 2"),
    (BATCH_TEXT.replace("x2: [0.10, -0.20, 0.80]", "x2: 0.10"),
     "line 8: inputs.x2: a single number, but inputs.x1 is a batch of 3 values"),
    (BATCH_TEXT.replace("x1: [0.05, 0.50, -0.30]", "x1: []"), "line 7: inputs.x1: expected a number, or a list"),
    (BATCH_TEXT.replace("x1: [0.05, 0.50, -0.30]", "x1: [0.05, [0.5], -0.30]"),
     "line 7: inputs.x1[1]: expected a number, not a list"),
    (BATCH_TEXT.replace("    - [0.99, 0.01]", "    - [0.99]"),
     "line 23: loss.targets[1]: expected 2 targets (one per unit of the last layer, 'o'), found 1"),
    (BATCH_TEXT.replace("    - [0.99, 0.01]\n", ""),
     "line 21: loss.targets: expected 3 rows of targets (one per sample"),
    (BATCH_TEXT.replace("    - [0.99, 0.01]", "    - 0.99"),
     "line 23: loss.targets[1]: expected a row of 2 targets"),
    (BATCH_TEXT.replace("reduction: mean", "reduction: average"),
     "line 26: loss.reduction: 'average' is not one of mean, sum"),
    (BATCH_TEXT.replace("reduction: mean", "reducton: mean"),
     "line 26: loss.reducton: unknown key 'reducton'; did you mean 'reduction'?"),
    (BATCH_TEXT.replace("name: E", "name: y"), "line 27: loss.name: 'y' is the matrix view's node of the targets"),
    (BATCH_TEXT.replace("name: E", "name: x"), "line 27: loss.name: 'x' is the matrix view's node of the inputs"),
    (TWO.replace("targets: [0.01, 0.99]", "targets: [[0.01, 0.99]]"),
     "line 16: loss.targets[0]: a row of targets is for a batch of samples, but the inputs are single numbers"),
    (BATCH_TEXT.replace("bias: [0.60, 0.60]", "bias: [0.60]"),
     "line 18: layers[1].bias: expected 2 biases (one per unit), found 1"),
    ((EXAMPLES / "softmax.yaml").read_text()
     .replace("inputs: {x1: 0.5, x2: -1.0}", "inputs: {x1: [0.5, 1], x2: [-1, 0]}")
     .replace("targets: [1, 0]", "targets: [[1, 0], [0, 0]]"),
     "line 15: loss.targets[1]: sample 2: every target is 0"),
    ((EXAMPLES / "init.yaml").read_text().replace("inputs: {x1: 1.0, x2: 0.5, x3: -1.5}",
                                                  "inputs: {x1: [1, 2], x2: [0, 1], x3: [1, 1]}")
     .replace("targets: [1]", "targets: [1, 2]"),
     "line 17: loss.targets[1]: sample 2: binary cross-entropy needs targets between 0 and 1"),
]


@pytest.mark.parametrize("text, message", ERRORS)
def test_matrix_view_errors_name_the_key_and_line(text, message):
    with pytest.raises(SpecError) as info:
        build_spec(text, "net.yaml", None, False, "matrix")
    assert info.value.message.startswith("net.yaml, line ")
    assert message in info.value.message and "\n" not in info.value.message


def test_a_batch_error_from_set_blames_the_set():
    with pytest.raises(SpecError) as info:
        spec(BATCH, ["inputs.x2=[1, 2]"], view="matrix")
    assert info.value.message == ("--set inputs.x2=[1, 2]: inputs.x2: expected 3 values (one per sample, "
                                  "as inputs.x1 has), found 2")


def test_cli_matrix_view_errors_exit_1_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BATCH_TEXT.replace("x2: [0.10, -0.20, 0.80]", "x2: [0.10, -0.20]"))
    result = runner.invoke(app, ["spec", str(bad), "--view", "matrix", "-f", "json"])
    assert result.exit_code == 1
    assert result.output.strip() == (f"error: {bad}, line 8: inputs.x2: expected 3 values (one per sample, "
                                     f"as inputs.x1 has), found 2")
