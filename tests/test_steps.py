"""The step-through page (-o FILE.html) and frames (--frames DIR): the sequence as data, the frames'
names, the limits and escaping without a browser; then the page itself in a real headless chromium
(Playwright driving Debian's /usr/bin/chromium), checked step by step against the JSON output."""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from fractions import Fraction

import pytest

from conftest import COLAH, COLAH_AT, EXAMPLES, NG, NG_AT, RENDERER
from bpviz.api import Options, Source, build_spec, run
from bpviz.errors import BpvizError
from bpviz.numeric import fmt_uni
from bpviz.render.steps import STEP_NODES, plan

HOSTILE_TITLE = "</script><script>alert(1)</script><!-- & \u2028 <img src=x onerror=alert(2)>"


def page(source: Source, **options) -> tuple:
    """The page's text and the graph it steps through."""
    result = run(source, Options.make(out="steps.html", renderer=RENDERER, **options))
    (path, text), = result.files
    return text, result


def json_nodes(source: Source) -> dict:
    result = run(source, Options.make(out="-"))
    return {n["name"]: n for n in json.loads(result.files[0][1])["nodes"]}


def shown(number: dict, key: str = "grad") -> str:
    """A JSON number as figures print it (four significant digits)."""
    exact = number.get(f"{key}_exact")
    return fmt_uni(Fraction(exact) if exact is not None else number[key], 4)


def operations_seed_edges(graph) -> int:
    return sum(n.kind == "op" for n in graph.nodes) + 1 + sum(1 for _ in graph.edges())


# -- without a browser --------------------------------------------------------------------------

@pytest.mark.parametrize("program, values", [(NG, NG_AT), (COLAH, COLAH_AT), ("f = x*x", {"x": 3})])
def test_one_step_per_operation_the_seed_and_one_per_edge(program, values):
    text, result = page(Source.expression(program, values))
    steps = plan(result.graph)
    assert len(steps.steps) == operations_seed_edges(result.graph)
    assert f'data-total="{len(steps.steps)}"' in text
    kinds = [s.kind for s in steps.steps]
    assert kinds == sorted(kinds, key=["forward", "seed", "backward"].index)


def test_captions_read_the_chain_rule():
    steps = plan(run(Source.expression(NG, NG_AT), Options.make(out="-")).graph)
    maths = [unicodedata.normalize("NFC", s.math) for s in steps.steps]
    assert maths[0] == "c = w·x = 2 · (−2) = −4"
    assert maths[5] == "J̄ = ∂J/∂J = 1"
    assert "ā = d̄ · ∂d/∂a = 2 · 1 = 2" in maths
    assert "w̄ = c̄ · ∂c/∂w = 2 · (−2) = −4" in maths


def test_fan_out_shows_the_growing_sum():
    graph = run(Source.expression(COLAH, COLAH_AT), Options.make(out="-")).graph
    steps = plan(graph)
    b = graph.node("b").index
    assert [text for step, text in steps.nodes[b].grads] == ["3 + …", "3 + 2 = 5"]
    first, last = (step for step, text in steps.nodes[b].grads)
    assert steps.node_state(b, first) == "active" and steps.node_state(b, first + 1) == "forward"
    assert steps.nodes[b].done == last
    assert steps.steps[last - 1].math == "b\u0304 += t\u03041 · ∂t1/∂b = 2 · 1 = 2 ⇒ b\u0304 = 3 + 2 = 5"


def test_page_is_one_self_contained_file():
    text, result = page(Source.expression(NG, NG_AT))
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") >= 1
    assert not re.search(r"<(link|iframe|img)\b|\bsrc=|@import|url\(", text)
    assert set(re.findall(r"https?://[^\s\"')]+", text)) <= {"http://www.w3.org/2000/svg",
                                                             "http://www.w3.org/1999/xlink"}
    for name in ("w", "x", "c", "b", "a", "y", "d", "t1", "J"):
        assert f'data-name="{name}"' in text


def test_numbers_follow_digits():
    text, _ = page(Source.expression("J = x / 3", {"x": 1}), digits=2)
    assert "J = x / 3 = 1 / 3 = 0.33" in json.loads(_steps_json(text))["steps"][0][5]


