"""Matrix mode at the edges of float64 and of memory: a value or result that lost its digits is
refused as scalar mode refuses it, and a run too large to hold is refused before any work."""

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


def test_messages_do_not_repeat_in(tmp_path):
    message = refused(tmp_path, "expr", "J = sum(exp(v))", "--at", "v=[1e-400, 1]")
    assert "too small for a 64-bit float" in message and " in in " not in message
