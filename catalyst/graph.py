"""Draw a checked workflow as a flowchart: Mermaid (GitHub renders it) or Graphviz DOT.

Labels come from other people's files, so nothing the user wrote reaches the
output unescaped: node names are generated (n1, n2, … in node order), and label
text is escaped so it can neither end its string nor start a new statement,
directive or comment. Every statement is one line, in file order, so the same
workflow always gives the same bytes and a diff of the picture reads like a
diff of the pipeline.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from catalyst.validation import CheckedWorkflow

GraphFormat = Literal["mermaid", "dot"]
GRAPH_FORMATS: tuple[GraphFormat, ...] = ("mermaid", "dot")

Shape = Literal["trigger", "decision", "step"]
Line = Literal["wire", "reads"]


@dataclass(frozen=True)
class Box:
    """One node as drawn: a generated name, the user's label and type, a shape."""

    name: str
    label: str
    type: str
    shape: Shape


@dataclass(frozen=True)
class Arrow:
    """An edge (`wire`) or an expression-only dependency (`reads`) between two boxes."""

    source: str
    target: str
    line: Line
    branch: str | None = None


@dataclass(frozen=True)
class Picture:
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]


def picture(checked: CheckedWorkflow) -> Picture:
    """What to draw, independent of the output format, in file order."""
    workflow = checked.workflow
    names: dict[str, str] = {}
    boxes: list[Box] = []
    for node in workflow.nodes:
        if node.id in names:
            continue  # a duplicate id is a validation error; draw the first only
        names[node.id] = f"n{len(names) + 1}"
        boxes.append(Box(names[node.id], node.label, node.type, _shape(checked, node.id)))
    arrows: list[Arrow] = []
    wired: set[tuple[str, str]] = set()
    for wire in checked.wires:
        source, target = wire.edge.source, wire.edge.target
        if source not in names or target not in names:
            continue
        wired.add((source, target))
        branch = wire.source_port.id if wire.source_port.branch else None
        arrows.append(Arrow(names[source], names[target], "wire", branch))
    # A node reading another through `{{ nodes[...] }}` depends on it even
    # without an edge; draw that too, but only where no edge says it already.
    order = {node_id: index for index, node_id in enumerate(names)}
    for reader in names:
        read = checked.references.get(reader, frozenset())
        for source in sorted((s for s in read if s in order), key=order.__getitem__):
            if (source, reader) not in wired:
                arrows.append(Arrow(names[source], names[reader], "reads"))
    return Picture(tuple(boxes), tuple(arrows))


def _shape(checked: CheckedWorkflow, node_id: str) -> Shape:
    node_type = checked.node_types.get(node_id)
    if node_type is None:
        return "step"
    if node_type.is_trigger:
        return "trigger"
    if any(port.branch for port in node_type.outputs):
        return "decision"
    return "step"


# -- escaping ---------------------------------------------------------------------------

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Control and format characters (ANSI escapes, bidi overrides, zero-width marks)
# and line/paragraph separators: invisible in a review, and some split lines.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escape_lines(text: str, escape_char: Callable[[str], str], line_break: str) -> str:
    lines = _LINE_BREAK.split(text)
    return line_break.join("".join(escape_char(char) for char in line) for line in lines)


def _hidden(char: str) -> bool:
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


# Mermaid decodes `#<number>;` to the character. Escaped: what ends a string or
# a shape (`"` brackets `|`), what starts a comment or directive (`%%{init}%%`),
# HTML (`<` `>` `&`), entity syntax itself (`#` `;`, so user text never forms one),
# markdown strings (backtick), and `:` (Mermaid rewrites `style…:…#…;` lines).
_MERMAID_SPECIAL = frozenset("\"'#&;:%<>`[](){}|\\")


def _mermaid_char(char: str) -> str:
    if char in _MERMAID_SPECIAL or _hidden(char):
        return f"#{ord(char)};"
    return char


def mermaid_text(text: str) -> str:
    """`text` safe inside a quoted Mermaid label; line breaks stay line breaks."""
    return _escape_lines(text, _mermaid_char, "<br/>")


def _dot_char(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    # Graphviz decodes HTML entities in labels: `&` must be one, so `&lt;` stays text.
    if char == "&":
        return "&amp;"
    if _hidden(char):
        return f"&#{ord(char)};"
    return char


def dot_text(text: str) -> str:
    """`text` for inside a double-quoted DOT string; line breaks become `\\n`."""
    return _escape_lines(text, _dot_char, "\\n")


# -- rendering ----------------------------------------------------------------------------

_MERMAID_SHAPES: dict[Shape, tuple[str, str]] = {
    "trigger": ('(["', '"])'),  # stadium
    "decision": ('{"', '"}'),  # rhombus
    "step": ('["', '"]'),
}


def to_mermaid(checked: CheckedWorkflow) -> str:
    """A Mermaid flowchart, left to right, one statement per line."""
    drawn = picture(checked)
    lines = ["flowchart LR"]
    for box in drawn.boxes:
        opening, closing = _MERMAID_SHAPES[box.shape]
        text = f"{mermaid_text(box.label)}<br/>{mermaid_text(box.type)}"
        lines.append(f"    {box.name}{opening}{text}{closing}")
    for arrow in drawn.arrows:
        link = "-.->" if arrow.line == "reads" else "-->"
        if arrow.branch is not None:
            link += f'|"{mermaid_text(arrow.branch)}"|'
        lines.append(f"    {arrow.source} {link} {arrow.target}")
    return "\n".join(lines) + "\n"


_DOT_SHAPES: dict[Shape, str] = {
    "trigger": "shape=oval",
    "decision": "shape=diamond",
    "step": "shape=box, style=rounded",
}


def to_dot(checked: CheckedWorkflow) -> str:
    """A Graphviz digraph, left to right, one statement per line."""
    drawn = picture(checked)
    lines = ["digraph workflow {", "    rankdir=LR;"]
    for box in drawn.boxes:
        text = f"{dot_text(box.label)}\\n{dot_text(box.type)}"
        lines.append(f'    {box.name} [label="{text}", {_DOT_SHAPES[box.shape]}];')
    for arrow in drawn.arrows:
        attributes = []
        if arrow.branch is not None:
            attributes.append(f'label="{dot_text(arrow.branch)}"')
        if arrow.line == "reads":
            attributes.append("style=dotted")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {arrow.source} -> {arrow.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_graph(checked: CheckedWorkflow, graph_format: GraphFormat) -> str:
    """The workflow as a flowchart in `graph_format`."""
    return to_dot(checked) if graph_format == "dot" else to_mermaid(checked)
