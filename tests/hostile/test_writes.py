"""Output paths as an attacker (or bad luck) picks them: nothing clobbered, nothing half-written,
devices and links left as they were."""

import os
import stat

import pytest

from bpviz import write
from bpviz.errors import OutputError
from bpviz.write import write_files
from conftest import NG, NG_AT_TEXT
from hostile.support import invoke

NOTE = ["expr", NG, "--at", NG_AT_TEXT, "--renderer", "embedded"]


def test_a_directory_in_the_way_clobbers_nothing(tmp_path):
    (tmp_path / "n.md").mkdir()
    (tmp_path / "n.svg").write_text("precious")
    result = invoke(*NOTE, "-o", str(tmp_path / "n.md"))
    assert result.exit_code == 1 and "is a directory" in result.output
    assert (tmp_path / "n.svg").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.md", "n.svg"]


def test_a_failed_rename_puts_back_what_was_replaced(tmp_path, monkeypatch):
    first, second = tmp_path / "a.svg", tmp_path / "a.md"
    first.write_text("old figure")
    real = os.replace

    def flaky(src, dst):
        if str(dst).endswith(".md"):
            raise OSError(28, "No space left on device")
        return real(src, dst)
    monkeypatch.setattr(write.os, "replace", flaky)
    with pytest.raises(OutputError, match="nothing was written"):
        write_files([(str(first), "new figure"), (str(second), "new note")])
    assert first.read_text() == "old figure" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.svg"]


