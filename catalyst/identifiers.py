"""The one way a name in a generated script is chosen.

Node ids and labels are arbitrary text; Python names are not. The resolver
turns any text into a valid, readable, ASCII identifier that is not a keyword,
builtin or a name the script already uses, and never hands out the same name
twice.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from collections.abc import Iterable

from catalyst.literals import Code

_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
_NOT_NAME = re.compile(r"[^0-9a-zA-Z_]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(text: str) -> str:
    """`groqCompletion` -> `groq_completion`, `Build prompt!` -> `build_prompt`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    spaced = _CAMEL_BOUNDARY.sub("_", ascii_text)
    return _NOT_NAME.sub("_", spaced).strip("_").lower()


class IdentifierResolver:
    """Hands out unique, valid Python identifiers for one generated module."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken: set[str] = set(taken) | _RESERVED

    def reserve(self, names: Iterable[str]) -> None:
        self._taken.update(names)

    def resolve(self, text: str, *, prefix: str = "", fallback: str = "node") -> Code:
        base = prefix + (snake_case(text) or fallback)
        if base[0].isdigit():
            base = "_" + base
        name = base
        counter = 2
        while name in self._taken or not name.isidentifier():
            name = f"{base}_{counter}"
            counter += 1
        self._taken.add(name)
        return Code(name)
