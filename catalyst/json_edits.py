"""Edit JSON text at JSON pointers, leaving every other character as it was.

`catalyst upgrade` rewrites old spellings in a workflow file (a renamed config
key, a retired value, JSON text that should be a JSON value) and must not
reformat anything else: people keep these files in version control, and a diff
should show only what the upgrade changed. So instead of `json.loads` +
`json.dumps`, this module scans the text once, remembers where each value (and
each object member's key) starts and ends, and splices replacements into the
original text.

Contract:

- Input is a `str` (decoded UTF-8 without a BOM) holding one JSON document, as
  `json.loads` accepts it (including its `NaN`/`Infinity` extensions); invalid
  text raises `json.JSONDecodeError` (a `ValueError`). Nesting deeper than
  `MAX_DEPTH` raises `ValueError` instead of exhausting the stack.
- Edits are addressed by RFC 6901 pointers (`~0` for `~`, `~1` for `/`, as
  `catalyst.diagnostics.json_pointer` writes them) into the ORIGINAL document;
  all of them apply in one pass. A pointer that names nothing raises `KeyError`
  with the pointer; a malformed pointer raises `ValueError`.
- `RenameKey` rewrites only the member's key token; `ReplaceValue` rewrites only
  the value's token(s). A rename and a replacement of the same member both
  apply. An edit inside a value that another edit replaces is a `ValueError`
  (its target would no longer exist), as is a rename to a key that the object
  already has (after all renames in that object).
- Outside the edited spans the output is the input, character for character:
  line endings, tabs, spacing, key order, escapes in untouched strings
  (`"\\u00e9"` stays six characters) and numbers as written (`1.0`, `1e3`).
- Duplicate keys: JSON allows them and `json.loads` keeps the last, so a
  pointer through a duplicated key addresses the LAST occurrence. Renaming a
  duplicated key is a `ValueError`: the earlier occurrence would become visible
  and silently change the document's meaning.

New text is written with `json.dumps(..., ensure_ascii=False)`. A replacement
object or array follows the layout around it: if the replaced value, or else
the container holding it, spreads its members over indented lines, the new
value is indented the same way (same indent unit, same line ending, continuing
from the indentation of the line it starts on); otherwise it is written on one
line with `json.dumps`'s default separators.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "MAX_DEPTH",
    "Edit",
    "JsonDocument",
    "Location",
    "RenameKey",
    "ReplaceValue",
    "Span",
    "apply_edits",
]

#: Deepest nesting of objects/arrays accepted. Workflow files nest a handful of
#: levels; anything near this is hostile or broken, and a clear error beats a
#: `RecursionError` from whichever tool touches the file next.
MAX_DEPTH = 1000

#: Half-open `[start, end)` character offsets into the text.
Span = tuple[int, int]


@dataclass(frozen=True)
class RenameKey:
    """Give the object member at `pointer` the key `new_key`, in place."""

    pointer: str
    new_key: str


@dataclass(frozen=True)
class ReplaceValue:
    """Replace the value at `pointer` by `new_value` (anything `json.dumps` takes)."""

    pointer: str
    new_value: object


Edit = RenameKey | ReplaceValue


@dataclass(frozen=True)
class Location:
    """Where a pointer's value, and its key if it is an object member, are in the text."""

    value_span: Span
    key_span: Span | None


@dataclass(eq=False, slots=True)
class _Node:
    """One scanned value; containers keep their children for pointer lookup."""

    start: int
    end: int = -1
    key_span: Span | None = None
    # Objects: the member each key resolves to (last occurrence wins, as in
    # json.loads) and every key in order, duplicates included, for renames.
    members: dict[str, _Node] | None = None
    keys: list[str] = field(default_factory=list)
    items: list[_Node] | None = None
    # Where the first member's key (or first item) starts: the gap before it
    # tells whether the container is laid out over indented lines.
    first_child_start: int | None = None


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_INDENT = re.compile(r"[ \t]*")
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_DECODER = json.JSONDecoder()


