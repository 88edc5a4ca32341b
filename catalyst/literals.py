"""The one way a user value becomes Python source.

Every prompt, label, id or config value that reaches a generated script goes
through `py_literal`, which builds on `repr` (never on hand-written escaping),
so `eval(py_literal(x)) == x` for any JSON-like value. The property tests hold
it to that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class Code(str):
    """Python source that Catalyst produced itself and vouches for.

    The template environment refuses to print a plain `str`: user text has to
    pass through `py_literal` (or the identifier resolver) to become `Code`.
    """

    __slots__ = ()


# Long text (prompts) is written as adjacent literals of at most this many
# characters, split after line breaks and spaces, so the script stays readable
# and within line-length limits. Python joins them at compile time.
_PIECE = 60


def py_literal(value: Any) -> Code:
    """Python source for a JSON-like value (None, bool, int, float, str, list, dict)."""
    return Code(_literal(value))


def _literal(value: Any) -> str:
    # bool before int: True is an int.
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(_literal(item) for item in value)
        return f"[{items}]"
    if isinstance(value, Mapping):
        pairs = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"mapping keys must be strings, got {type(key).__name__}")
            pairs.append(f"{_string(key)}: {_literal(item)}")
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as a Python literal")


def _string(text: str) -> str:
    if len(text) <= _PIECE + 10:
        return repr(text)
    pieces = [piece for line in text.splitlines(keepends=True) for piece in _pieces(line)]
    # Parentheses keep black from joining the pieces back onto one line.
    return "(" + " ".join(repr(piece) for piece in pieces) + ")"


def _pieces(line: str) -> list[str]:
    pieces = []
    while len(line) > _PIECE + 10:  # never leave a short orphan piece
        cut = line.rfind(" ", _PIECE // 2, _PIECE) + 1 or _PIECE
        pieces.append(line[:cut])
        line = line[cut:]
    return [*pieces, line] if line else pieces


def comment_text(text: str) -> Code:
    """User text for a `#` comment: a literal, so no line break can escape the comment."""
    return Code(repr(text))
