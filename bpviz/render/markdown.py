"""The Markdown printer: a note with `$…$`/`$$…$$` math and GitHub-flavoured tables, ready for
Typora, Obsidian, GitHub or any MathJax page. The only raw element besides text is the image."""

from __future__ import annotations

from ..escape import md_fence, md_link_target, md_math_cell, md_text
from .note import Note


def print_markdown(job) -> str:
    return render_markdown(job.note, fragment=job.options.md_fragment)


def _math_row(cells: list) -> str:
    shown = [f"${md_math_cell(c)}$" if c else "" for c in cells]
    return "| " + " | ".join(shown) + " |"


def _table(header: list, rows: list, align: str) -> list:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(
        " ---: " if a == "r" else " :--- " for a in align) + "|"]
    lines += [_math_row(list(row)) for row in rows]
    return lines


def _display(lines: list) -> list:
    if len(lines) == 1:
        return ["$$", lines[0].replace("&=", "=").replace("&", ""), "$$"]
    body = " \\\\\n".join(lines)
    return ["$$", "\\begin{aligned}", body, "\\end{aligned}", "$$"]


def render_markdown(note: Note, fragment: bool = False) -> str:
    """The note; with ``fragment``, without its title and footer (to paste into a larger note)."""
    if note.matrix is not None:
        return render_matrix_markdown(note, fragment)
    x = note.text
    fence = md_fence(note.source)
    out = [f"# {md_text(note.title)}", "", f"**{x['program']}**", "", f"{fence}{note.source_lang}", note.source,
           fence, "", f"**{x['at']}** " + ", ".join(f"${n} = {v}$" for n, v in note.values), ""]
    if note.figure.link:
        out += [f"![{md_text(x['figure_alt'])}]({md_link_target(note.figure.link)})", "", f"*{x['figure_caption']}*", ""]
    else:
        out += [f"*{x['figure_left_out']}*", ""]

    out += [f"## {x['forward']}", "", x["forward_intro"], ""]
    out += _table([x["node"], x["definition"], x["with_numbers"], x["value"]], note.forward, "lllr")
    out += ["", f"## {x['local']}", "", x["local_intro"], ""]
    out += _table([x["edge"], x["derivative"], x["symbolic"], x["value"]], note.local, "lllr")
    out += ["", f"## {x['backward']}", "", x["backward_intro"], ""]
    out += _table([x["node"], x["gradient"], x["with_numbers"], x["value"]], note.backward, "lllr")
    if note.fanout:
        out += [""] + [f"- {line}" for line in note.fanout]
    if note.combined:
        out += ["", note.combined[0], ""] + _display(note.combined[1])

    out += ["", f"## {x['chain']}", "", x["chain_intro"], ""]
    if note.chain_note:
        out += [f"*{note.chain_note}*", ""]
    for d in note.chain:
        out += [f"### $\\partial {x['output_tex']} / \\partial {d.name}$", "", d.intro, ""]
        out += _display(d.lines) + [""]
        if d.closed:
            out += [d.closed_label, "", "$$", d.closed, "$$", "", d.closed_note, ""]

    if note.update:
        u = note.update
        out += [f"## {x['update']}", "", u["intro"], "", "$$", u["rule"], "$$", ""]
        out += _table([x["parameter"], x["old"], f"$\\partial {x['output_tex']} / \\partial p$", x["new"]], u["rows"], "lrrl")
        out += ["", u["after"], ""]
    if fragment:
        return "\n".join(out[2:]).rstrip("\n") + "\n"
    out += ["---", "", f"*{x['generated']}*", ""]
    return "\n".join(out)


# -- matrix form ------------------------------------------------------------------------------------

def _aligned(lines: list) -> list:
    return ["$$", "\\begin{aligned}", " \\\\\n".join(lines), "\\end{aligned}", "$$"]


def _blocks(blocks: list) -> list:
    out = []
    for block in blocks:
        if block.intro:
            out += [block.intro, ""]
        if block.lines:
            out += _aligned(block.lines) + [""]
        if block.notes:
            out += [f"- {line}" for line in block.notes] + [""]
    return out


def _head(note: Note) -> list:
    """Title, program and figure: the same in both kinds of note."""
    x = note.text
    fence = md_fence(note.source)
    return [f"# {md_text(note.title)}", "", f"**{x['program']}**", "", f"{fence}{note.source_lang}", note.source,
            fence, ""]


def _figure(note: Note) -> list:
    x = note.text
    if note.figure.link:
        return [f"![{md_text(x['figure_alt'])}]({md_link_target(note.figure.link)})", "",
                f"*{x['figure_caption']}*", ""]
    return [f"*{x['figure_left_out']}*", ""]


def render_matrix_markdown(note: Note, fragment: bool = False) -> str:
    """A matrix program's note: shapes, forward and backward pass in matrix form, entries, the step."""
    m, x = note.matrix, note.text
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
    out += ["", mx["notation"], ""]
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
    if fragment:
        return "\n".join(out[2:]).rstrip("\n") + "\n"
    out += ["---", "", f"*{x['generated']}*", ""]
    return "\n".join(out)
