"""The terminal printer: a rich table of every node, then the inputs' gradients."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..escape import one_line
from ..graph import Graph
from ..numeric import fmt

VALUE_STYLE = "bold cyan"
GRAD_STYLE = "bold magenta"
KIND_STYLE = {"input": "green", "const": "dim", "op": ""}


def print_table(job):
    return render_table(job.graph, job.options.digits, job.check)


def render_table(graph: Graph, digits: int = 4, check=None):
    out = graph.out.name
    title = Text(one_line(graph.title)) if graph.title else None
    table = Table(title=title, title_style="bold", header_style="bold", show_lines=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("node")
    table.add_column("op")
    table.add_column("formula")
    table.add_column("value", justify="right", style=VALUE_STYLE)
    table.add_column(f"∂{out}/∂node", justify="right", style=GRAD_STYLE)
    for node in graph.nodes:
        name = Text(node.name, style=KIND_STYLE[node.kind] + (" bold" if node.index == graph.output else ""))
        op = node.kind if node.op is None else f"{node.symbol}  {node.op.name}"
        formula = "" if node.op is None else graph.formula(node, "uni")
        table.add_row(str(node.index), name, Text(op), Text(formula),
                      Text(fmt(node.value, digits)), Text(fmt(node.grad, digits)))
    summary = Text()
    summary.append(f"{out} = ", style="bold")
    summary.append(fmt(graph.out.value, digits), style=VALUE_STYLE)
    for node in graph.inputs:
        summary.append("\n")
        summary.append(f"∂{out}/∂{node.name} = ")
        summary.append(fmt(node.grad, digits), style=GRAD_STYLE)
    parts = [table, summary]
    if check is not None:
        parts.append(render_check(check, digits))
    return Group(*parts)


def _maybe(value) -> str:
    return "—" if value is None else fmt(value, 10)


def render_check(report, digits: int = 4):
    table = Table(title="gradient check", header_style="bold")
    for column in ("input", "bpviz", "sympy diff", "finite diff", "rel. error"):
        table.add_column(column, justify="right" if column != "input" else "left")
    for row in report.rows:
        table.add_row(row.name, fmt(row.ours, 10), _maybe(row.symbolic), _maybe(row.numeric),
                      "at a kink" if row.at_kink else f"{row.error:.1e}")
    verdict = Text(f"largest disagreement {report.worst:.1e} (tolerance {report.tolerance:.0e}): "
                   + ("agree" if report.ok else "DISAGREE"),
                   style="green" if report.ok else "bold red")
    if any(row.at_kink for row in report.rows):
        verdict.append("\nat a kink (relu or abs at 0, a power's exponent at a negative base) the gradient is a "
                       "convention; those rows are not compared",
                       style="yellow")
    if report.sympy_skipped:
        verdict.append(f"\nsympy: skipped, {report.sympy_skipped}", style="yellow")
    return Group(table, verdict)
