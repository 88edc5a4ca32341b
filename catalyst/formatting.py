"""Format generated source with black."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import black
from black.mode import TargetVersion

_MODE = black.Mode(line_length=100, target_versions={TargetVersion.PY311})


def format_source(source: str) -> str:
    """black-formatted source; black's own error if the source does not parse."""
    return black.format_str(source, mode=_MODE)


@lru_cache(maxsize=256)
def _format_part(part: str) -> str:
    return format_source(part)


def format_parts(parts: Sequence[str]) -> str:
    """Format top-level parts one by one and join them as black would.

    Each part is a run of whole top-level statements, so formatting them
    apart gives black's result for the whole file (a test holds the output to
    `format_source(output) == output`). The runtime parts repeat across
    workflows and are formatted once per process.
    """
    return "\n\n\n".join(_format_part(part).strip("\n") for part in parts) + "\n"
