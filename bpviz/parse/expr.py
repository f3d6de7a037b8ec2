"""Expression programs -> Graph, by walking Python's ``ast`` against an allow-list (never eval).

A program is assignments separated by ``;`` or newlines (``c = w*x; J = c**2``), or one bare
expression (its output is named ``f``). Assignments may come in any order; the graph keeps the
user's names, operand order and operators. The output is ``--output`` or else the last
assignment that no other one uses.
"""

from __future__ import annotations

import ast
import keyword
from bisect import bisect_left
from itertools import accumulate
import re
import difflib
import sys
from contextlib import contextmanager
from fractions import Fraction
from typing import Optional

from ..errors import ParseError, ProgramError, clip, name_list
from ..escape import CONTROL_CHARS
from ..graph import Graph, GraphBuilder, Surrogate, gc_paused
from ..numeric import MAX_EXACT_DIGITS, NumberRangeError, check_exact, const_name, parse_number
from ..ops import FUNCTIONS, OPS, RESERVED

_NAME, _BINOP, _CONSTANT = ast.Name, ast.BinOp, ast.Constant     # most of a big program (_expr)
BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
          ast.MatMult: "matmul"}
REFUSED = {
    ast.Subscript: "subscripts are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed",
    ast.Starred: "starred expressions are not allowed",
    ast.NamedExpr: "':=' is not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
}
OPERATOR_HINTS = {ast.BitXor: "'^' is not a power here: write '**'", ast.FloorDiv: "'//' is not allowed: write '/'",
                  ast.Mod: "'%' is not allowed"}
_FUNCTION_NAMES = frozenset(FUNCTIONS)   # FUNCTIONS in a set: every distinct name is looked up (_check_name)
DEFAULT_OUTPUT = "f"
MAX_PROGRAM_BYTES = 4_000_000
TEXT_LIMIT = 160            # a node keeps its source text for messages up to this length
# control characters (tab and newline aside), other line separators, and the bidirectional
# overrides that make a program display differently from what it is ("Trojan source")
_CONTROL = re.compile(f"[{CONTROL_CHARS}\u2028\u2029]")
_PIECE_CHARS = 16_384          # a big program is parsed in pieces of about this many characters (_statements)
RECURSION_LIMIT = 20_000      # a long sum such as w1*x1 + ... + w5000*x5000 nests 5,000 deep
MAX_RULE_NODES = 200          # nodes of one custom-gradient rule (@grad(...), --grad, a spec's gradients:)
ESTIMATORS = {"ste": "1", "ste-clip": "step(1 - abs(u))"}   # --grad OP=NAME: the rule, in the operand u
GRAD_HINT = "write it at the end of an assignment whose right side is one call, e.g. y = sign(u) @grad(1)"


