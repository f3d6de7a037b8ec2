"""Matrix mode at the edges of float64 and of memory: a value or result that lost its digits is
refused as scalar mode refuses it, and a run too large to hold is refused before any work."""

import json
from fractions import Fraction

import numpy as np
import pytest

from bpviz import tensor
from hostile.support import invoke


def run(tmp_path, *args):
    """The CLI on ``args``, writing JSON to a file that must exist only when the run succeeds."""
    out = tmp_path / "o.json"
    result = invoke(*args, "-o", str(out))
    assert out.exists() == (result.exit_code == 0), result.output
    return result


def refused(tmp_path, *args) -> str:
    result = run(tmp_path, *args)
    assert result.exit_code == 1, result.output
    message = result.output.strip()
    assert message.startswith("error:") and "\n" not in message, message
    return message


# -- underflow: the same rules as scalar mode ------------------------------------------------------

def test_a_product_that_underflows_to_zero_is_refused_as_in_scalar_mode(tmp_path):
    message = refused(tmp_path, "expr", "J = sum(exp(-v)*exp(-v))", "--at", "v=[400, 400]")
    assert "underflows to 0" in message and "entry [0]" in message and "exp(-v)*exp(-v)" in message
    assert "underflows to 0" in refused(tmp_path, "expr", "J = exp(-v)*exp(-v)", "--at", "v=400")


def test_a_tiny_value_in_a_float_array_is_refused_and_an_exact_one_kept(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text('{"v": [' + ",".join(["0"] * 299 + ["1e-400"]) + "]}")      # float64: 300 entries
    message = refused(tmp_path, "expr", "J = sum(v)", "--values", str(path))
    assert "v[299] = 1e-400 is too small for a 64-bit float" in message
    path.write_text('{"v": [' + ",".join(["0"] * 9 + ["1e-400"]) + "]}")        # exact: 10 entries
    assert run(tmp_path, "expr", "J = sum(v)", "--values", str(path)).exit_code == 0
    node = json.loads((tmp_path / "o.json").read_text())["nodes"][-1]
    assert node["value"] is None and node["value_exact"].endswith("0001")     # 1e-400, exactly


def test_zeros_however_written_are_still_zeros(tmp_path):
    path = tmp_path / "zeros.json"
    path.write_text('{"v": [' + ",".join(["0", "0.0", "-0", "0e-400", "0.000", "1"] * 50) + "]}")
    result = run(tmp_path, "expr", "J = sum(v)", "--values", str(path))
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o.json").read_text())["nodes"][-1]["value"] == 50


def test_exp_that_underflows_in_a_float_array_is_refused(tmp_path):
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"v": [-800] * 300}))
    message = refused(tmp_path, "expr", "J = sum(exp(v))", "--values", str(path))
    assert "underflows to 0" in message and "v[0] = -800" in message


def test_a_subnormal_result_in_an_exact_array_is_refused(tmp_path):
    message = refused(tmp_path, "expr", "J = sum(exp(v))", "--at", "v=[-720, 1]")
    assert "would lose its digits" in message and "v[0] = -720" in message


def test_a_network_in_the_matrix_view_refuses_what_the_scalar_view_refuses(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("inputs: {x1: 1}\nlayers:\n  - weights: [[-1e-200]]\n    activation: tanh\n"
                    "loss: {kind: mse, targets: [0]}\n")
    scalar = refused(tmp_path, "spec", str(spec))
    matrix = refused(tmp_path, "spec", str(spec), "--view", "matrix")
    assert "underflows to 0" in scalar and "underflows to 0" in matrix


@pytest.mark.parametrize("program, values, fragment", [
    ("J = sum(tanh(v))", "v=[400, 1]", "tanh's derivative is too small"),
    ("J = sum(softmax(v))", "v=[-800, 1]", "underflows to 0"),
    ("J = sum(A @ B)", "A=[[1e-200, 1e-200]], B=[[1e-200], [1e-200]]", None),    # exact: 2e-400 is right
    ("J = sum(A @ B)", "A=[[1, -1]], B=[[1], [1]]", None),                       # a true 0
])
def test_float_results_of_structural_and_derivative_rules(tmp_path, program, values, fragment):
    result = run(tmp_path, "expr", program, "--at", values)
    if fragment is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1 and fragment in result.output, result.output


def test_a_float_matrix_product_whose_terms_all_underflow_is_refused():
    from bpviz.ops import OPS
    a = np.full((1, 300), 1e-200)
    message = pytest.raises(tensor.DomainError, tensor.forward, OPS["matmul"], [a, a.T], None, ["A", "B"])
    assert "underflows to 0" in str(message.value)
    cancel = np.array([[1.0, -1.0] * 150])
    assert tensor.forward(OPS["matmul"], [cancel, np.ones((300, 1))], None, ["A", "B"]).tolist() == [[0.0]]


def test_lost_digits_marks_subnormals_and_the_zeros_that_should_not_be():
    out = np.array([1e-310, 0.0, 0.0, 1.0, -1e-320])
    assert tensor.lost_digits(out).tolist() == [True, False, False, False, True]
    assert tensor.lost_digits(out, np.array([True, True, False, True, True])).tolist() == \
        [True, True, False, False, True]
    assert tensor.lost_digits(out, True).tolist() == [True, True, True, False, True]


def test_messages_do_not_repeat_in(tmp_path):
    message = refused(tmp_path, "expr", "J = sum(exp(v))", "--at", "v=[1e-400, 1]")
    assert "too small for a 64-bit float" in message and " in in " not in message


# -- memory: bounded before the work, and a MemoryError is a message -------------------------------

def _run_entries(program: str, shapes: dict) -> int:
    from bpviz.autodiff import infer_shapes
    from bpviz.parse.expr import parse_program
    graph = parse_program(program)
    infer_shapes(graph, shapes)
    return sum(tensor.run_entries(node.shape, [graph.nodes[i].shape for i in node.inputs])
               for node in graph.nodes)


def test_a_run_is_counted_by_everything_it_holds_and_bounded():
    chain = _run_entries("J = sum(" + "*".join(["X"] * 12) + ")", {"X": (1000, 1000)})
    assert chain == 47_000_002          # 12 values and gradients, 23 shares sent back to an X-sized operand
    with pytest.raises(tensor.ShapeError, match="47,000,002 numbers in all.*more than the 10,000,000"):
        tensor.check_run_entries(chain)
    bench = _run_entries("Z1 = X @ W1 + b1\nA1 = relu(Z1)\nZ2 = A1 @ W2 + b2\nP = softmax(Z2)\n"
                         "J = -sum(Y * log(P)) / 256\n",
                         {"X": (256, 784), "W1": (784, 128), "b1": (128,), "W2": (128, 10), "b2": (10,),
                          "Y": (256, 10)})
    assert bench < tensor.MAX_RUN_ENTRIES // 4
    tensor.check_run_entries(bench)


def test_one_array_beyond_what_a_run_holds_is_refused_as_it_is_read():
    row = [0.5] * 2000                  # 2000 × 2000: the rows are one list, the flat copy 32 MB
    with pytest.raises(tensor.ValuesError, match="4,000,000 entries, more than the 3,333,333 .* use a sample"):
        tensor.from_nested([row] * 2000, "the value of X", lambda v, what: v)


def test_running_out_of_memory_in_a_step_is_a_one_line_error(tmp_path, monkeypatch):
    def exhausted(a, p):
        raise MemoryError
    monkeypatch.setitem(tensor.FLOAT_RULES, "exp", (exhausted, tensor.FLOAT_RULES["exp"][1]))
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"X": [[0.5] * 30] * 10}))          # 300 entries: float64
    message = refused(tmp_path, "expr", "J = sum(exp(X))", "--values", str(path))
    assert "not enough memory" in message and "exp(X)" in message