def _steps_json(text: str) -> str:
    return re.search(r'<script type="application/json" id="bpviz-steps">(.*?)</script>', text, re.S).group(1)


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_frames_are_numbered_with_the_width_of_the_last(fmt, tmp_path):
    folder = str(tmp_path / "frames")
    result = run(Source.expression(NG, NG_AT), Options.make(out=str(tmp_path / "j.json"), frames=folder,
                                                             frames_format=fmt, renderer=RENDERER))
    frames = [(path, data) for path, data in result.files if path.startswith(folder)]
    assert [os.path.basename(p) for p, _ in frames] == [f"step-{i:02d}.{fmt}" for i in range(1, 16)]
    if fmt == "svg":
        assert "Step 7 of 15" in frames[6][1] and "t̄1 = J̄ · ∂J/∂t1 = 1 · 0.5 = 0.5" in frames[6][1]
        assert 'visibility="hidden"' in frames[0][1] and frames[0][1].count("opacity=") >= 4
    else:
        assert all(data[:8] == b"\x89PNG\r\n\x1a\n" for _, data in frames[:2])
    result.write()
    assert sorted(os.listdir(folder))[0] == f"step-01.{fmt}"
    few = run(Source.expression("f = x*x", {"x": 3}), Options.make(out="f.html", frames="d", renderer=RENDERER))
    assert [p for p, _ in few.files if p != "f.html"] == [os.path.join("d", f"step-{i}.svg") for i in range(1, 5)]


def test_more_than_300_nodes_is_refused_with_advice():
    program = " + ".join(f"x{i}*y{i}" for i in range(110))
    with pytest.raises(BpvizError) as caught:
        run(Source.expression(program, {f"{v}{i}": 1 for i in range(110) for v in "xy"}),
            Options.make(out="big.html"))
    assert caught.value.exit_code == 1
    assert f"more than the {STEP_NODES}" in caught.value.message and "--group neurons" in caught.value.message


def test_two_layer_page_is_small():
    text, result = page(Source.spec((EXAMPLES / "two-layer.yaml").read_text(), "two-layer.yaml"))
    assert len(text.encode("utf-8")) < 2_000_000
    assert 'data-name="h.z[1]"' in text and 'data-name="h.W[1,1]"' not in text    # one card per neuron


def test_hostile_title_and_names_stay_text():
    spec = f'title: "{HOSTILE_TITLE}"\ngraph:\n  价格: 苹果 * n\nvalues: {{苹果: 100, n: 2}}\n'
    text, _ = page(Source.spec(spec, "t.yaml"))
    assert "<script>alert" not in text and "<img" not in text and "<!-- &" not in text
    assert text.count("<script") == 2 and text.count("</script>") == 2
    data = _steps_json(text)
    assert "<" not in data and "\u2028" not in data
    assert json.loads(data)["steps"][0][5] == "价格 = 苹果·n = 100 · 2 = 200"


# -- in a real browser --------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _why_no_browser():
    if CHROMIUM is None:
        return "chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=os.path.realpath(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


def open_page(browser, tmp_path, source, fragment="", name="steps.html", **options):
    text, result = page(source, **options)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    tab = browser.new_page(viewport={"width": 1200, "height": 800})
    dialogs = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.goto(path.as_uri() + fragment)
    tab.dialogs = dialogs
    return tab, result


def state(tab) -> dict:
    return tab.evaluate("""() => ({
        step: document.body.getAttribute('data-step'),
        active: Array.from(document.querySelectorAll('g[data-name][data-state="active"]')).map(g => g.dataset.name),
        states: Object.fromEntries(Array.from(document.querySelectorAll('g[data-name]'))
                                   .map(g => [g.dataset.name, g.dataset.state])),
        caption: document.querySelector('.caption').textContent,
        grads: Object.fromEntries(Array.from(document.querySelectorAll('g[data-name] text.g'))
                                  .filter(t => +t.dataset.of === +t.closest('g').dataset.node)
                                  .map(t => [t.closest('g').dataset.name,
                                             getComputedStyle(t).visibility === 'visible' ? t.textContent : null])),
    })""")