def test_ctrl_c_mid_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "j.json"
    target.write_text("precious")

    def interrupted(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(write.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_files([(str(target), "new")])
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"] and target.read_text() == "precious"


def test_a_symlink_keeps_pointing_where_it_did_and_a_file_keeps_its_mode(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("{}")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert invoke("expr", "J = x", "--at", "x=1", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and '"output": "J"' in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_devices_and_pipes_are_written_not_replaced(tmp_path):
    result = invoke("expr", "J = x", "--at", "x=1", "-f", "json", "-o", os.devnull)
    assert result.exit_code == 0 and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    assert invoke("expr", "J = x", "--at", "x=1", "-f", "dot", "-o", str(fifo)).exit_code == 0
    reader.join(30)
    assert got and got[0].startswith(b"digraph") and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_two_outputs_on_one_path_are_refused(tmp_path):
    result = invoke("expr", "J = x", "--at", "x=1", "-f", "md", "-o", str(tmp_path / "j.svg"))
    assert result.exit_code == 2 and "names a svg file" in result.output
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="both be written"):
        write_files([(str(tmp_path / "x"), "a"), (str(tmp_path / "." / "x"), "b")])


@pytest.mark.parametrize("out", ["/nonexistent/dir/j.json", "", "."])
def test_impossible_targets(out):
    result = invoke("expr", "J = x", "--at", "x=1", "-f", "json", "-o", out)
    assert result.exit_code in (1, 2) and result.output.startswith("error:")


def test_a_large_figure_asks_for_large_and_a_note_leaves_it_out(tmp_path):
    program = "\n".join(["v0 = x*y"] + [f"v{i} = v{i - 1} * x + {i}" for i in range(1, 220)])
    result = invoke("expr", program, "--at", "x=0.5, y=2", "-o", str(tmp_path / "big.svg"))
    assert result.exit_code == 1 and "--large" in result.output and list(tmp_path.iterdir()) == []
    result = invoke("expr", program, "--at", "x=0.5, y=2", "-o", str(tmp_path / "big.md"))
    assert result.exit_code == 0 and [p.name for p in tmp_path.iterdir()] == ["big.md"]
    assert "more than the 400 drawn by default (add --large" in (tmp_path / "big.md").read_text()


def test_png_size_is_capped(monkeypatch):
    """PNG is drawn from the SVG (bpviz.write.draw_svg): a huge layout comes out scaled down to
    MAX_PNG_PIXELS on its long side, never allocated at full size."""
    from bpviz import write as write_module
    if write_module.cairo_missing():
        pytest.skip(write_module.cairo_missing())
    huge = (b'<svg width="20000pt" height="50pt" viewBox="0 0 20000 50" xmlns="http://www.w3.org/2000/svg">'
            b'<rect width="20000" height="50" fill="red"/></svg>')
    monkeypatch.setattr(write_module.subprocess, "run", lambda args, **kw:
                        type("P", (), {"returncode": 0, "stdout": huge, "stderr": b""})())
    renderer = write_module.Renderer("embedded", "graphviz-pure", "0", "test")
    said = []
    png = write_module.render_graphviz("digraph {}", "png", renderer, dpi=600, on_cap=said.append)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == write_module.MAX_PNG_PIXELS and height <= 20
    assert len(said) == 1 and "8,000×20 px" in said[0] and "166,667×417 px" in said[0]
    assert said[0].startswith("the PNG is scaled down")   # the CLI adds "warning: " (it once said it twice)


def test_png_area_is_capped():
    """A square figure is capped by area too: at most MAX_PNG_AREA pixels (160 MB of bitmap)."""
    from bpviz.write import MAX_PNG_AREA, png_size
    (width, height), full = png_size(3000, 3000, 600)
    assert width * height <= MAX_PNG_AREA * 1.001 and full == (25000, 25000)   # rounding


def test_png_with_unreadable_text_comes_from_the_renderer(monkeypatch):
    """A PNG scaled so far down that its text is under 2.5 px is the renderer's own, at the capped
    size (cairosvg takes a minute on a 4,000-node figure), and the warning says so."""
    from bpviz import write as write_module
    if write_module.cairo_missing():
        pytest.skip(write_module.cairo_missing())
    huge = b'<svg width="100000pt" height="50pt" viewBox="0 0 100000 50" xmlns="http://www.w3.org/2000/svg"></svg>'
    seen = []
    monkeypatch.setattr(write_module.subprocess, "run", lambda args, **kw: seen.append(args) or
                        type("P", (), {"returncode": 0, "stdout": huge if "-Tsvg" in args else b"png",
                                       "stderr": b""})())
    renderer = write_module.Renderer("embedded", "graphviz-pure", "0", "test")
    said = []
    assert write_module.render_graphviz("digraph {}", "png", renderer, dpi=144, on_cap=said.append) == b"png"
    assert "-Tpng" in seen[-1] and "-Gsize=55.5556,0.0278" in seen[-1]
    assert "drawn by the renderer" in said[0]


def test_png_size_is_capped_without_cairo(monkeypatch):
    """Without cairo, PNG is the renderer's own, told the same limit."""
    from bpviz import write as write_module
    seen = []
    monkeypatch.setattr(write_module, "cairo_missing", lambda: "no cairo here")
    monkeypatch.setattr(write_module.subprocess, "run", lambda args, **kw: seen.append(args) or
                        type("P", (), {"returncode": 0, "stdout": b"png", "stderr": b""})())
    renderer = write_module.Renderer("embedded", "graphviz-pure", "0", "test")
    write_module.render_graphviz("digraph {}", "png", renderer, dpi=100)
    assert "-Gsize=80.00,80.00" in seen[0]


def test_a_note_for_a_unit_with_thousands_of_inputs(tmp_path):
    n = 1500
    spec = (tmp_path / "wide.yaml")
    spec.write_text("inputs: {" + ", ".join(f"x{i}: 0.{i % 9 + 1}" for i in range(n)) + "}\n"
                    "layers: [{weights: [[" + ", ".join("0.01" for _ in range(n)) + "]], activation: sigmoid}]\n"
                    "loss: {kind: mse, targets: [1]}\n")
    result = invoke("spec", str(spec), "-o", str(tmp_path / "n.md"))
    assert result.exit_code == 0, result.output


def test_a_regular_file_is_written_once_by_rename(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(write._Target, "write_directly", lambda self: calls.append(self.path))
    write_files([(str(tmp_path / "a.json"), "x"), (str(tmp_path / "a.svg"), "y")])
    assert calls == [] and (tmp_path / "a.json").read_text() == "x"


def test_a_dangling_symlink_and_a_trailing_slash(tmp_path):
    link = tmp_path / "n.json"
    link.symlink_to(tmp_path / "target.json")
    assert invoke("expr", "J = x", "--at", "x=1", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and (tmp_path / "target.json").exists()
    result = invoke("expr", "J = x", "--at", "x=1", "-o", str(tmp_path / "x.md") + "/")
    assert result.exit_code in (1, 2) and sorted(p.name for p in tmp_path.iterdir()) == ["n.json", "target.json"]


def test_closed_and_full_standard_output():
    import subprocess
    import sys
    closed = subprocess.run(f"{sys.executable} -m bpviz expr 'J = x' --at x=1 -o - >&-", shell=True,
                            capture_output=True, timeout=120)
    assert closed.returncode == 1 and b"standard output" in closed.stderr
    full = subprocess.run(f"{sys.executable} -m bpviz expr 'J = x' --at x=1 -o - > /dev/full", shell=True,
                          capture_output=True, timeout=120)
    assert full.returncode == 1 and b"standard output" in full.stderr
