"""The Markdown printer: a note with `$…$`/`$$…$$` math and GitHub-flavoured tables, ready for
Typora, Obsidian, GitHub or any MathJax page. The only raw elements besides text are the image and
one HTML comment at the top, which says how to turn on inline math in Typora (off by default).

A table cell with a fraction is set in display style (``\\displaystyle``), as the LaTeX tables are:
inline, ``\\frac`` shrinks to the size of a subscript."""

from __future__ import annotations

from ..escape import md_fence, md_link_target, md_math_cell, md_text
from .note import Note


def print_markdown(job) -> str:
    return render_markdown(job.note, fragment=job.options.md_fragment)


def _math_cell(tex: str) -> str:
    r"""A table cell's math: ``$…$``, in display style when it holds a fraction.

    >>> print(_math_cell("t_{1}"), _math_cell("\\frac{4}{2}"))
    $t_{1}$ $\displaystyle \frac{4}{2}$
    """
    if not tex:
        return ""
    style = "\\displaystyle " if "\\frac" in tex else ""
    if "|" in tex:              # md_math_cell only rewrites bars, and few cells hold one
        tex = md_math_cell(tex)
    return f"${style}{tex}$"


def _math_row(cells) -> str:
    return "| " + " | ".join(map(_math_cell, cells)) + " |"


def _table(header: list, rows: list, align: str) -> list:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(
        " ---: " if a == "r" else " :--- " for a in align) + "|"]
    lines += map(_math_row, rows)
    return lines


def _display(lines: list) -> list:
    if len(lines) == 1:
        return ["$$", lines[0].replace("&=", "=").replace("&", ""), "$$"]
    body = " \\\\\n".join(lines)
    return ["$$", "\\begin{aligned}", body, "\\end{aligned}", "$$"]


def _code(name: str) -> str:
    fence = "``" if "`" in name else "`"
    pad = " " if "`" in name else ""
    return f"{fence}{pad}{name}{pad}{fence}"


def _legend(note: Note) -> list:
    if not note.legend:
        return []
    return ["".join(_code(s) if kind == "code" else s for kind, s in note.legend), ""]


def _finish(note: Note, out: list, fragment: bool) -> str:
    """The title, the header comment (how to see the math), the note and its footer; a fragment has
    no title and no footer."""
    header = [f"<!-- {note.text['md_header']} -->", ""]
    if fragment:
        return "\n".join(header + out[2:]).rstrip("\n") + "\n"
    return "\n".join(out[:2] + header + out[2:] + ["---", "", f"*{note.text['generated']}*", ""])


def render_markdown(note: Note, fragment: bool = False) -> str:
    """The note; with ``fragment``, without its title and footer (to paste into a larger note)."""
    if note.matrix is not None:
        return render_matrix_markdown(note, fragment)
    x = note.text
    out = _head(note)
    out += [f"**{x['at']}** " + x["list_sep"].join(f"${n} = {v}$" for n, v in note.values), ""]
    out += _figure(note)

    out += [f"## {x['forward']}", "", x["forward_intro"], ""]
    out += _table([x["node"], x["definition"], x["with_numbers"], x["value"]], note.forward, "lllr")
    out += ["", f"## {x['local']}", "", x["local_intro"], ""]
    out += _table([x["edge"], x["derivative"], x["symbolic"], x["value"]], note.local, "lllr")
    if note.conventions:
        out += [""] + [f"- {line}" for line in note.conventions]
    out += ["", f"## {x['backward']}", "", x["backward_intro"], ""]
    out += _table([x["node"], x["gradient"], x["with_numbers"], x["value"]], note.backward, "lllr")
    if note.fanout:
        out += [""] + [f"- {line}" for line in note.fanout]
    if note.combined:
        out += ["", note.combined[0], ""] + _display(note.combined[1])
    out += [""]

    if note.delta is not None:
        out += [f"## {note.delta.heading}", "", note.delta.intro, ""] + _blocks(note.delta.blocks)
    if note.chain or note.delta is None:
        out += [f"## {x['chain']}", "", x["chain_intro"], ""]
        if note.chain_note:
            out += [f"*{note.chain_note}*", ""]
        for d in note.chain:
            out += [f"### ${d.name}$", "", d.intro, ""]
            out += _display(d.lines) + [""]
            if d.closed:
                out += [d.closed_label, "", "$$", d.closed, "$$", "", d.closed_note, ""]

    if note.update:
        u = note.update
        out += [f"## {x['update']}", "", u["intro"], "", "$$", u["rule"], "$$", ""]
        out += _table([x["parameter"], x["old"], x["grad_p"], x["new"]], u["rows"], "lrrl")
        out += ["", u["after"], ""]
    return _finish(note, out, fragment)