def test_pressing_right_steps_through_the_json_numbers(browser, tmp_path):
    source = Source.expression(NG, NG_AT)
    tab, result = open_page(browser, tmp_path, source)
    expected = json_nodes(source)
    steps = plan(result.graph)
    graph = result.graph
    for n in range(1, len(steps.steps) + 1):
        if n > 1:
            tab.keyboard.press("ArrowRight")
        now = state(tab)
        step = steps.steps[n - 1]
        assert now["step"] == str(n)
        assert now["active"] == [graph.nodes[step.active].name]
        assert step.math in now["caption"] and step.words in now["caption"]
        for name, grad in now["grads"].items():
            if graph.node(name).kind == "const":
                continue
            done = steps.nodes[graph.node(name).index].done
            if done is not None and done <= n:
                assert grad.split(" = ")[-1] == shown(expected[name]), (n, name)
            else:
                assert grad is None or grad.endswith("…"), (n, name, grad)
        if step.kind == "forward":
            assert now["states"][graph.nodes[step.active].name] == "active"
            later = [node.name for node in graph.nodes if steps.nodes[node.index].shown > n]
            assert all(now["states"][name] == "future" for name in later)
    assert all(s in ("done", "active") for name, s in now["states"].items() if graph.node(name).kind != "const")
    tab.keyboard.press("ArrowRight")                    # past the end: stays
    assert state(tab)["step"] == str(len(steps.steps))
    tab.keyboard.press("Home")
    assert state(tab)["step"] == "1" and state(tab)["active"] == ["c"]
    tab.keyboard.press("End")
    assert state(tab)["step"] == str(len(steps.steps))
    tab.keyboard.press("ArrowLeft")
    assert state(tab)["step"] == str(len(steps.steps) - 1)
    tab.click("button[data-go=first]")
    tab.click("button[data-go=next]")
    assert state(tab)["step"] == "2" and "a = c + b = −4 + 8 = 4" in state(tab)["caption"]
    assert tab.evaluate("location.hash") == "#step=2"
    tab.close()


def test_fan_out_in_the_browser(browser, tmp_path):
    tab, result = open_page(browser, tmp_path, Source.expression(COLAH, COLAH_AT), "#step=7")
    assert state(tab)["grads"]["b"] == "3 + …" and state(tab)["states"]["b"] == "active"     # t2's share
    tab.keyboard.press("ArrowRight")
    assert state(tab)["grads"]["b"] == "3 + …" and state(tab)["states"]["b"] == "forward"
    tab.keyboard.press("ArrowRight")
    tab.keyboard.press("ArrowRight")                    # step 10: t1's share, the last
    now = state(tab)
    assert now["states"]["b"] == "active" and now["step"] == "10"
    assert now["grads"]["b"] == "3 + 2 = 5" and "b\u0304 = 3 + 2 = 5" in now["caption"]
    tab.close()


@pytest.mark.parametrize("fragment, step", [("#step=0", 1), ("#step=-4", 1), ("#step=999", 15), ("#step=x", 1),
                                            ("#step=7", 7), ("", 1)])
def test_the_fragment_opens_a_step_clamped(browser, tmp_path, fragment, step):
    tab, _ = open_page(browser, tmp_path, Source.expression(NG, NG_AT), fragment)
    assert state(tab)["step"] == str(step)
    tab.close()


def test_slider_and_play(browser, tmp_path):
    tab, _ = open_page(browser, tmp_path, Source.expression(NG, NG_AT))
    tab.fill("input.slider", "6")
    assert state(tab)["step"] == "6" and state(tab)["active"] == ["J"]
    tab.select_option(".speed select", "300")
    tab.click("button.play")
    tab.wait_for_function("+document.body.dataset.step >= 8", timeout=5000)
    tab.click("button.play")
    stopped = state(tab)["step"]
    tab.wait_for_timeout(700)
    assert state(tab)["step"] == stopped
    tab.close()


def _blank(png: bytes) -> bool:
    from io import BytesIO
    from PIL import Image
    colours = Image.open(BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20)
    return colours is None or len(colours) < 20


def test_screenshots_are_not_blank_in_both_themes(browser, tmp_path):
    for theme, background in (("light", "rgb(255, 255, 255)"), ("dark", "rgb(13, 17, 23)")):
        tab, _ = open_page(browser, tmp_path, Source.expression(NG, NG_AT), "#step=10", name=f"{theme}.html",
                           theme=theme)
        assert tab.evaluate("getComputedStyle(document.body).backgroundColor") == background
        png = tab.screenshot()
        assert not _blank(png)
        box = tab.locator('g[data-name="d"]').bounding_box()
        assert box and box["width"] > 40 and box["height"] > 40          # drawn, not squeezed
        tab.close()


