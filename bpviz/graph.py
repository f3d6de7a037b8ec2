"""The computation graph: nodes in topological order, their edges, and how each one reads.

Nodes are built through ``GraphBuilder``, which hash-conses identical subexpressions (so a
reused leaf or subexpression is one node with several out-edges) and numbers everything in
creation order, which is topological. Node ids come from that position: no ``id()``, no sets.
"""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterator, Optional

from .errors import ProgramError, name_list
from .numeric import Number, const_name
from .ops import OPS, Op


@dataclass(slots=True)                     # slots: a 40k-node graph is 40k of these
class Node:
    index: int
    name: str
    kind: str                              # "input" | "const" | "op"
    op: Optional[Op] = None
    param: Optional[Fraction] = None       # a constant's value, or x**n's exponent
    inputs: tuple = ()
    named: bool = False                    # the user chose this name
    where: Optional[str] = None            # "line 2, column 5" for messages
    text: Optional[str] = None             # the user's own source text of the expression
    value: Optional[Number] = None
    grad: Optional[Number] = None
    local: tuple = ()                      # ∂self/∂inputs[i], numeric
    group: Optional[str] = None            # a layer or neuron, for grouped views
    pos: Optional[tuple] = None            # (line, column) in the program, for carets
    shape: tuple = ()                      # matrix mode: () scalar, (n,) vector, (m, n) matrix
    contrib: tuple = ()                    # matrix mode: what the node sends back to each operand
    custom: tuple = ()                     # custom gradients: per operand, a Surrogate or None; () if none

    @property
    def id(self) -> str:
        return f"n{self.index}"

    @property
    def symbol(self) -> str:
        """The short mark drawn for the node: its op's mark, or its name for leaves."""
        return self.name if self.op is None else self.op.mark(self.param)


NameOf = Callable[[Node], str]

