"""Format generated source with black, once."""

from __future__ import annotations

import black
from black.mode import TargetVersion

_MODE = black.Mode(line_length=100, target_versions={TargetVersion.PY311})


def format_source(source: str) -> str:
    """black-formatted source; black's own error if the source does not parse."""
    return black.format_str(source, mode=_MODE)
