"""The terminal printer: a rich table of every node, then the inputs' gradients."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..escape import one_line
from .prose import prose
from ..graph import Graph
from fractions import Fraction

from ..numeric import fmt_uni as fmt

VALUE_STYLE = "bold cyan"
GRAD_STYLE = "bold magenta"
KIND_STYLE = {"input": "green", "const": "dim", "op": ""}
TABLE_ROWS = 400        # a bigger graph shows its first rows and its output; -o FILE.json has every node
SUMMARY_ROWS = 100


def print_table(job):
    return render_table(job.graph, job.options.digits, job.check, job.options.lang)


def render_table(graph: Graph, digits: int = 4, check=None, lang: str = "en"):
    t = prose(lang)
    out = graph.out.name
    title = Text(one_line(graph.title)) if graph.title else None
    from rich import box
    table = Table(title=title, title_style="bold", header_style="bold", show_lines=False,
                  box=box.SIMPLE_HEAD if graph.matrix else box.HEAVY_HEAD)
    keep = (lambda texts: {"no_wrap": True, "min_width": max(map(len, texts), default=1)}) if graph.matrix \
        else (lambda texts: {})
    table.add_column("#", justify="right", style="dim", **keep([str(len(graph.nodes))]))
    table.add_column(t("node"), **keep([n.name for n in graph.nodes]))
    if not graph.matrix:                    # a matrix table is wide: its formula says the op
        table.add_column(t("op"))
    table.add_column(t("formula"), **({"min_width": 10} if graph.matrix else {}))
    if graph.matrix:
        table.add_column(t("shape"), justify="right", **keep(["×".join(map(str, n.shape)) or "scalar"
                                                               for n in graph.nodes]))
    grids = {"no_wrap": True} if graph.matrix else {}       # a matrix's rows stay rows
    table.add_column(t("value"), justify="right", style=VALUE_STYLE, **grids)
    table.add_column(f"∂{out}/∂{t('node')}", justify="right", style=GRAD_STYLE, **grids)
    shown = graph.nodes if len(graph.nodes) <= TABLE_ROWS else graph.nodes[:TABLE_ROWS - 1] + [graph.out]
    for node in shown:
        if node is graph.out and len(shown) < len(graph.nodes):
            table.add_row("…", Text(t("rows_left_out", count=f"{len(graph.nodes) - len(shown):,}"), style="dim"),
                          *[""] * (len(table.columns) - 2))
        name = Text(node.name, style=KIND_STYLE[node.kind] + (" bold" if node.index == graph.output else ""))
        op = t(node.kind) if node.op is None else f"{node.symbol}  {node.op.name}"
        formula = "" if node.op is None else graph.formula(node, "uni")
        shape = (Text("×".join(map(str, node.shape)) or "scalar"),) if graph.matrix else ()
        table.add_row(str(node.index), name, *(() if graph.matrix else (Text(op),)), Text(formula), *shape,
                      Text(cell_text(node.value, digits)), Text(cell_text(node.grad, digits)))
    summary = Text()
    summary.append(f"{out} = ", style="bold")
    summary.append(cell_text(graph.out.value, digits), style=VALUE_STYLE)
    inputs = graph.inputs
    for node in inputs[:SUMMARY_ROWS]:
        summary.append("\n")
        summary.append(f"∂{out}/∂{node.name} = ")
        text = cell_text(node.grad, digits, full=True)
        summary.append(("\n" if "\n" in text else "") + text, style=GRAD_STYLE)
    if len(inputs) > SUMMARY_ROWS:
        summary.append("\n" + t("rows_left_out", count=f"{len(inputs) - SUMMARY_ROWS:,}"), style="dim")
    parts = [table, summary]
    if check is not None:
        parts.append(render_check(check, digits, lang, out))
    return Group(*parts)


GRID_CELLS = 6          # matrices up to 6×6 print in full when their rows fit GRID_WIDTH characters;
GRID_WIDTH = 22         # larger ones print as their range (the gradients of inputs print in full below)


def span(value, digits: int) -> str:
    """A matrix too wide for a cell, as its range."""
    from ..tensor import to_float
    f = to_float(value)
    return f"{fmt(float(f.min()), min(digits, 3))} … {fmt(float(f.max()), min(digits, 3))}"


def cell_text(value, digits: int, full: bool = False) -> str:
    """A number, a small vector or matrix as aligned rows, a big one as its summary; "—" for no
    value (shape-only mode)."""
    if value is None:
        return "—"
    if value.__class__ is Fraction or value.__class__ is float:
        return fmt(value, digits)
    from ..tensor import summary
    if value.ndim == 1 and value.shape[0] <= GRID_CELLS ** 2 // 2:
        rows = [[fmt(v, digits) for v in value]]
    elif value.ndim == 2 and max(value.shape) <= GRID_CELLS:
        rows = [[fmt(v, digits) for v in row] for row in value]
    else:
        return summary(value, digits)
    width = max(len(cell) for row in rows for cell in row)
    if (width + 1) * len(rows[0]) > GRID_WIDTH and not full:
        return span(value, digits)
    text = "\n".join(" ".join(cell.rjust(width) for cell in row) for row in rows)
    return f"[{text}]" if value.ndim == 1 else text


def _maybe(value) -> str:
    return "—" if value is None else fmt(value, 10)


CHECK_ROWS = 100        # a big graph's check table shows its disagreeing rows, then its first rows;
                        # -o FILE.json has every input


def render_check(report, digits: int = 4, lang: str = "en", output: str = "f"):
    t = prose(lang)
    table = Table(title=t("check_title"), header_style="bold")
    for key in ("input", "check_ours", "check_sympy", "check_fd", "check_error"):
        table.add_column(t(key), justify="right" if key != "input" else "left")
    rows = report.rows
    if len(rows) > CHECK_ROWS:          # the rows that disagree first, then the first rows, in input order
        bad = {id(r) for r in rows if not r.at_kink and r.error > report.tolerance}
        keep = bad | {id(r) for r in rows[:max(0, CHECK_ROWS - len(bad))]}
        rows = [r for r in rows if id(r) in keep][:CHECK_ROWS]
    for row in rows:
        table.add_row(row.name, fmt(row.ours, 10), _maybe(row.symbolic),
                      t("check_custom") if row.custom else _maybe(row.numeric),
                      t("check_kink") if row.at_kink else
                      f"{row.error:.1e}" if row.compared else t("check_not_compared"))
    if len(rows) < len(report.rows):
        table.add_row("…", Text(t("check_rows_left_out", count=f"{len(report.rows) - len(rows):,}"), style="dim"),
                      "", "", "")
    parts = [table]
    if report.directions:
        directions = Table(title=t("check_directions_title", seed=report.direction_seed, output=output),
                           header_style="bold")
        for key in ("check_direction", "check_ours", "check_fd", "check_scale", "check_error"):
            directions.add_column(t(key), justify="right")
        for number, d in enumerate(report.directions, 1):
            error = f"{d.error:.1e}" + (f"  {t('check_held', count=f'{d.held:,}')}" if d.held else "")
            directions.add_row(str(number), fmt(d.ours, 10), _maybe(d.numeric), fmt(d.scale, 4), error)
        parts.append(directions)
    verdict = Text(t("check_verdict", worst=f"{report.worst:.1e}", tolerance=f"{report.tolerance:.0e}",
                     verdict=t("check_agree" if report.ok else "check_disagree")),
                   style="green" if report.ok else "bold red")
    if any(row.at_kink for row in report.rows):
        verdict.append("\n" + t("check_kink_note"), style="yellow")
    if any(row.custom for row in report.rows):
        verdict.append("\n" + t("check_custom_note"), style="yellow")
    if report.sympy_skipped:
        verdict.append("\n" + t("check_sympy_skipped", why=report.sympy_skipped), style="yellow")
    if report.per_input_skipped:
        verdict.append("\n" + t("check_per_input_skipped", why=report.per_input_skipped), style="yellow")
    return Group(*parts, verdict)