# how tightly each infix op binds, to parenthesise a surrogate rule's subexpressions (functions: 9)
_PRECEDENCE = {"add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4, "powc": 4}


@dataclass(frozen=True)
class Surrogate:
    """A custom gradient: the rule that replaces ∂node/∂operand (``y = sign(u) @grad(step(1 - abs(u)))``).

    ``rule`` is a small graph of the rule's own (its inputs are the operands' names as the rule writes
    them, ``slots`` says which operand each is); ``source`` is the rule as written; ``estimator`` the
    named estimator it came from (``ste``, ``ste-clip``) or None for a rule written in the program."""
    rule: "Graph"
    slots: tuple                           # ((name in the rule, operand slot), ...)
    source: str
    estimator: Optional[str] = None

    @property
    def key(self) -> tuple:
        return (self.source, self.slots)

    def operand_values(self, args) -> dict:
        return {name: args[slot] for name, slot in self.slots}

    def formula(self, style: str, args) -> str:
        """The rule in terms of the operands' names ``args`` (already in ``style``)."""
        slots = dict(self.slots)
        nodes = self.rule.nodes
        texts: list = [None] * len(nodes)
        for node in nodes:
            if node.kind == "input":
                texts[node.index] = args[slots[node.name]]
            elif node.kind == "const":
                from .ops import param_text
                texts[node.index] = param_text(node.param, style) if style == "tex" else node.name
            else:
                parts = []
                own = _PRECEDENCE.get(node.op.name, 9)
                for position, i in enumerate(node.inputs):
                    text, child = texts[i], nodes[i]
                    inner = _PRECEDENCE.get(child.op.name, 9) if child.op is not None else 9
                    tight = inner < own or (inner == own and (
                        (node.op.name in ("sub", "div") and position == 1) or (own == 4 and position == 0)))
                    if own < 9 and tight and not (style == "tex" and node.op.name == "div"):
                        text = f"\\left({text}\\right)" if style == "tex" else f"({text})"
                    parts.append(text)
                texts[node.index] = node.op.formula(style, parts, node.param)
        return texts[self.rule.output]


@contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while building a big graph (parse, evaluate, JSON).

    Those steps allocate millions of small objects that all stay alive, and none of them is in a
    reference cycle; the collector would walk every one of them again and again as they pile up,
    which makes big jobs super-linear (issue 14 measured exponents 1.16 for parsing and 1.26 for
    the local derivatives with it on, 1.02 with it paused). Reference counting still frees
    everything as usual. Nested uses are fine: the outermost one switches the collector back on."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


MAX_NODES = 100_000
PATH_CAP = 10 ** 18


@dataclass
class SpecInfo:
    """What a YAML spec adds to its graph."""
    values_key: str                          # where its values live: "values" or a network's "inputs"
    learning_rate: Optional[Fraction] = None
    softmax_cross_entropy: tuple = ()        # ((z name, a name, target), ...) of a softmax + CE output
    samples: Optional[int] = None            # a batch's N (matrix view); None: one sample
    reduction: str = "mean"                  # how a batch's loss reduces over its samples
    program_paths: tuple = ()                # a graph spec: the YAML key path of each line of its program
    places: dict = field(default_factory=dict)   # a network: a node's `where` (layer h, the loss) -> its path


@dataclass
class Graph:
    nodes: list
    output: int
    source: str = ""
    title: str = ""
    warnings: list = field(default_factory=list)
    values: dict = field(default_factory=dict)     # the inputs' values as given
    names: tuple = ()                              # every name the program mentions, besides inputs
    assigned: tuple = ()                           # the names the program computes
    defaults: dict = field(default_factory=dict)   # values written in the program (w = 2): inputs' defaults
    params: list = field(default_factory=list)     # a network's weights and biases
    spec: Optional[SpecInfo] = None                # set when the graph comes from a YAML spec
    matrix: bool = False                           # values are arrays with shapes (bpviz.tensor)
    shapes_only: bool = False                      # matrix mode with shapes and no values (--shape)

    def __post_init__(self) -> None:
        self._consumers: Optional[list] = None
        self._by_name = {node.name: node for node in self.nodes}

    @property
    def consumers(self) -> list:
        """Per node, its out-edges: [(dst, slot), ...]. Made on first use (figures and notes ask; a
        JSON job never does, and on a 40,000-node graph they are 7 MB)."""
        if self._consumers is None:
            consumers: list = [[] for _ in self.nodes]
            for node in self.nodes:
                for slot, src in enumerate(node.inputs):
                    consumers[src].append((node.index, slot))
            self._consumers = consumers
        return self._consumers

    # -- in a notebook (bpviz.display draws; this module only hands the graph over) ----------
    def _repr_svg_(self) -> Optional[str]:
        from .display import figure_svg
        return figure_svg(self)

    def _repr_markdown_(self) -> Optional[str]:
        from .display import note_markdown
        return note_markdown(self)

    def _repr_html_(self) -> str:
        from .display import combined_html
        return combined_html(self)

    # -- lookup ---------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        if not isinstance(name, str):
            raise ProgramError(f"a node is named by text, not {name!r}")
        try:
            return self._by_name[name]
        except KeyError:
            import difflib
            hint = difflib.get_close_matches(name, list(self._by_name), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            names = name_list(n.name for n in self.nodes if n.kind != "const")
            raise ProgramError(f"no node named {name!r}{extra} (nodes: {names})") from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    @property
    def out(self) -> Node:
        return self.nodes[self.output]

    @property
    def inputs(self) -> list:
        return [n for n in self.nodes if n.kind == "input"]

    def edges(self) -> Iterator[tuple]:
        """Every edge as (src, dst, slot), in topological order of dst."""
        for node in self.nodes:
            for slot, src in enumerate(node.inputs):
                yield src, node.index, slot

    def gradients(self) -> dict:
        """∂output/∂input for every input, by name."""
        return {n.name: n.grad for n in self.inputs}

    def contribution(self, dst: int, slot: int) -> Number:
        """What edge (inputs[slot] → dst) adds to its source's gradient: upstream × local."""
        node = self.nodes[dst]
        if self.matrix:
            return node.contrib[slot] if node.contrib else None
        return node.grad * node.local[slot]

    # -- chain-rule paths ---------------------------------------------------------------------
    def path_counts(self) -> list:
        """Per node, how many paths lead from it to the output (exact integers, at most PATH_CAP: a
        chain of squarings has 2^14400 of them)."""
        counts = [0] * len(self.nodes)
        counts[self.output] = 1
        for node in reversed(self.nodes):
            if counts[node.index]:
                for src in node.inputs:
                    counts[src] = min(counts[src] + counts[node.index], PATH_CAP)
        return counts

    def adopt_names(self, full: "Graph") -> None:
        """Name this graph's generated nodes (t1, t2, …) as ``full`` names the same computations (the
        same op and parameter of inputs with the same names): a network's figure groups each neuron
        into one node, and its loss's t-numbers must be the ones the note's tables, made from every
        weight, use. A node ``full`` does not have gets a number ``full`` does not use."""
        made = {(n.op.name, n.param, tuple(full.nodes[i].name for i in n.inputs)): n.name
                for n in full.nodes if n.op is not None}
        taken = {n.name for n in full.nodes}
        unmatched = []
        for node in self.nodes:                 # in order: a node's inputs are named before it
            if node.op is None or node.named:
                continue
            name = made.get((node.op.name, node.param, tuple(self.nodes[i].name for i in node.inputs)))
            if name is None:
                unmatched.append(node)
            else:
                node.name = name
        number_unnamed(unmatched, taken)

    def path_factors(self, counts: Optional[list] = None) -> list:
        """Per node, the local derivatives its chain-rule paths multiply, all paths together (the sum
        of their lengths, at most PATH_CAP): known before any path is listed, so a note can tell a
        derivation too long to write out without walking its paths. ``counts``: path_counts(), when
        the caller has it already."""
        counts = self.path_counts() if counts is None else counts
        factors = [0] * len(self.nodes)
        for node in reversed(self.nodes):
            if counts[node.index]:
                extra = factors[node.index] + counts[node.index]   # each path through it, one edge longer
                for src in node.inputs:
                    factors[src] = min(factors[src] + extra, PATH_CAP)
        return factors

    def paths(self, index: int, limit: int) -> list:
        """The first ``limit`` paths from the output down to node ``index``.

        Each path is a list of edges (dst, slot), output first; a node that uses the same
        operand twice (``x * x``) gives two paths, one per slot. Order is deterministic.
        """
        if index == self.output:
            return [[]][:limit]
        found: list = []
        trail: list = []
        stack = [iter(self.consumers[index])]
        while stack and len(found) < limit:      # depth-first, without recursion: paths may be long
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                if trail:
                    trail.pop()
                continue
            trail.append(step)
            if step[0] == self.output:
                found.append(list(reversed(trail)))
                trail.pop()
            else:
                stack.append(iter(self.consumers[step[0]]))
        return found

    # -- reading --------------------------------------------------------------------------
    def operand_names(self, node: Node, name_of: Optional[NameOf] = None) -> list:
        name_of = name_of or (lambda n: n.name)
        return [name_of(self.nodes[i]) for i in node.inputs]

    def formula(self, node: Node, style: str = "text", name_of: Optional[NameOf] = None) -> str:
        """The node's definition from its direct inputs, e.g. ``w * x``.

        ``style`` is "text" (program syntax), "uni" (Unicode math) or "tex" (LaTeX).
        """
        if node.op is None:
            return (name_of or (lambda n: n.name))(node)
        arrays = self.matrix and all(self.nodes[i].shape for i in node.inputs)
        return node.op.formula(style, self.operand_names(node, name_of), node.param, arrays)

    def local_formula(self, node: Node, slot: int, style: str = "text",
                      name_of: Optional[NameOf] = None) -> str:
        """∂node/∂inputs[slot] as a formula in the node's inputs."""
        out = (name_of or (lambda n: n.name))(node)
        names = self.operand_names(node, name_of)
        if self.matrix:
            from .tensor import vjp_text
            return vjp_text(node.op, slot, names, out, [self.nodes[i].shape for i in node.inputs],
                            node.shape, node.param, style)
        if node.custom and node.custom[slot] is not None:
            return node.custom[slot].formula(style, names)
        return node.op.derivative(style, slot, names, out, node.param)

    def true_local_formula(self, node: Node, slot: int, style: str = "text",
                           name_of: Optional[NameOf] = None) -> str:
        """∂node/∂inputs[slot] by calculus, also where a custom gradient replaces it."""
        out = (name_of or (lambda n: n.name))(node)
        return node.op.derivative(style, slot, self.operand_names(node, name_of), out, node.param)

    def is_custom(self, node: Node, slot: int) -> bool:
        """Whether edge (inputs[slot] → node) carries a custom gradient rather than the op's own."""
        return bool(node.custom) and node.custom[slot] is not None


def number_unnamed(nodes: list, taken: set) -> None:
    """Name ``nodes`` t1, t2, … in order, skipping the names in ``taken``."""
    counter = 0
    for node in nodes:
        counter += 1
        name = f"t{counter}"
        while name in taken:
            counter += 1
            name = f"t{counter}"
        node.name = name


class GraphBuilder:
    """Creates nodes with hash-consing; ``finish`` prunes to the output and names the rest."""

    def __init__(self) -> None:
        self.nodes: list = []
        self._keys: dict = {}

    def _add(self, node: Node) -> int:
        """Append a node made with the next index (len(self.nodes)): the callers make it directly, its
        fields by position, one pass per node and no keywords to match (a 40k-node program makes
        40k of them; tests/test_parse_equivalence.py checks them against Node's fields by name)."""
        if node.index >= MAX_NODES:
            raise ProgramError(f"the graph has more than {MAX_NODES:,} nodes; bpviz draws and explains "
                               f"every node, so keep it smaller")
        self.nodes.append(node)
        return node.index

    def input(self, name: str, where: Optional[str] = None) -> int:
        key = ("input", name)
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = self._add(Node(len(self.nodes), name, "input", None, None, (), True, where))
        return found

    def const(self, value: Fraction) -> int:
        key = ("const", value)
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = self._add(Node(len(self.nodes), const_name(value), "const", None, value))
        return found

    def op(self, opname: str, inputs: tuple, param: Optional[Fraction] = None,
           name: Optional[str] = None, where: Optional[str] = None,
           group: Optional[str] = None, text: Optional[str] = None, pos: Optional[tuple] = None,
           custom: tuple = ()) -> int:
        inputs = tuple(inputs)
        key = ("op", opname, inputs, param, tuple(s and s.key for s in custom)) if custom else \
            ("op", opname, inputs, param)
        found = self._keys.get(key)
        if found is not None:
            node = self.nodes[found]
            if name is None:
                return found
            if not node.named:            # an earlier unnamed copy takes the user's name
                node.name, node.named, node.where = name, True, where or node.where
                node.pos = pos or node.pos
                return found
        # in Node's field order: after text come value, grad, local, group, pos, shape, contrib, custom
        index = self._add(Node(len(self.nodes), name or "", "op", OPS[opname], param, inputs, name is not None,
                               where, text, None, None, (), group, pos, (), (), tuple(custom)))
        if found is None:
            self._keys[key] = index
        return index

    def finish(self, output: int, **graph_fields) -> Graph:
        keep = [False] * len(self.nodes)
        keep[output] = True
        for node in reversed(self.nodes):
            if keep[node.index]:
                for i in node.inputs:
                    keep[i] = True
        if all(keep):                       # the usual case: every node feeds the output
            kept = self.nodes
        else:
            renumber, kept = {}, []
            for node in self.nodes:
                if keep[node.index]:
                    renumber[node.index] = len(kept)
                    node.index = len(kept)
                    node.inputs = tuple(renumber[i] for i in node.inputs)
                    kept.append(node)
            output = renumber[output]
        given = [n.name for n in kept if n.named or n.kind != "op"]
        used = set(given)
        if len(used) != len(given):         # some name twice: the first such, in order of first use
            twice = next(name for name, count in Counter(given).items() if count > 1)
            raise ProgramError(f"two nodes are named {twice!r}; give each its own name")
        number_unnamed([node for node in kept if not node.named and node.kind == "op"], used)
        return Graph(nodes=kept, output=output, **graph_fields)