def test_vanishing_tells_a_gradient_that_lost_digits_from_a_true_zero():
    from bpviz.ops import OPS
    mul, tiny, ones = OPS["mul"], np.full(3, 1e-200), np.ones(3)
    lost = tiny * tiny                                   # 1e-400: 0 in float64, not in truth
    assert tensor.vanishing(mul, 0, tiny, (tiny, ones), lost, lost)
    assert tensor.vanishing(mul, 0, ones, (np.full(3, 1e-310), ones), np.full(3, 1e-310), np.full(3, 1e-310))
    assert not tensor.vanishing(mul, 0, ones, (np.zeros(3), ones), np.zeros(3), np.zeros(3))
    assert not tensor.vanishing(mul, 0, ones, (tiny, ones), tiny, tiny)


def test_a_note_summarises_tiny_and_huge_matrices_with_their_true_norm(tmp_path):
    tiny = "X=[" + ",".join(["[" + ",".join(["1e-200"] * 5) + "]"] * 5) + "]"      # squared: 0 in float64
    note = tmp_path / "n.md"
    result = invoke("expr", "J = sum(X)", "--at", tiny, "-o", str(note), "--no-figure")
    assert result.exit_code == 0, result.output
    assert "\\rVert_{F} = 5 \\times 10^{-200}" in note.read_text()
    assert "\\rVert_{F} = 0 " not in note.read_text()
    assert tensor.frobenius(np.full(4, 1e-200)) == 2e-200
    assert tensor.frobenius(np.full(4, 1e308)) == 2 * Fraction(1e308)       # beyond float64: exact


def test_a_run_over_the_bound_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(tensor, "MAX_RUN_ENTRIES", 1500)
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"X": [[0.5] * 20] * 20}))
    assert run(tmp_path, "expr", "J = sum(X)", "--values", str(path)).exit_code == 0      # 1,202 numbers
    (tmp_path / "o.json").unlink()
    monkeypatch.setattr(tensor, "forward", None)                   # refused before any step is computed
    message = refused(tmp_path, "expr", "J = sum(X*X)", "--values", str(path))          # 2,802
    assert "2,802 numbers in all" in message and "more than the 1,500" in message


def test_a_vanishing_gradient_is_kept_with_the_warning_scalar_mode_gives(tmp_path):
    scalar = run(tmp_path, "expr", "B = C*D; J = A*B", "--at", "A=1e-200, C=1e200, D=1e-200")
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"A": [1e-200] * 300, "C": [1e200] * 300, "D": [1e-200] * 300}))
    matrix = run(tmp_path, "expr", "B = C*D; J = sum(A*B)", "--values", str(path))
    for result in scalar, matrix:
        assert result.exit_code == 0 and "gradients below 2.2e-308 reach C" in result.output, result.output


def test_running_out_of_memory_anywhere_is_a_one_line_error(tmp_path, monkeypatch):
    import bpviz.api

    def exhausted(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(bpviz.api, "run", exhausted)
    assert "ran out of memory" in refused(tmp_path, "expr", "J = sum(X)", "--at", "X=[1, 2]")
