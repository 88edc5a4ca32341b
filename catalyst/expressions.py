"""`{{ … }}` expressions in config strings: find them, parse them, list what they use.

The generated script renders expressions at run time with jinja2's sandbox;
here, at generate time, each one is parsed with the same syntax so that typos
and unknown names are reported against the node and field before any code is
written, and so every `nodes[...]` reference becomes a dependency.

A string that is exactly one `{{ expression }}` evaluates to the expression's
value with its type kept (a number stays a number); any other string with
expressions renders to text. The generated runtime applies the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from jinja2 import TemplateSyntaxError
from jinja2 import nodes as ast
from jinja2.sandbox import ImmutableSandboxedEnvironment

RootName = Literal["input", "global", "nodes"]
ROOTS: tuple[RootName, ...] = ("input", "global", "nodes")

# Kept in step with the generated runtime's `resolve` (templates/runtime.jinja).
_MARKERS = ("{{", "{%", "{#")
_SINGLE = re.compile(r"\A\{\{(?P<expression>.*?)\}\}\Z", re.DOTALL)

_ENVIRONMENT = ImmutableSandboxedEnvironment()
# Longer config strings are refused before parsing (a prompt this long is a mistake).
MAX_EXPRESSION_LENGTH = 1_000_000


def is_template(text: str) -> bool:
    """Whether a config string holds expressions (and so is rendered at run time)."""
    return any(marker in text for marker in _MARKERS)


def single_expression(text: str) -> str | None:
    """The expression, when the whole string is one `{{ … }}`."""
    match = _SINGLE.match(text.strip())
    if match is None:
        return None
    expression = match["expression"]
    return None if "{{" in expression or "}}" in expression else expression


def as_expression(text: str) -> str:
    """Wrap a bare expression (as written in an expression field) in braces."""
    return text if is_template(text) else "{{ " + text + " }}"


@dataclass(frozen=True)
class Piece:
    """Part of a config string: literal `text`, or one `{{ … }}` whose `source` is
    what stands between the braces (whitespace-control marks left out)."""

    kind: Literal["text", "expression"]
    source: str


# A Jinja string literal, either quote, backslash escapes allowed.
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)
_CLOSING = {")": "(", "]": "[", "}": "{"}


def split_expressions(text: str) -> list[Piece] | None:
    """`text` as literal pieces and `{{ … }}` expressions, in order, for a node
    that uses each expression's value itself (a bound SQL parameter) instead of
    rendering the whole string. Ends expressions where Jinja's lexer does: at
    the first `}}` outside string literals and brackets. None when an
    expression is not closed. Nothing is parsed or evaluated; `analyse` checks
    each expression."""
    pieces: list[Piece] = []
    position = 0
    while (start := text.find("{{", position)) != -1:
        if start > position:
            pieces.append(Piece("text", text[position:start]))
        index = start + 2
        if text[index:index + 1] in ("-", "+"):
            index += 1
        begin, end, after = index, None, index
        brackets: list[str] = []
        while index < len(text):
            char = text[index]
            if char in "'\"":
                literal = _STRING.match(text, index)
                if literal is None:
                    return None
                index = literal.end()
                continue
            if not brackets and text.startswith("}}", index):
                end, after = index, index + 2
                break
            if not brackets and text.startswith("-}}", index):
                end, after = index, index + 3
                break
            if char in "([{":
                brackets.append(char)
            elif char in _CLOSING and brackets and brackets[-1] == _CLOSING[char]:
                brackets.pop()
            index += 1
        if end is None:
            return None
        pieces.append(Piece("expression", text[begin:end]))
        position = after
    if position < len(text):
        pieces.append(Piece("text", text[position:]))
    return pieces


@dataclass(frozen=True)
class Reference:
    """One use of `input`, `global` or `nodes` in an expression.

    `key` is the input, global or node id named right after the root, or None
    when the root is used whole or with a computed key.
    """

    root: RootName
    key: str | None


@dataclass(frozen=True)
class OutputPath:
    """A read of another node: `nodes.x.output.a[0]['b']` is node "x",
    attribute "output", keys ("a", 0, "b"). Keys stop where one is computed."""

    node: str
    attribute: str | None
    keys: tuple[str | int, ...]


@dataclass(frozen=True)
class Analysis:
    references: tuple[Reference, ...]
    unknown_names: tuple[str, ...]
    syntax_error: str | None = None
    output_paths: tuple[OutputPath, ...] = ()


# Parsing dominates checking a large workflow; the editor backend checks the same
# expressions after every edit. Analyses are immutable, so they are shared.
@lru_cache(maxsize=8192)
def analyse(source: str, extra_names: frozenset[str] = frozenset()) -> Analysis:
    """Parse one config string and list the names it uses.

    `extra_names` are names the node adds to its own scope (a promptTemplate's
    `variables`). Parsing never evaluates anything.
    """
    if len(source) > MAX_EXPRESSION_LENGTH:
        return Analysis((), (), f"longer than {MAX_EXPRESSION_LENGTH:,} characters")
    try:
        template = _ENVIRONMENT.parse(source)
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno})" if source.count("\n") else ""
        return Analysis((), (), f"{exc.message}{where}")
    except RecursionError:
        return Analysis((), (), "nested too deeply")
    references = tuple(_references(template))
    allowed = set(ROOTS) | set(_ENVIRONMENT.globals) | extra_names
    unknown = sorted(name for name in _undeclared_names(template) if name not in allowed)
    return Analysis(references, tuple(unknown), output_paths=tuple(_output_paths(template)))


def _undeclared_names(template: ast.Template) -> set[str]:
    """Names read but never bound in the template (by `for`, `set`, a macro…).

    Deliberately not `jinja2.meta.find_undeclared_variables`: that runs the
    code generator, whose optimizer folds constants, so checking
    `{{ 'a' * 10**10 }}` would evaluate it. Checking never evaluates.
    """
    read: set[str] = set()
    bound: set[str] = set()
    for node, _parent in _walk(template, None):
        if isinstance(node, ast.Name):
            (read if node.ctx == "load" else bound).add(node.name)
        elif isinstance(node, ast.For):
            # A for block binds `loop` (loop.index, loop.first…) for its body.
            bound.add("loop")
    return read - bound


def _output_paths(template: ast.Template) -> Iterator[OutputPath]:
    parents: dict[int, ast.Node] = {}
    names: list[ast.Name] = []
    for node, parent in _walk(template, None):
        if parent is not None:
            parents[id(node)] = parent
        if isinstance(node, ast.Name) and node.ctx == "load" and node.name == "nodes":
            names.append(node)
    for name in names:
        keys: list[str | int] = []
        current: ast.Node = name
        while True:
            parent = parents.get(id(current))
            if isinstance(parent, ast.Getattr) and parent.node is current:
                keys.append(parent.attr)
            elif (isinstance(parent, ast.Getitem) and parent.node is current
                  and isinstance(parent.arg, ast.Const)
                  and isinstance(parent.arg.value, (str, int))
                  and not isinstance(parent.arg.value, bool)):
                keys.append(parent.arg.value)
            else:
                break
            current = parent
        call = parents.get(id(current))
        if isinstance(call, ast.Call) and call.node is current and isinstance(current, ast.Getattr):
            keys.pop()  # a method (`.items()`, `.upper()`), not a key of the output
        if keys and isinstance(keys[0], str):
            attribute = keys[1] if len(keys) > 1 and isinstance(keys[1], str) else None
            yield OutputPath(keys[0], attribute, tuple(keys[2:]))


def _references(template: ast.Template) -> Iterator[Reference]:
    for node, parent in _walk(template, None):
        if not (isinstance(node, ast.Name) and node.ctx == "load" and node.name in ROOTS):
            continue
        root: RootName = node.name
        key: str | None = None
        if isinstance(parent, ast.Getattr) and parent.node is node:
            key = parent.attr
        elif (
            isinstance(parent, ast.Getitem)
            and parent.node is node
            and isinstance(parent.arg, ast.Const)
            and isinstance(parent.arg.value, str)
        ):
            key = parent.arg.value
        yield Reference(root, key)


def _walk(node: ast.Node, parent: ast.Node | None) -> Iterator[tuple[ast.Node, ast.Node | None]]:
    yield node, parent
    for child in node.iter_child_nodes():
        yield from _walk(child, node)


def template_strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[
    tuple[tuple[str | int, ...], str]
]:
    """Every string holding expressions inside a config value, with its path."""
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from template_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from template_strings(item, (*path, index))