def test_chinese_page(browser, tmp_path):
    tab, result = open_page(browser, tmp_path, Source.expression(NG, NG_AT), "#step=2", lang="zh")
    assert tab.inner_text(".counter") == "第 2 步，共 15 步"
    assert "由 c、b 计算 a。" in state(tab)["caption"] or "由 c, b 计算 a。" in state(tab)["caption"]
    assert tab.inner_text("button[data-go=next]").strip() == "下一步"
    assert tab.evaluate("document.documentElement.lang") == "zh-Hans"
    tab.close()


def test_grouped_network_steps_one_card_at_a_time(browser, tmp_path):
    source = Source.spec((EXAMPLES / "two-layer.yaml").read_text(), "two-layer.yaml")
    tab, result = open_page(browser, tmp_path, source)
    expected = json_nodes(source)              # the JSON keeps every weight; the page groups neurons
    tab.keyboard.press("End")
    now = state(tab)
    grouped = build_spec((EXAMPLES / "two-layer.yaml").read_text(), "two-layer.yaml", group=True)
    grouped.adopt_names(source.build())        # t13 … t17: the loss's nodes as the JSON names them
    assert now["step"] == str(operations_seed_edges(grouped))
    for name, grad in now["grads"].items():
        if name in expected:
            assert grad.split(" = ")[-1].removeprefix("Σ ") == shown(expected[name]), name
    weights = tab.evaluate("""() => Array.from(document.querySelectorAll('g[data-name="h.z[1]"] text.g'))
                                      .map(t => t.textContent)""")
    assert weights[0] == shown(expected["h.W[1,1]"])
    tab.close()


def test_hostile_title_runs_no_script(browser, tmp_path):
    spec = f'title: "{HOSTILE_TITLE}"\ngraph:\n  J: w * x\nvalues: {{w: 2, x: 3}}\n'
    tab, _ = open_page(browser, tmp_path, Source.spec(spec, "t.yaml"), "#step=3")
    assert tab.dialogs == []
    assert tab.inner_text("h1").startswith("</script><script>alert(1)</script>")
    assert state(tab)["step"] == "3"
    tab.close()


def test_frames_options_that_make_no_sense_exit_2(tmp_path):
    from typer.testing import CliRunner
    from bpviz.cli import app
    runner = CliRunner()
    for extra, message in ((["--frames-format", "png"], "goes with --frames"),
                           (["--frames", "-"], "needs a folder name")):
        result = runner.invoke(app, ["expr", COLAH, "--at", "a=2, b=1", "-o", str(tmp_path / "j.json"), *extra])
        assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "j.json").exists() and not (tmp_path / "-").exists()


def test_frames_of_an_earlier_run_are_replaced_not_mixed(tmp_path):
    frames = tmp_path / "frames"
    first = run(Source.expression(NG, NG_AT), Options.make(out=str(tmp_path / "a.json"), frames=str(frames)))
    first.write()
    assert len(list(frames.glob("step-*.svg"))) == 15
    (frames / "notes.txt").write_text("mine")
    second = run(Source.expression(COLAH, COLAH_AT), Options.make(out=str(tmp_path / "b.json"), frames=str(frames)))
    second.write()
    assert sorted(p.name for p in frames.iterdir()) == ["notes.txt"] + [f"step-{i:02d}.svg" for i in range(1, 11)]


def test_png_frames_beyond_their_limit_need_large(tmp_path, monkeypatch):
    """358 PNG frames ran for over six minutes with nothing said: past PNG_FRAMES they need --large."""
    from bpviz.errors import RenderError
    from bpviz.render import steps as steps_module
    monkeypatch.setattr(steps_module, "PNG_FRAMES", 3)
    source = Source.expression("J = (x*y + z)*x", {"x": 1, "y": 2, "z": 3})
    with pytest.raises(RenderError, match="PNG frames take about a second each.*add --large"):
        run(source, Options.make(out=str(tmp_path / "s.html"), frames=str(tmp_path / "f"), frames_format="png"))
    assert not (tmp_path / "s.html").exists() and not (tmp_path / "f").exists()