@contextmanager
def _deep_recursion():
    """Raise Python's recursion limit for one parse, then put it back (the walk recurses once per
    nesting level of the program)."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


_OPERATORS = {"·": "*", "×": "*", "⋅": "*", "∗": "*", "−": "-", "÷": "/", "\ufeff": ""}
_FULLWIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}     # ；（）＊＋ … → ASCII
_SUPERSCRIPT = re.compile("[⁺⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_STACKED = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹]\\s*(\\*\\*|\\^|[⁺⁻])")
_SUPER_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")


def ascii_operators(source: str) -> str:
    """What bpviz prints, read back: ``w·x``, ``a − y``, ``x²``, ``5.93×10⁻⁶``, fullwidth ``；（）＊＋``
    and a byte-order mark become their ASCII meaning. Done before Python folds identifiers (NFKC),
    which would read ``x²`` as the name ``x2``.

    >>> ascii_operators("J = w·x − y²; k = 5.93×10⁻⁶ ＋ （a）")
    'J = w*x - y**2; k = 5.93*10**-6 + (a)'
    """
    if source.isascii():
        return source
    stacked = _STACKED.search(source)
    if stacked:
        raise ParseError(f"{stacked.group().strip()!r}: a superscript power followed by another power is "
                         f"ambiguous; write it with parentheses, e.g. (x²)**3, or as one power")
    source = _SUPERSCRIPT.sub(lambda m: "**" + m.group().translate(_SUPER_DIGITS), source)
    return "".join(_OPERATORS.get(c) if c in _OPERATORS else _FULLWIDTH.get(c, c) for c in source)


def parse_program(source: str, output: Optional[str] = None, grads: Optional[dict] = None) -> Graph:
    """Parse a program into a Graph (values not yet computed); ``grads`` maps an op's name to a named
    estimator (``ste``, ``ste-clip``) or a rule in its operand ``u``, for every call of that op."""
    if output is not None and not isinstance(output, str):
        raise ProgramError(f"--output takes a node's name, not {output!r}")
    with gc_paused():                       # a big program's nodes pile up; see gc_paused
        graph = _Parser(source).build(output)
    if grads:
        apply_estimators(graph, grads)
    return graph


def estimator_rule(opname: str, rule: str) -> Surrogate:
    """The Surrogate of ``--grad OP=RULE``: a named estimator or an expression in the operand ``u``;
    a ParseError (or ProgramError) says what is wrong."""
    if not isinstance(opname, str) or opname not in FUNCTIONS or OPS[opname].structural:
        elementwise = [n for n in FUNCTIONS if not OPS[n].structural]
        known = ", ".join(elementwise)
        if isinstance(opname, str) and opname in FUNCTIONS:
            raise ProgramError(f"--grad {opname}=…: {opname}() works on whole matrices, and custom gradients "
                               f"replace the derivative of an element-wise function ({known})")
        hint = difflib.get_close_matches(str(opname), elementwise, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else f" (known: {known})"
        raise ProgramError(f"--grad {opname}=…: {opname!r} is not a function{extra}")
    if not isinstance(rule, str) or not rule.strip():
        raise ProgramError(f"--grad {opname}=…: give ste, ste-clip or a rule in u, e.g. step(1 - abs(u))")
    named = rule.strip().lower()
    text = ESTIMATORS.get(named, rule.strip())
    parser = _Parser(text)
    try:
        with _deep_recursion():
            body = parser._statements()
            if len(body) != 1 or not isinstance(body[0], ast.Expr):
                raise ParseError(f"the rule must be one expression in u (the operand of {opname}), e.g. "
                                 f"step(1 - abs(u))", source=text, line=1, column=1)
            return parser.rule(body[0].value, {"u": 0}, opname, estimator=named if named in ESTIMATORS else None)
    except RecursionError:
        raise ParseError(f"the rule is nested more than {RECURSION_LIMIT} levels deep") from None


def apply_estimators(graph: Graph, grads: dict) -> None:
    """Give every call of each op in ``grads`` (op name -> estimator or rule) that has no custom
    gradient of its own the estimator's, for its first operand."""
    rules = {op: estimator_rule(op, rule) for op, rule in grads.items()}
    for node in graph.nodes:
        if node.op is not None and node.op.name in rules and not node.custom:
            node.custom = (rules[node.op.name],) + (None,) * (len(node.inputs) - 1)


