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


# Prompts with line breaks read better as one literal per line; below this
# length a single literal is easier to scan.
_SPLIT_MULTILINE_AT = 60


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
    lines = text.splitlines(keepends=True)
    if len(text) < _SPLIT_MULTILINE_AT or len(lines) < 2:
        return repr(text)
    # Adjacent literals concatenate at compile time; parentheses keep black
    # from reflowing them onto one line.
    return "(" + " ".join(repr(line) for line in lines) + ")"


def comment_text(text: str) -> Code:
    """User text for a `#` comment: a literal, so no line break can escape the comment."""
    return Code(repr(text))