# -- matrix form ------------------------------------------------------------------------------------

def _aligned(lines: list) -> list:
    return ["$$", "\\begin{aligned}", " \\\\\n".join(lines), "\\end{aligned}", "$$"]


def _blocks(blocks: list) -> list:
    out = []
    for block in blocks:
        if block.heading:
            out += [f"### {block.heading}", ""]
        if block.intro:
            out += [block.intro, ""]
        if block.lines:
            out += _aligned(block.lines) + [""]
        if block.notes:
            out += [f"- {line}" for line in block.notes] + [""]
    return out


def _head(note: Note) -> list:
    """Title, notation (and the names' legend), then the program: the same in both kinds of note."""
    x = note.text
    fence = md_fence(note.source)
    return ([f"# {md_text(note.title)}", "", x["notation"], ""] + _legend(note)
            + [f"**{x['program']}**", "", f"{fence}{note.source_lang}", note.source, fence, ""])


def _figure(note: Note) -> list:
    x = note.text
    if note.figure.reason == "shown_above":       # bpviz md and notebooks put the figure right above
        return []
    if note.figure.link:
        return [f"![{md_text(x['figure_alt'])}]({md_link_target(note.figure.link)})", "",
                f"*{x['figure_caption']}*", ""]
    return [f"*{x['figure_left_out']}*", ""]


def render_matrix_markdown(note: Note, fragment: bool = False) -> str:
    """A matrix program's note: shapes, forward and backward pass in matrix form, entries, the step."""
    m = note.matrix
    mx = m.text
    out = _head(note)
    if m.inputs:
        out += [f"**{mx['values']}**", ""] + _aligned(m.inputs) + [""]
    else:
        out += [f"*{mx['values']}*", ""]
    out += _figure(note)

    out += [f"## {mx['shapes']}", "", mx["shapes_intro"], "",
            f"| {mx['symbol']} | {mx['shape']} | {mx['role']} |", "| :--- | :--- | :--- |"]
    for symbol, shape, role in m.shapes:
        shown = f"${md_math_cell(shape)}$" if shape else md_text(mx["scalar"])
        out.append(f"| ${md_math_cell(symbol)}$ | {shown} | {md_text(role)} |")
    out += [""]
    if mx["roles"]:
        out += [mx["roles"], ""]

    out += [f"## {mx['forward_matrix']}", "", mx["forward_intro"], ""] + _blocks(m.forward)
    out += [f"## {mx['backward_matrix']}", ""]
    if note.chain_note:
        out += [f"*{note.chain_note}*", ""]
    out += [mx["backward_intro"], ""] + _blocks(m.backward)
    if m.identities:
        out += [f"## {mx['identities']}", ""] + _blocks(m.identities)
    if m.readings:
        out += [f"## {mx['readings']}", "", mx["readings_intro"], ""] + _blocks(m.readings)
    if m.update:
        u = m.update
        out += [f"## {mx['update']}", "", u["intro"], "", "$$", u["rule"], "$$", ""] + _blocks(u["blocks"])
        out += [u["after"], ""]
    return _finish(note, out, fragment)