class _Parser:
    def __init__(self, source: str):
        if not isinstance(source, str):
            raise ParseError(f"the program must be text, not {type(source).__name__}")
        # one line break, as Python's tokenizer sees it: a lone \r would end a line for
        # str.splitlines() but not for the tokenizer, and the positions (and names) would disagree
        source = source.replace("\r\n", "\n").replace("\r", "\n")
        self.original = source                      # shown in notes as the user wrote it
        source = ascii_operators(source)
        self.source = source
        self.lines = source.splitlines()
        self._ascii = source.isascii()
        self._multiline = len(self.lines) > 1   # then a place is "line L, column C", else "column C"
        self.referenced: set = set()            # every name an expression uses (so checked: _expr)
        # the lines as the syntax tree's offsets count them, in UTF-8 bytes; an ASCII program's own
        # lines (one byte per character), so that a node's text needs no decoding (_segment)
        self._rows = source.split("\n") if self._ascii else \
            [line.encode("utf-8", "surrogatepass") for line in source.split("\n")]
        self.builder = GraphBuilder()
        self.built: dict = {}                   # an assigned name -> its node, once made
        self._nodes: dict = {}                  # any name -> its node, once made (inputs too)
        self.visiting: list = []
        self._last_key, self._last_place = None, None     # _located's last (lineno, col_offset), answer
        self._starts: dict = {}                 # line -> _char_starts(line)
        self._rule_names: Optional[dict] = None   # inside a @grad rule: the operands' names it may use

    # -- positions --------------------------------------------------------------------------
    def _column(self, node: ast.AST) -> tuple:
        return self._column_at(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def _column_at(self, line: int, byte_col: int) -> tuple:
        """(line, column) of a syntax tree's (lineno, col_offset): the column counts characters."""
        if self._ascii and 0 < line <= len(self.lines):     # one byte per character
            return line, min(byte_col, len(self.lines[line - 1])) + 1
        return line, bisect_left(self._char_starts(line), byte_col) + 1

    def _char_starts(self, line: int) -> list:
        """Where each character of a line starts, in UTF-8 bytes (the syntax tree's offsets), worked
        out once per line: a long non-ASCII line has a node at every term."""
        starts = self._starts.get(line)
        if starts is None:
            text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
            starts = self._starts[line] = list(accumulate((len(c.encode("utf-8", "surrogatepass")) for c in text),
                                                          initial=0))[:-1]
        return starts

    def _segment(self, node: ast.AST, limit: Optional[int] = None) -> Optional[str]:
        """The source text of a node (ast.get_source_segment re-splits the source each call); None
        past ``limit`` characters (every partial sum of a long line would keep its own copy)."""
        try:
            first, last = node.lineno - 1, node.end_lineno - 1
            start, end = node.col_offset, node.end_col_offset
            if limit is not None and (first != last or end - start > limit):
                return None
            rows = self._rows
            if first == last:
                text = rows[first][start:end]
            else:
                text = ("\n" if self._ascii else b"\n").join([rows[first][start:]] + rows[first + 1:last]
                                                             + [rows[last][:end]])
            return text if self._ascii else text.decode()
        except (AttributeError, IndexError, TypeError, UnicodeDecodeError):
            return None

    def _where(self, node: ast.AST) -> str:
        return self._located(node)[0]

    def _located(self, node: ast.AST) -> tuple:
        """Where a node is: (text for messages, (line, column) for a caret); shared by the nodes that
        start at the same place, which the walk meets one after another (every partial sum of a long
        sum starts at its first term, and the walk goes down its left side): so only the last answer
        is kept, not a table of every place of a big program. A tuple rather than a dict to pass as
        **keywords: unpacking one costs more than the builder's call."""
        key = (node.lineno, node.col_offset)       # every node walked has them (_column: any node)
        if key == self._last_key:
            return self._last_place
        line, col = self._column_at(*key)
        where = f"line {line}, column {col}" if self._multiline else f"column {col}"
        self._last_key, self._last_place = key, (where, (line, col))
        return self._last_place

    def error(self, node: ast.AST, message: str) -> ParseError:
        line, col = self._column(node)
        if _is_grad(node) and col > 1 and self.lines[line - 1][col - 2:col - 1] == "@":
            col -= 1                                # the caret under the '@' of @grad(...)
        return ParseError(message, source=self.source, line=line, column=col)

    # -- statements -------------------------------------------------------------------------
    def build(self, output: Optional[str]) -> Graph:
        if not self.source.strip():
            raise ParseError("the program is empty")
        if len(self.source) > MAX_PROGRAM_BYTES:
            raise ParseError(f"the program is longer than {MAX_PROGRAM_BYTES / 1e6:g} MB")
        bad = _CONTROL.search(self.source)
        if bad:
            line = self.source.count("\n", 0, bad.start()) + 1
            column = bad.start() - (self.source.rfind("\n", 0, bad.start()) + 1) + 1
            raise ParseError(f"the character U+{ord(bad.group()):04X} is not allowed in a program",
                             source=self.source, line=line, column=column)
        try:
            with _deep_recursion():
                return self._build(output)
        except RecursionError:
            raise ParseError(f"the program is nested more than {RECURSION_LIMIT} levels deep") from None

    def _build(self, output: Optional[str]) -> Graph:
        body = self._statements()
        if not body:
            raise ParseError("the program is empty (only comments)")
        self.assignments: dict = {}
        order = []
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.Assign):
                if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                    raise self.error(stmt, "each assignment needs exactly one name on the left")
                name = stmt.targets[0].id
                self._check_name(stmt.targets[0], name)
                if name in self.assignments:
                    first = self._where(self.assignments[name])
                    raise ProgramError(f"{name!r} is assigned twice (first at {first}, again at "
                                       f"{self._where(stmt.targets[0])}); give each value its own name")
                self.assignments[name] = stmt.targets[0]
                self.assignments[name].expr = stmt.value
                order.append(name)
            elif isinstance(stmt, ast.Expr):
                if i != len(body) - 1:
                    raise self.error(stmt, "only the last line may be a bare expression; "
                                           "name the others with '='")
                if DEFAULT_OUTPUT in self.assignments:
                    raise self.error(stmt, f"the bare expression would be named {DEFAULT_OUTPUT!r}, "
                                           f"which is already assigned")
                target = ast.Name(id=DEFAULT_OUTPUT, lineno=stmt.lineno, col_offset=stmt.col_offset)
                target.expr = stmt.value
                self.assignments[DEFAULT_OUTPUT] = target
                order.append(DEFAULT_OUTPUT)
            else:
                raise self.error(stmt, f"{type(stmt).__name__.lower()} statements are not allowed; "
                                       f"write assignments like 'y = w*x + b'")
        del body, stmt                          # each expression's tree now hangs off its target only,
                                                # and is dropped once built (_name)
        # `w = 2` (a number, or minus a number) makes w an input with that value, unless a value is
        # given for it; numbers inside expressions stay constants
        self.inline = {name: (value, self._where(self.assignments[name])) for name in order
                       if (value := self._literal(self.assignments[name].expr)) is not None}
        given = order
        order = [name for name in given if name not in self.inline]
        if not order:
            raise ProgramError("the program only gives values (every assignment is a number): "
                               "add the formula to differentiate, e.g. 'J = w*x'")
        for name in order:
            self._name(name, None)
        referenced = self.referenced            # every expression of `order` has been walked by _expr
        sinks = [name for name in order if name not in referenced]
        out_name = output or (sinks or order)[-1]
        if out_name in self.inline:
            raise ProgramError(f"--output {out_name!r} is a value the program gives ({out_name} = "
                               f"{const_name(self.inline[out_name][0])}), not something it computes")
        if out_name not in self.built:
            known = name_list(order)
            hint = " (-o writes a file)" if "." in out_name else ""
            raise ProgramError(f"--output {out_name!r} is not assigned in the program (assigned: {known}){hint}")
        out = self.built[out_name]
        graph = self.builder.finish(out, source=self.original)
        unused = [n for n in given if n not in graph]
        if unused:
            graph.warnings.append(f"not used by the output {out_name!r}: {name_list(unused)}")
        graph.names = tuple(sorted(self._nodes.keys() | given))     # every input, every assigned name
        graph.assigned = tuple(order)
        graph.defaults = {name: value for name, (value, _) in self.inline.items() if name in graph}
        return graph

    def _statements(self) -> list:
        """The program's statements, parsed a few thousand characters of whole lines at a time.

        Parsing a big program in one piece holds its C syntax tree and its Python one at once (64 MB
        for a 40,000-node program); in pieces only a piece's C tree is alive beside the Python trees.
        Python joins lines only inside brackets, after a backslash or inside a triple-quoted string,
        and a piece cut inside one of those does not parse: then the program is parsed whole, as
        before, so any error is the one Python gives for the whole program. Each piece is padded
        with the line breaks before it, so its positions are the program's."""
        lines = self.source.split("\n")
        if len(self.source) > _PIECE_CHARS and len(lines) > 1:
            body, start, size = [], 0, 0
            try:
                for end, line in enumerate(lines, 1):
                    size += len(line) + 1
                    if size >= _PIECE_CHARS or end == len(lines):
                        body.extend(ast.parse("\n" * start + "\n".join(lines[start:end]), mode="exec").body)
                        start, size = end, 0
                return body
            except (SyntaxError, RecursionError, MemoryError, ValueError):
                pass
        try:
            return ast.parse(self.source, mode="exec").body
        except SyntaxError as exc:
            raise self._syntax_error(exc) from None
        except (RecursionError, MemoryError):     # Python's parser, past about 50,000 levels
            raise ParseError("the program is nested too deeply for Python's parser: split a long sum or "
                             "product into several assignments (s1 = a + b + ...; s2 = s1 + ...), or "
                             "remove brackets") from None

    def _syntax_error(self, exc: SyntaxError) -> ParseError:
        """Python's message, or a better one for what users of formulas write."""
        line, column = exc.lineno or 1, exc.offset or 1
        message = (exc.msg or "invalid syntax").replace("invalid syntax. ", "")
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        reserved = next((m for m in re.finditer(r"[^\W\d]\w*", text) if keyword.iskeyword(m.group())
                         and m.group() not in ("None", "True", "False")), None)
        digits = re.search(r"\d[\d_]{%d,}" % MAX_EXACT_DIGITS, text) if "integer string conversion" in message else None
        if digits is not None:              # Python's own limit (4300 digits) met before bpviz's
            message = f"{clip(digits.group())} has more than {MAX_EXACT_DIGITS} digits"
            column = digits.start() + 1
        elif "decimal literal" in message:
            number = re.search(r"(\d[\d.]*)([^\W\d]\w*)", text[max(column - 3, 0):] or text)
            if number:
                message = (f"a number followed by a name: write {number.group(1)}*{number.group(2)} "
                           f"for a product")
        elif "Maybe you meant '=='" in message:   # y = a < b = c: a comparison, then a second '='
            second = re.search(r"(?<![=<>!])=(?!=)", text[text.find("=") + 1:]) if "=" in text else None
            message = "one '=' per line, and no comparisons: write each assignment on its own line, e.g. 'y = w*x'"
            if second is not None:
                column = text.find("=") + 1 + second.start() + 1
        elif reserved is not None:
            word = reserved.group()
            other = {"lambda": "lam or λ", "in": "x_in", "is": "is_"}.get(word, f"{word}_")
            message = f"{word!r} is a reserved word of Python, so it cannot be a name: call it {other}"
            column = reserved.start() + 1
        return ParseError(message, source=self.source, line=line, column=column)

    def _check_name(self, node: ast.AST, name: str) -> None:
        if name.startswith("__"):
            raise self.error(node, f"names starting with '__' are not allowed: {name!r}")
        if name in _FUNCTION_NAMES:
            raise self.error(node, f"{name!r} is a function; it cannot be used as a name")
        if name in RESERVED:
            raise self.error(node, f"{name!r} is reserved (custom gradients are written y = sign(u) @{name}(1)); "
                                   f"choose another name")

    def _name(self, name: str, use: Optional[ast.AST]) -> int:
        """The node of a name: what it is assigned, else an input (made on its first use)."""
        index = self._nodes.get(name)
        if index is not None:
            return index
        if name in self.inline or name not in self.assignments:     # an input, placed where first used
            if name in self.inline:
                where = self.inline[name][1]
            else:                                   # (_located, not _where: no deeper in a deep walk)
                where = self._located(use)[0] if use is not None else None
            index = self._nodes[name] = self.builder.input(name, where)
            return index
        if name in self.visiting:
            cycle = self.visiting[self.visiting.index(name):] + [name]
            raise ProgramError(f"cycle: {' → '.join(cycle)} (a value cannot depend on itself)")
        self.visiting.append(name)
        target = self.assignments[name]
        index = self._expr(target.expr, top=name)
        target.expr = None                      # its syntax tree is no longer needed
        self.visiting.pop()
        self.built[name] = self._nodes[name] = index
        return index

    # -- expressions ------------------------------------------------------------------------
    def _expr(self, e: ast.AST, top: Optional[str] = None) -> int:
        """The node of expression ``e``, named ``top`` when it is an assignment's whole right side.

        Names and binary operators, most of a big program, come first. The walk recurses through
        this one function, one call per nesting level, except down a chain's left side (_binops), so
        how deep a program may nest stays the same however long a sum is."""
        kind = type(e)                              # ast.parse makes these classes, no subclasses
        if kind is _NAME:                           # no position needed, unless it is named
            name = e.id
            if self._rule_names is not None:
                return self._rule_name(e)
            if name not in self.referenced:         # its checks depend on the name only
                self._check_name(e, name)
                self.referenced.add(name)
            index = self._nodes.get(name)
            if index is None:
                index = self._name(name, e)
            if top:
                where, pos = self._located(e)
                return self.builder.op("id", (index,), name=top, where=where, pos=pos,
                                       text=self._segment(e, TEXT_LIMIT))
            return index
        b = self.builder
        if kind is _BINOP:
            return self._binops(e, top)
        if kind is _CONSTANT:
            index = b.const(self._number(e))
            if top:
                where, pos = self._located(e)
                return b.op("id", (index,), name=top, where=where, pos=pos, text=self._segment(e, TEXT_LIMIT))
            return index
        (where, pos), text = self._located(e), self._segment(e, TEXT_LIMIT)
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.UAdd):
                return self._expr(e.operand, top)
            if isinstance(e.op, ast.USub):
                if isinstance(e.operand, ast.Constant):
                    index = b.const(-self._number(e.operand))
                    return b.op("id", (index,), name=top, where=where, pos=pos, text=text) if top else index
                return b.op("neg", (self._expr(e.operand),), name=top, where=where, pos=pos, text=text)
            raise self.error(e, f"the operator {type(e.op).__name__} is not allowed")
        if isinstance(e, ast.Attribute):
            if e.attr != "T":
                raise self.error(e, f"'.{e.attr}' is not allowed: the only attribute is .T (transpose)")
            return b.op("transpose", (self._expr(e.value),), name=top, where=where, pos=pos, text=text)
        if isinstance(e, ast.Call):
            if not isinstance(e.func, ast.Name):
                raise self.error(e, "only calls of the known functions are allowed")
            fname = e.func.id
            if fname in RESERVED:
                raise self.error(e, f"{fname}(...) is not a function: a custom gradient is written after a "
                                    f"call with '@': {GRAD_HINT}")
            if fname not in _FUNCTION_NAMES:
                hint = difflib.get_close_matches(fname, FUNCTIONS, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f" (known: {', '.join(FUNCTIONS)})"
                raise self.error(e, f"unknown function {fname!r}{extra}")
            op = OPS[fname]
            if self._rule_names is not None and op.structural:
                raise self.error(e, f"a @grad rule is a scalar formula: {fname}() is not allowed in it")
            axis = self._axis(e, fname) if op.takes_axis else None
            if (e.keywords and not op.takes_axis) or len(e.args) != op.arity \
                    or any(isinstance(a, ast.Starred) for a in e.args):
                extra = " (and optionally axis=0 or axis=1)" if op.takes_axis else ""
                count = "one argument" if op.arity == 1 else f"{op.arity} arguments: {fname}({', '.join(op.operands)})"
                raise self.error(e, f"{fname}() takes exactly {count}{extra}")
            operands = tuple(self._expr(a) for a in e.args)
            return b.op(fname, operands, param=axis, name=top, where=where, pos=pos, text=text)
        message = REFUSED.get(type(e), f"{type(e).__name__} expressions are not allowed")
        raise self.error(e, message)

    def _binops(self, e: ast.BinOp, top: Optional[str]) -> int:
        """A binary operation and the ones down its left side (a + b + c is (a + b) + c), in a loop
        rather than a call per level: a sum of 100,000 terms nests 100,000 deep on its left. The order
        is the recursive walk's: each operator checked and placed from the outside in, then the
        innermost left operand walked, then each level's right operand and node, from the inside out."""
        spine = []
        while type(e) is _BINOP:
            opname = BINOPS.get(type(e.op))
            if opname is None:
                raise self.error(e, OPERATOR_HINTS.get(type(e.op), "this operator is not allowed"))
            if opname == "matmul":
                if _is_grad(e.right):
                    if spine or top is None or self._rule_names is not None:
                        where = "inside a @grad rule" if self._rule_names is not None else "inside an expression"
                        raise self.error(e.right, f"@grad(...) cannot be used {where}: {GRAD_HINT}")
                    return self._custom(e, top, self._located(e), self._segment(e, TEXT_LIMIT))
                if self._rule_names is not None:
                    raise self.error(e, "a @grad rule is a scalar formula: '@' (a matrix product) is not allowed in it")
            spine.append((e, opname, self._located(e), self._segment(e, TEXT_LIMIT)))
            e = e.left
        b = self.builder
        left = self._expr(e)
        for depth in range(len(spine) - 1, -1, -1):
            e, opname, (where, pos), text = spine[depth]
            name = top if depth == 0 else None
            if opname == "pow":
                exponent = self._literal(e.right)
                if exponent is not None:
                    left = b.op("powc", (left,), param=exponent, name=name, where=where, pos=pos, text=text)
                    continue
            left = b.op(opname, (left, self._expr(e.right)), name=name, where=where, pos=pos, text=text)
        return left

    # -- custom gradients: y = f(u) @grad(RULE), y = clip(x, lo, hi) @grad(x=RULE, lo=RULE) ------------
    def _custom(self, e: ast.BinOp, top: str, at: tuple, text: Optional[str]) -> int:
        call, grad = e.left, e.right
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in _FUNCTION_NAMES
                and not OPS[call.func.id].structural):
            what = "a @grad(...)" if _is_grad(call) else "this expression"
            raise self.error(grad, f"@grad(...) follows a call of a function such as sign(u), and {what} is "
                                   f"not one: {GRAD_HINT}")
        index = self._expr(call)                       # checks the call itself (arguments, names)
        node = self.builder.nodes[index]
        slots_of: dict = {}                            # a name -> the operand slots it fills
        for slot, a in enumerate(call.args):
            if isinstance(a, ast.Name):
                slots_of.setdefault(a.id, []).append(slot)
        operands = {name: slots[0] for name, slots in slots_of.items()}   # a rule may read any of them
        fname = call.func.id
        arity = len(call.args)
        if any(isinstance(a, ast.Starred) for a in grad.args) or any(k.arg is None for k in grad.keywords):
            raise self.error(grad, "@grad takes a rule, not * or ** arguments")
        if grad.args and grad.keywords:
            raise self.error(grad, "@grad takes one rule, or one rule per operand by name (@grad(a=..., b=...)), "
                                   "not both")
        rules: list = [None] * arity
        if grad.args:
            if len(grad.args) != 1:
                raise self.error(grad, f"@grad takes one rule, the derivative that replaces ∂{top}/∂(operand)")
            if arity != 1:
                names = ", ".join(f"{a}=…" for a in (OPS[fname].operands or ("a", "b")))
                raise self.error(grad, f"{fname}() has {arity} operands: give a rule per operand by its name, "
                                       f"e.g. @grad({names}) (operands that are names)")
            rules[0] = self.rule(grad.args[0], operands, fname)
        elif grad.keywords:
            given_names: set = set()
            for given in grad.keywords:
                if given.arg in given_names:
                    raise self.error(given, f"@grad gives {given.arg}=… twice")
                given_names.add(given.arg)
                if len(slots_of.get(given.arg, ())) > 1:
                    slots = " and ".join(str(i + 1) for i in slots_of[given.arg])
                    raise self.error(given, f"@grad({given.arg}=…): {given.arg} is operands {slots} of this "
                                            f"{fname}(), and a rule by name cannot say which; give one of them "
                                            f"another name first, e.g. {given.arg}2 = {given.arg}")
                if given.arg not in operands:
                    plain = ", ".join(operands) or "none"
                    raise self.error(given, f"@grad({given.arg}=…): {given.arg!r} is not an operand of this "
                                            f"{fname}() written as a plain name (its operands that are names: "
                                            f"{plain})")
                rules[operands[given.arg]] = self.rule(given.value, operands, fname)
        else:
            raise self.error(grad, f"@grad() needs a rule, e.g. @grad(1) or @grad(step(1 - abs(u))): the "
                                   f"derivative that replaces ∂{top}/∂(operand)")
        where, pos = at
        return self.builder.op(fname, node.inputs, param=node.param, name=top, where=where, pos=pos, text=text,
                               custom=tuple(rules))

    def rule(self, e: ast.AST, operands: dict, fname: str, estimator: Optional[str] = None) -> Surrogate:
        """A custom-gradient rule as a Surrogate: a small graph of its own, in the operands' names."""
        builder, names, self.builder = self.builder, self._rule_names, GraphBuilder()
        self._rule_names = {"operands": operands, "function": fname, "used": {}}
        try:
            out = self._expr(e)
            if len(self.builder.nodes) > MAX_RULE_NODES:
                raise self.error(e, f"the @grad rule has {len(self.builder.nodes)} nodes, more than the "
                                    f"{MAX_RULE_NODES} a rule may have")
            rule = self.builder.finish(out, source=self._segment(e) or "")
            used = self._rule_names["used"]
        finally:
            self.builder, self._rule_names = builder, names
        slots = tuple(sorted(used.items(), key=lambda item: item[1]))
        return Surrogate(rule, slots, rule.source, estimator)

    def _rule_name(self, e: ast.Name) -> int:
        rule = self._rule_names
        if e.id not in rule["operands"]:
            plain = ", ".join(rule["operands"]) or "none"
            if e.id in _FUNCTION_NAMES or e.id in RESERVED:
                raise self.error(e, f"{e.id!r} is a function, not an operand")
            raise self.error(e, f"{e.id!r} in a @grad rule is not an operand of {rule['function']}(): a rule may "
                                f"use the call's operands that are plain names (here: {plain}); to use another "
                                f"value, name it first, e.g. u = w*x + b; y = sign(u) @grad(step(1 - abs(u)))")
        rule["used"][e.id] = rule["operands"][e.id]
        return self.builder.input(e.id)

    def _axis(self, e: ast.Call, fname: str) -> Optional[Fraction]:
        """The ``axis=`` of sum/mean: a whole number, or None for every entry."""
        axis = None
        for given in e.keywords:
            if given.arg != "axis":
                what = "**" if given.arg is None else f"{given.arg}="
                raise self.error(given.value if given.arg is None else given,
                                 f"{fname}() takes no {what}: its only keyword is axis (axis=0 or axis=1)")
            if axis is not None:
                raise self.error(given, f"{fname}() is given axis twice")
            literal = given.value.operand if isinstance(given.value, ast.UnaryOp) else given.value
            whole = isinstance(literal, ast.Constant) and type(literal.value) is int
            value = self._literal(given.value) if whole else None
            if value is None or abs(value) > 8:
                raise self.error(given.value, f"{fname}(…, axis=…) takes a whole number: 0 (down the rows), "
                                                f"1 (along each row) or -1 (the last axis)")
            axis = value
        return axis

    def _literal(self, e: ast.AST) -> Optional[Fraction]:
        """A numeric literal (optionally negated), else None."""
        if isinstance(e, ast.Constant):
            return self._number(e)
        if isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant):
            if isinstance(e.op, ast.USub):
                return -self._number(e.operand)
            if isinstance(e.op, ast.UAdd):
                return self._number(e.operand)
        return None

    def _number(self, e: ast.Constant) -> Fraction:
        if isinstance(e.value, bool) or not isinstance(e.value, (int, float)):
            kind = "strings" if isinstance(e.value, str) else f"{type(e.value).__name__} literals"
            raise self.error(e, f"{kind} are not allowed; only numbers")
        text = self._segment(e)
        try:
            try:
                value = parse_number(text) if text else Fraction(e.value)
            except NumberRangeError:
                raise
            except (ValueError, ArithmeticError):       # 0x1f, 1_000 and other Python spellings
                value = Fraction(e.value)
            return check_exact(value, "this number")
        except NumberRangeError as exc:
            raise self.error(e, str(exc)) from None
        except (ValueError, OverflowError):             # a float literal that overflowed to inf
            raise self.error(e, "this number is out of range") from None



def _is_grad(e: ast.AST) -> bool:
    """``grad(...)``: the right side of ``f(u) @grad(...)``, which Python reads as a matrix product."""
    return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in RESERVED