def _skip_ws(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    assert match is not None  # `*` matches the empty string
    return match.end()


def _error(message: str, text: str, pos: int) -> json.JSONDecodeError:
    return json.JSONDecodeError(message, text, pos)


def _scan_scalar(text: str, pos: int) -> int:
    """End of the string, number or literal at `pos`, validated as json.loads would."""
    # raw_decode reads exactly one value with json's own rules; it is only
    # given scalars, so it never recurses.
    _, end = _DECODER.raw_decode(text, pos)
    return end


def _scan_key(text: str, pos: int) -> tuple[str, Span, int]:
    """The member key at `pos`, its span, and the position after its colon."""
    if not text.startswith('"', pos):
        raise _error("Expecting property name enclosed in double quotes", text, pos)
    key, end = _DECODER.raw_decode(text, pos)
    assert isinstance(key, str)
    colon = _skip_ws(text, end)
    if not text.startswith(":", colon):
        raise _error("Expecting ':' delimiter", text, colon)
    return key, (pos, end), _skip_ws(text, colon + 1)


class _Scanner:
    """Builds the `_Node` tree with an explicit stack, so depth costs heap, not stack."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stack: list[_Node] = []
        # The key (and its span) the next value in the innermost object belongs to.
        self.pending_key: tuple[str, Span] | None = None

    def scan(self) -> _Node:
        text = self.text
        if text.startswith("\ufeff"):
            raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        pos = _skip_ws(text, 0)
        root: _Node | None = None
        while True:
            node, pos, in_new_container = self._open_value(pos)
            if root is None:
                root = node
            if in_new_container:
                continue  # `pos` is already at the container's first value
            pos = self._close_containers(pos)
            if not self.stack:
                break
        if pos != len(text):
            raise _error("Extra data", text, pos)
        return root

    def _open_value(self, pos: int) -> tuple[_Node, int, bool]:
        """Scan the value at `pos`: a whole scalar, or a container's opening.

        Returns the node, where scanning goes on, and whether that is inside a
        just-opened, non-empty container (at its first value).
        """
        text = self.text
        node = _Node(start=pos)
        self._attach(node)
        opener = text[pos : pos + 1]
        if opener not in ("{", "["):
            node.end = _scan_scalar(text, pos)
            return node, node.end, False
        if len(self.stack) >= MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels at character {pos}")
        closer = "}" if opener == "{" else "]"
        if opener == "{":
            node.members = {}
        else:
            node.items = []
        self.stack.append(node)
        pos = _skip_ws(text, pos + 1)
        if text.startswith(closer, pos):
            return node, pos, False  # empty: _close_containers consumes the closer
        node.first_child_start = pos
        return node, self._start_member(node, pos), True

    def _start_member(self, container: _Node, pos: int) -> int:
        """Position of the next value; for objects, first read its key."""
        if container.members is None:
            return pos
        key, span, pos = _scan_key(self.text, pos)
        self.pending_key = (key, span)
        return pos

    def _attach(self, node: _Node) -> None:
        if not self.stack:
            return
        parent = self.stack[-1]
        if parent.items is not None:
            parent.items.append(node)
            return
        assert parent.members is not None and self.pending_key is not None
        key, node.key_span = self.pending_key
        parent.members[key] = node
        parent.keys.append(key)
        self.pending_key = None

    def _close_containers(self, pos: int) -> int:
        """After a value: close finished containers; stop before the next value."""
        text = self.text
        while True:
            pos = _skip_ws(text, pos)
            if not self.stack:
                return pos
            top = self.stack[-1]
            closer = "}" if top.members is not None else "]"
            if text.startswith(closer, pos):
                top.end = pos + 1
                self.stack.pop()
                pos += 1
            elif text.startswith(",", pos):
                return self._start_member(top, _skip_ws(text, pos + 1))
            else:
                raise _error(f"Expecting ',' delimiter or '{closer}'", text, pos)


def _pointer_tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    raw_tokens = pointer[1:].split("/")
    for raw in raw_tokens:
        if re.search(r"~(?![01])", raw):
            raise ValueError(f"JSON pointer {pointer!r}: '~' must be followed by 0 or 1")
    # ~1 before ~0, so "~01" decodes to "~1" and not "/" (RFC 6901, section 4).
    return [raw.replace("~1", "/").replace("~0", "~") for raw in raw_tokens]


def _line_indent(text: str, pos: int) -> str:
    """The spaces and tabs that begin the line holding `pos`."""
    line_start = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1
    match = _INDENT.match(text, line_start, pos)
    assert match is not None
    return match.group()


def _layout(text: str, container: _Node | None) -> tuple[str, str] | None:
    """(line ending, indent unit) if `container` puts its members on indented lines."""
    if container is None or container.first_child_start is None:
        return None
    gap = text[container.start + 1 : container.first_child_start]
    if "\n" not in gap and "\r" not in gap:
        return None
    newline = "\r\n" if "\r\n" in gap else ("\n" if "\n" in gap else "\r")
    outer = _line_indent(text, container.start)
    inner = _line_indent(text, container.first_child_start)
    if inner == outer or not inner.startswith(outer):
        return None  # no consistent indent step to copy
    return newline, inner[len(outer) :]


class JsonDocument:
    """JSON text scanned once, for locating values and applying edits by pointer."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._root = _Scanner(text).scan()

    def locate(self, pointer: str) -> Location:
        """Spans of the value at `pointer` and of its key (None for array items, root)."""
        node, _ = self._resolve(pointer)
        return Location(value_span=(node.start, node.end), key_span=node.key_span)

    def apply(self, edits: Sequence[Edit]) -> str:
        """The text with all `edits` applied; see the module docstring for the rules."""
        splices: list[tuple[int, int, str, str]] = []  # start, end, new text, pointer
        renames: dict[int, tuple[_Node, list[tuple[str, str, str]]]] = {}
        seen: set[tuple[type, str]] = set()
        for edit in edits:
            if (type(edit), edit.pointer) in seen:
                raise ValueError(f"more than one {type(edit).__name__} for {edit.pointer!r}")
            seen.add((type(edit), edit.pointer))
            node, parent = self._resolve(edit.pointer)
            if isinstance(edit, ReplaceValue):
                new_text = self._render(edit.new_value, node, parent)
                splices.append((node.start, node.end, new_text, edit.pointer))
                continue
            if parent is None or parent.members is None or node.key_span is None:
                raise ValueError(f"{edit.pointer!r} is not an object member: no key to rename")
            old_key = _pointer_tokens(edit.pointer)[-1]
            if old_key == edit.new_key:
                # Keep the token as written (escapes and all), but still as a
                # splice, so a rename inside a replaced value is refused either way.
                original = self.text[node.key_span[0] : node.key_span[1]]
                splices.append((*node.key_span, original, edit.pointer))
                continue
            group = renames.setdefault(id(parent), (parent, []))[1]
            group.append((old_key, edit.new_key, edit.pointer))
        for parent, group in renames.values():
            splices.extend(self._rename_splices(parent, group))
        return self._splice(splices)

    def _resolve(self, pointer: str) -> tuple[_Node, _Node | None]:
        """The node at `pointer` and the container holding it."""
        node, parent = self._root, None
        for token in _pointer_tokens(pointer):
            child: _Node | None = None
            if node.members is not None:
                child = node.members.get(token)
            elif node.items is not None and _ARRAY_INDEX.fullmatch(token):
                index = int(token)
                child = node.items[index] if index < len(node.items) else None
            if child is None:
                raise KeyError(pointer)
            node, parent = child, node
        return node, parent

    def _rename_splices(
        self, parent: _Node, group: list[tuple[str, str, str]]
    ) -> list[tuple[int, int, str, str]]:
        """Key-token splices for the renames in one object, after checking for clashes."""
        assert parent.members is not None
        counts = Counter(parent.keys)
        for old_key, _, pointer in group:
            if counts[old_key] > 1:
                raise ValueError(
                    f"cannot rename {pointer!r}: key {old_key!r} occurs {counts[old_key]} times"
                    " in its object, and renaming the last would expose an earlier one"
                )
        # Judge clashes on the keys after every rename in this object, so that
        # swapping two keys is allowed and two renames to one key are not.
        final = counts.copy()
        for old_key, new_key, _ in group:
            final[old_key] -= 1
            final[new_key] += 1
        splices = []
        for old_key, new_key, pointer in group:
            if final[new_key] > 1:
                raise ValueError(
                    f"cannot rename {pointer!r} to {new_key!r}: its object already has that key"
                )
            key_span = parent.members[old_key].key_span
            assert key_span is not None
            new_text = json.dumps(new_key, ensure_ascii=False)
            splices.append((key_span[0], key_span[1], new_text, pointer))
        return splices

    def _render(self, value: object, node: _Node, parent: _Node | None) -> str:
        """`value` as JSON, laid out like the value it replaces or its container."""
        layout = _layout(self.text, node) or _layout(self.text, parent)
        if layout is None or not isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        newline, unit = layout
        dumped = json.dumps(value, ensure_ascii=False, indent=unit)
        # json.dumps escapes line breaks inside strings, so every "\n" here is
        # layout and can take the document's line ending and indentation.
        return (newline + _line_indent(self.text, node.start)).join(dumped.split("\n"))

    def _splice(self, splices: list[tuple[int, int, str, str]]) -> str:
        """The original text with each span replaced; all spans refer to the original.

        Joining slices of the original text in order is the same as applying
        the edits from the end backwards: no edit moves another's span.
        """
        # Outer spans before the spans they contain, so nesting shows as overlap.
        splices.sort(key=lambda splice: (splice[0], -splice[1]))
        pieces: list[str] = []
        done = 0
        previous_pointer = ""
        for start, end, new_text, pointer in splices:
            if start < done:
                raise ValueError(
                    f"edit at {pointer!r} lies inside the value replaced at {previous_pointer!r}"
                )
            pieces += [self.text[done:start], new_text]
            done, previous_pointer = end, pointer
        pieces.append(self.text[done:])
        return "".join(pieces)


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """`text` with `edits` applied at their pointers; everything else unchanged."""
    return JsonDocument(text).apply(edits)
