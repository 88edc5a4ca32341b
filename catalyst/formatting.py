"""Format generated source with black."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import black
from black.mode import TargetVersion
from black.parsing import InvalidInput

if TYPE_CHECKING:
    from catalyst.rendering import Part

_MODE = black.Mode(line_length=100, target_versions={TargetVersion.PY311})


def format_source(source: str) -> str:
    """black-formatted source; black's own error if the source does not parse."""
    return black.format_str(source, mode=_MODE)


@lru_cache(maxsize=64)
def _format_shared(text: str) -> str:
    return format_source(text)


class FormatCache:
    """Formatted text of top-level blocks by content; the `size` most recent are kept
    (and no more than `max_chars` characters of text, source and result together).

    For a long-running process (the editor backend) that formats the same
    workflow again and again after small edits: `format_parts(parts, cache)`
    formats a workflow's own parts block by block (one block per top-level
    function), so after a one-node edit only that node's block goes to black.
    Bounded, so it never accumulates every workflow it has seen.
    """

    def __init__(self, size: int = 4096, max_chars: int = 64_000_000) -> None:
        self.size = size
        self.max_chars = max_chars
        self._formatted: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self.hits = 0
        self.misses = 0

    def format(self, text: str) -> str:
        found = self._formatted.get(text)
        if found is not None:
            self._formatted.move_to_end(text)
            self.hits += 1
            return found
        self.misses += 1
        formatted = format_source(text)
        self._formatted[text] = formatted
        self._chars += len(text) + len(formatted)
        while self._formatted and (len(self._formatted) > self.size
                                   or self._chars > self.max_chars):
            old, old_formatted = self._formatted.popitem(last=False)
            self._chars -= len(old) + len(old_formatted)
        return formatted

    def format_part(self, text: str) -> str:
        """A part formatted block by block; whole when a block does not stand alone.

        Plain comment lines opening the part (a script's header, which names
        the workflow's content digest) pass through black unchanged, so they
        are kept apart and the code after them is what gets cached.
        """
        comments, text = _leading_comments(text)
        blocks = top_level_blocks(text)
        try:
            joined = "\n\n\n".join(self._block(block).strip("\n") for block in blocks)
        except InvalidInput:
            return comments + self.format(text)
        return comments + joined + "\n"


    def _block(self, block: str) -> str:
        """One block; a collection written one item a line (a step table) item by item.

        With its magic trailing comma black keeps such a collection one item a
        line and formats each item on its own, so each item is formatted (and
        cached) inside a stand-in `_ = (...)` of two items and put back.
        """
        split = _collection(block)
        if split is None:
            return self.format(block)
        head, items, tail = split
        probe = f"{head}\n    None,\n    None,\n)\n"
        if self.format(probe) != probe:
            return self.format(block)
        lines = []
        for item in items:
            wrapped = self.format(f"_ = (\n{item}    None,\n)\n")
            if not (wrapped.startswith("_ = (\n") and wrapped.endswith("    None,\n)\n")):
                return self.format(block)
            lines.append(wrapped[len("_ = (\n"):-len("    None,\n)\n")])
        return f"{head}\n{''.join(lines)})\n" + (self.format(tail) if tail else "")


_COLLECTION_HEAD = re.compile(r"[A-Za-z_]\w*(?:: [^\n=]+)? = [(\[{]\n")
_CLOSERS = {"(": ")\n", "[": "]\n", "{": "}\n"}


def _collection(block: str) -> tuple[str, list[str], str] | None:
    """(head, item lines, the rest) of a block that opens with `NAME = (` and one
    item a line, each ending in a comma; None for any other block."""
    lines = block.splitlines(keepends=True)
    if not lines or not _COLLECTION_HEAD.fullmatch(lines[0]):
        return None
    closer = _CLOSERS[lines[0][-2]]
    try:
        end = lines.index(closer)
    except ValueError:
        return None
    items = lines[1:end]
    if len(items) < 2 or not all(
        item.startswith("    ") and item[4:5] not in (" ", "#", "") and item.endswith(",\n")
        for item in items
    ):
        return None
    tail = "".join(lines[end + 1:])
    if tail[:1].isspace():
        return None  # blank lines after it are black's to keep or drop
    return lines[0][:-1], items, tail


# A comment line black leaves exactly as it is: "#" then a space and text, no
# trailing space, no pragma black or a type checker reads.
_PLAIN_COMMENT = re.compile(r"#(?: (?![^\n]*\b(?:fmt|type|yapf):)[^\n\r]*\S)?\n")


def _leading_comments(text: str) -> tuple[str, str]:
    """(the plain comment lines opening `text`, the rest), when code follows
    them directly (a blank line between would be black's to keep or drop)."""
    end = 0
    while (match := _PLAIN_COMMENT.match(text, end)) is not None:
        end = match.end()
    rest = text[end:]
    if end == 0 or not rest[:1].strip() or rest.startswith((" ", "\t", "#")):
        return "", text
    return text[:end], rest


# Where a top-level function or class (with its decorators and the comments
# just above it) begins. black puts exactly two blank lines before such a
# block and after it, whatever the source had, which is why blocks can be
# formatted apart and joined with two blank lines.
_DEF_START = re.compile(r"(?:async def |def |class |@)")
_CLOSING = re.compile(r"[)\]}]")


def top_level_blocks(text: str) -> list[str]:
    """`text` cut before each top-level def/class and after it.

    Only lines at column 0 that follow a blank line are candidates (a
    bracket's closing line is never one). A cut inside a multi-line string
    leaves a block black cannot parse, and FormatCache.format_part then
    formats the part whole.
    """
    lines = text.splitlines(keepends=True)
    blocks: list[list[str]] = [[]]
    block_has_def = False
    index = 0
    while index < len(lines):
        line = lines[index]
        candidate = (
            index > 0
            and not lines[index - 1].strip()
            and line[:1] not in ("", " ", "\t", "\n", "\r")
            and not _CLOSING.match(line)
        )
        if candidate:
            statement = index
            while statement < len(lines) and lines[statement].startswith("#"):
                statement += 1
            starts_def = statement < len(lines) and bool(_DEF_START.match(lines[statement]))
            if (starts_def or block_has_def) and any(part.strip() for part in blocks[-1]):
                blocks.append([])
                block_has_def = False
            block_has_def = block_has_def or starts_def
            blocks[-1].extend(lines[index:statement + 1])
            index = statement + 1
            continue
        if index == 0 and _DEF_START.match(line):
            block_has_def = True
        blocks[-1].append(line)
        index += 1
    return ["".join(block) for block in blocks if any(line.strip() for line in block)]


def format_parts(parts: Sequence[Part], cache: FormatCache | None = None) -> str:
    """Format top-level parts one by one and join them as black would.

    Each part is a run of whole top-level statements, so formatting them
    apart gives black's result for the whole file (a test holds the output to
    `format_source(output) == output`). The runtime parts repeat across
    workflows and are formatted once per process. A workflow's own parts are
    formatted afresh, unless the caller passes a bounded `cache` for them (a
    long-running editor backend; see FormatCache): the bytes are the same.
    """
    if cache is None:
        formatted = (_format_shared(p.text) if p.shared else format_source(p.text) for p in parts)
    else:
        formatted = (_format_shared(p.text) if p.shared else cache.format_part(p.text)
                     for p in parts)
    return "\n\n\n".join(text.strip("\n") for text in formatted) + "\n"
