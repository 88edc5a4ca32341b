"""Format generated source with black."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import black
from black.mode import TargetVersion

if TYPE_CHECKING:
    from catalyst.rendering import Part

_MODE = black.Mode(line_length=100, target_versions={TargetVersion.PY311})


def format_source(source: str) -> str:
    """black-formatted source; black's own error if the source does not parse."""
    return black.format_str(source, mode=_MODE)


@lru_cache(maxsize=64)
def _format_shared(text: str) -> str:
    return format_source(text)


def format_parts(parts: Sequence[Part]) -> str:
    """Format top-level parts one by one and join them as black would.

    Each part is a run of whole top-level statements, so formatting them
    apart gives black's result for the whole file (a test holds the output to
    `format_source(output) == output`). The runtime parts repeat across
    workflows and are formatted once per process; a workflow's own parts are
    never cached, so a long-running editor backend does not accumulate them.
    """
    formatted = (_format_shared(p.text) if p.shared else format_source(p.text) for p in parts)
    return "\n\n\n".join(text.strip("\n") for text in formatted) + "\n"
