"""The LaTeX printer: the note as a document that compiles with pdflatex (amsmath, derivations
in ``align*``, tables as ``longtable`` so they break across pages), or as a fragment to ``\\input``."""

from __future__ import annotations

import re
from typing import Optional

from ..errors import OutputError
from ..escape import GREEK_LETTERS, one_line, tex_code, tex_path, tex_prose, tex_text
from .note import Note


def print_latex(job) -> str:
    for node in job.graph.nodes:
        if node.name.isascii():         # the common case, checked at C speed
            continue
        odd = next((c for c in node.name if not _typesets(c, job.note.lang)), None)
        if odd is not None:
            raise OutputError(f"pdflatex cannot typeset {odd!r} in the name {node.name!r}: use ASCII or Greek "
                              f"names for a LaTeX note, or write Markdown (-o FILE.md)")
    return render_latex(job.note, fragment=job.options.tex_fragment)


def _typesets(c: str, lang: str) -> bool:
    """A name's character that the LaTeX document can set: ASCII, Greek, and Chinese in a zh note."""
    return c.isascii() or c in GREEK_LETTERS or (lang == "zh" and "\u4e00" <= c <= "\u9fff")

PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[utf8]{inputenc}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{array,longtable}
\usepackage[margin=2.2cm]{geometry}
"""
CJK_PACKAGE = "\\usepackage{CJKutf8}\n"
CJK_BEGIN, CJK_END = "\\begin{CJK}{UTF8}{gbsn}\n", "\\end{CJK}\n"

COLUMNS = (r">{\raggedright\arraybackslash}p{0.12\linewidth}"
           r">{\raggedright\arraybackslash}p{0.36\linewidth}"
           r">{\raggedright\arraybackslash}p{0.30\linewidth}"
           r">{\raggedleft\arraybackslash}p{0.10\linewidth}")
UPDATE_COLUMNS = (r">{\raggedright\arraybackslash}p{0.14\linewidth}"
                  r">{\raggedleft\arraybackslash}p{0.14\linewidth}"
                  r">{\raggedleft\arraybackslash}p{0.14\linewidth}"
                  r">{\raggedright\arraybackslash}p{0.46\linewidth}")


def _table(header: list, rows: list, columns: str = COLUMNS) -> list:
    head = " & ".join(f"\\textbf{{{tex_prose(h)}}}" for h in header) + " \\\\ \\hline"
    lines = ["{\\renewcommand{\\arraystretch}{2.3}", f"\\begin{{longtable}}{{{columns}}}", head,
             "\\endhead"]
    lines += [" & ".join([f"$\\displaystyle {c}$" if c else "" for c in row]) + " \\\\" for row in rows]
    lines.append("\\end{longtable}}")
    return lines


def _legend(note: Note) -> list:
    if not note.legend:
        return []
    return ["\\noindent " + "".join(f"\\texttt{{{tex_code(s)}}}" if kind == "code" else tex_prose(s)
                                     for kind, s in note.legend), ""]


def _opening(note: Note, title: str) -> list:
    """Title, notation (and the names' legend), then the program: the same in both kinds of note."""
    x = note.text
    body = [f"\\section*{{{title}}}", "", "\\noindent " + tex_prose(x["notation"]), ""] + _legend(note)
    body += [f"\\subsection*{{{tex_prose(x['program'])}}}", "\\begin{quote}"]
    body += [f"\\texttt{{{_listing(line) or '~'}}}\\\\" for line in note.source.splitlines()]
    return body + ["\\end{quote}", ""]


_KEPT_SPACE = re.compile(r"(?:^|(?<= )) ")


def _listing(line: str) -> str:
    """A program line for ``\\texttt``, its indentation and runs of spaces kept (TeX would fold them
    into one, and a spec's nested keys would read as top-level ones): each space after the first of
    a run, and a line's first, is a tie; an empty box (\\null) before a line's indentation keeps TeX
    from dropping it as the glue after a line break."""
    text = _KEPT_SPACE.sub("~", tex_code(line))
    return "\\null" + text if text.startswith("~") else text


def _figure(figure_file: Optional[str], x) -> list:
    """The figure, centred under its caption, or the sentence saying why it was left out."""
    if not figure_file:
        return [f"\\noindent\\textit{{{tex_prose(x['figure_left_out'])}}}", ""]
    return ["\\begin{center}",
            f"\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]{{{figure_file}}}",
            "", f"{{\\small {tex_prose(x['figure_caption'])}}}", "\\end{center}", ""]


def render_latex(note: Note, fragment: bool = False, figure_file: Optional[str] = None) -> str:
    """The document (or, with ``fragment``, its body only). ``figure_file`` is a PNG beside it."""
    x = note.text
    figure_file = _figure_file(note, figure_file)
    title = tex_text(one_line(note.title))
    if note.matrix is not None:
        return _document(note, title, _matrix_body(note, title, figure_file), fragment)
    body = _opening(note, title)
    body += [f"\\noindent\\textbf{{{tex_prose(x['at'])}}} "
             + tex_prose(x["list_sep"]).join(f"${n} = {v}$" for n, v in note.values), ""]
    body += _figure(figure_file, x)

    body += [f"\\subsection*{{{tex_prose(x['forward'])}}}", tex_prose(x["forward_intro"]), ""]
    body += _table([x["node"], x["definition"], x["with_numbers"], x["value"]], note.forward)
    body += ["", f"\\subsection*{{{tex_prose(x['local'])}}}", tex_prose(x["local_intro"]), ""]
    body += _table([x["edge"], x["derivative"], x["symbolic"], x["value"]], note.local)
    if note.conventions:
        body += ["\\begin{itemize}"] + [f"\\item {tex_prose(line)}" for line in note.conventions]
        body += ["\\end{itemize}"]
    body += ["", f"\\subsection*{{{tex_prose(x['backward'])}}}", tex_prose(x["backward_intro"]), ""]
    body += _table([x["node"], x["gradient"], x["with_numbers"], x["value"]], note.backward)
    if note.fanout:
        body += ["\\begin{itemize}"] + [f"\\item {tex_prose(line)}" for line in note.fanout]
        body += ["\\end{itemize}"]
    if note.combined:
        body += [tex_prose(note.combined[0]), "\\begin{align*}", " \\\\\n".join(note.combined[1]),
                 "\\end{align*}"]

    if note.delta is not None:
        body += ["", f"\\subsection*{{{tex_prose(note.delta.heading)}}}", tex_prose(note.delta.intro), ""]
        body += _blocks(note.delta.blocks)
    if note.chain or note.delta is None:
        body += ["", f"\\subsection*{{{tex_prose(x['chain'])}}}", tex_prose(x["chain_intro"]), ""]
        if note.chain_note:
            body += [f"\\textit{{{tex_prose(note.chain_note)}}}", ""]
        for d in note.chain:
            body += [f"\\paragraph{{${d.name}$}}", tex_prose(d.intro),
                     "\\begin{align*}", " \\\\\n".join(d.lines), "\\end{align*}"]
            if d.closed:
                body += [tex_prose(d.closed_label), "\\[", d.closed, "\\]", tex_prose(d.closed_note), ""]

    if note.update:
        u = note.update
        body += [f"\\subsection*{{{tex_prose(x['update'])}}}", tex_prose(u["intro"]), "\\[", u["rule"],
                 "\\]"]
        header = [x["parameter"], x["old"], x["grad_p"], x["new"]]
        body += _table(header, u["rows"], UPDATE_COLUMNS)
        body += [tex_prose(u["after"]), ""]
    body += ["\\vfill", f"{{\\footnotesize {tex_prose(x['generated'])}}}", ""]
    return _document(note, title, body, fragment)


def _figure_file(note: Note, figure_file: Optional[str]) -> Optional[str]:
    if figure_file is None and note.figure.link and not note.figure.link.startswith("data:"):
        figure_file = note.figure.link
    if figure_file:
        try:
            figure_file = tex_path(figure_file)
        except ValueError as exc:
            raise OutputError(f"{exc}; rename the output, or leave the figure out with --no-figure") from None
    return figure_file


def _document(note: Note, title: str, body: list, fragment: bool) -> str:
    text = "\n".join(body)
    if fragment:
        return f"% {title}: generated by bpviz; \\input{{}} it into a document that loads\n" \
               f"% amsmath, amssymb, graphicx, array and longtable.\n" + text
    cjk = note.lang == "zh"
    return "".join([PREAMBLE, CJK_PACKAGE if cjk else "", "\\allowdisplaybreaks\n\n\\begin{document}\n",
                    CJK_BEGIN if cjk else "", text, CJK_END if cjk else "", "\\end{document}\n"])


# -- matrix form ------------------------------------------------------------------------------------

SHAPE_COLUMNS = (r">{\raggedright\arraybackslash}p{0.18\linewidth}"
                 r">{\raggedright\arraybackslash}p{0.22\linewidth}"
                 r">{\raggedright\arraybackslash}p{0.40\linewidth}")


def _align(lines: list) -> list:
    return ["\\begin{align*}", " \\\\\n".join(lines), "\\end{align*}"]


def _blocks(blocks: list) -> list:
    out = []
    for block in blocks:
        if block.heading:
            out += [f"\\subsubsection*{{{tex_prose(block.heading)}}}"]
        if block.intro:
            out += [tex_prose(block.intro)]
        if block.lines:
            out += _align(block.lines)
        if block.notes:
            out += ["\\begin{itemize}"] + [f"\\item {tex_prose(line)}" for line in block.notes] + ["\\end{itemize}"]
        out += [""]
    return out


def _matrix_body(note: Note, title: str, figure_file: Optional[str]) -> list:
    """A matrix program's note: shapes, forward and backward pass in matrix form, entries, the step."""
    m, x = note.matrix, note.text
    mx = m.text
    body = _opening(note, title)
    if m.inputs:
        body += [f"\\noindent\\textbf{{{tex_prose(mx['values'])}}}"] + _align(m.inputs) + [""]
    else:
        body += [f"\\noindent\\textit{{{tex_prose(mx['values'])}}}", ""]
    body += _figure(figure_file, x)

    body += [f"\\subsection*{{{tex_prose(mx['shapes'])}}}", tex_prose(mx["shapes_intro"]), "",
             f"\\begin{{longtable}}{{{SHAPE_COLUMNS}}}",
             " & ".join(f"\\textbf{{{tex_prose(h)}}}" for h in (mx["symbol"], mx["shape"], mx["role"]))
             + " \\\\ \\hline", "\\endhead"]
    for symbol, shape, role in m.shapes:
        shown = f"${shape}$" if shape else tex_prose(mx["scalar"])
        body.append(f"${symbol}$ & {shown} & {tex_prose(role)} \\\\")
    body += ["\\end{longtable}", ""]
    if mx["roles"]:
        body += [tex_prose(mx["roles"]), ""]

    body += [f"\\subsection*{{{tex_prose(mx['forward_matrix'])}}}", tex_prose(mx["forward_intro"]), ""]
    body += _blocks(m.forward)
    body += [f"\\subsection*{{{tex_prose(mx['backward_matrix'])}}}"]
    if note.chain_note:
        body += [f"\\textit{{{tex_prose(note.chain_note)}}}", ""]
    body += [tex_prose(mx["backward_intro"]), ""] + _blocks(m.backward)
    if m.identities:
        body += [f"\\subsection*{{{tex_prose(mx['identities'])}}}"] + _blocks(m.identities)
    if m.readings:
        body += [f"\\subsection*{{{tex_prose(mx['readings'])}}}", tex_prose(mx["readings_intro"]), ""]
        body += _blocks(m.readings)
    if m.update:
        u = m.update
        body += [f"\\subsection*{{{tex_prose(mx['update'])}}}", tex_prose(u["intro"]), "\\[", u["rule"], "\\]"]
        body += _blocks(u["blocks"]) + [tex_prose(u["after"]), ""]
    body += ["\\vfill", f"{{\\footnotesize {tex_prose(x['generated'])}}}", ""]
    return body
