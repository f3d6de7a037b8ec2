"""Part of `make bench`: time of a Markdown and a LaTeX note (no figure) on the generated programs,
and of building a network spec, so that notes on long programs stay interactive."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_bench import BIN, _measure, network, width_for  # noqa: E402
from run import program  # noqa: E402

from bpviz.api import Options, build_expression, build_spec, exact_values, note_for  # noqa: E402
from bpviz.render.json_out import render_json  # noqa: E402
from bpviz.render.latex import render_latex  # noqa: E402
from bpviz.render.markdown import render_markdown  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    print("\nnotes (Markdown and LaTeX, chain rule for every input, no figure)")
    print(f"{'program':>8} {'nodes':>7} {'json':>8} {'note model':>11} {'markdown':>9} {'latex':>8} {'md size':>9} "
          f"{'md/json':>8} {'tex/json':>9}  (in process; the target is on whole processes, below)")
    programs = [(f"{size // 1000}k", program(size)) for size in (1000, 5000, 20000)]
    programs.append(("mlp 20k", network(width_for(20000))))      # engine_bench.py's relu MLP (issue 14)
    for name, (text, raw) in programs:
        graph = build_expression(text, exact_values(raw))
        _, t_json = timed(lambda: render_json(graph))
        note, t_note = timed(lambda: note_for(graph, Options()))
        md, t_md = timed(lambda: render_markdown(note))
        _, t_tex = timed(lambda: render_latex(note))
        print(f"{name:>8} {len(graph.nodes):>7} {t_json:>7.3f}s {t_note:>10.3f}s {t_md:>8.3f}s {t_tex:>7.3f}s "
              f"{len(md) / 1e6:>7.1f}MB {(t_note + t_md) / t_json:>8.1f} {(t_note + t_tex) / t_json:>9.1f}")
    whole_process(network(width_for(20000)))
    print("\nnetwork specs (YAML -> graph -> values and gradients)")
    for name, group in (("two-layer", False), ("wide", False), ("wide", True)):
        text = (ROOT / "examples" / f"{name}.yaml").read_text()
        graph, t = timed(lambda: build_spec(text, name, group=group))
        view = "--group neurons" if group else "expanded"
        print(f"  {name + '.yaml':<16} {view:<16} {len(graph.nodes):>5} nodes {t:>7.3f}s")


def whole_process(mlp: tuple, runs: int = 5) -> None:
    """The target as a user meets it: `bpviz expr - --values v.json -o x.md --no-figure` (and .tex)
    against the same job with -o x.json, whole processes, medians of interleaved runs. In process, the
    rows above leave out parsing and evaluating, which both jobs share."""
    import json
    import statistics
    import tempfile
    text, raw = mlp
    tmp = Path(tempfile.mkdtemp(prefix="bpviz-notes-"))
    (tmp / "v.json").write_text(json.dumps(raw))
    jobs = {ext: [str(BIN / "bpviz"), "expr", "-", "--values", str(tmp / "v.json"), "-o", str(tmp / f"x.{ext}")]
            + (["--no-figure"] if ext != "json" else []) for ext in ("json", "md", "tex")}
    times: dict = {ext: [] for ext in jobs}
    for _ in range(runs + 1):                   # the first round warms the file cache
        for ext, cmd in jobs.items():
            times[ext].append(_measure(cmd, text)[0])
    med = {ext: statistics.median(t[1:]) for ext, t in times.items()}
    print(f"whole process, mlp 20k ({runs} interleaved runs): json {med['json']:.3f}s, "
          f".md {med['md']:.3f}s ({med['md'] / med['json']:.2f}x), .tex {med['tex']:.3f}s "
          f"({med['tex'] / med['json']:.2f}x)  target <= 2x")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
