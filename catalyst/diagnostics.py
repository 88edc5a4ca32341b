"""Problems found in a workflow, as values: collected in one pass, reported together."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


_SECRET = re.compile(r"gsk_[A-Za-z0-9]+")


def redact(text: str) -> str:
    """`text` with anything that looks like a Groq key cut to `gsk_…`."""
    return _SECRET.sub("gsk_…", text)


def json_pointer(*parts: str | int) -> str:
    """RFC 6901 pointer for a path in the workflow file (`~` and `/` escaped)."""
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return "".join("/" + part for part in escaped)


@dataclass(frozen=True)
class Diagnostic:
    """One problem, pinned to the node, edge and JSON field it is about."""

    code: str
    message: str
    path: str = ""
    node_id: str | None = None
    edge_id: str | None = None
    hint: str | None = None
    severity: Severity = "error"

    def __post_init__(self) -> None:
        # A pasted key must not travel further in a report than in the file.
        for name in ("message", "hint"):
            text = getattr(self, name)
            if text is not None and "gsk_" in text:
                object.__setattr__(self, name, redact(text))

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


class WorkflowError(Exception):
    """Raised when a workflow cannot be compiled; carries every problem found."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        super().__init__(f"{len(errors)} problem(s) in workflow")


def errors_in(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


def sort_key(diagnostic: Diagnostic) -> tuple[int, str, str]:
    """Errors first, then by location, so reports read top to bottom."""
    return (0 if diagnostic.is_error else 1, diagnostic.path, diagnostic.code)


def format_text(diagnostics: Sequence[Diagnostic], source: str) -> str:
    """Human report: one block per problem, with where, what and how to fix."""
    lines: list[str] = []
    for d in sorted(diagnostics, key=sort_key):
        where = [f"node {d.node_id!r}"] if d.node_id is not None else []
        if d.edge_id is not None:
            where.append(f"edge {d.edge_id!r}")
        if d.path:
            where.append(f"at {d.path}")
        location = f" ({', '.join(where)})" if where else ""
        lines.append(f"{source}: {d.severity} [{d.code}]{location}: {d.message}")
        if d.hint:
            lines.append(f"    hint: {d.hint}")
    errors = len(errors_in(diagnostics))
    warnings = len(diagnostics) - errors
    lines.append(f"{source}: {errors} error(s), {warnings} warning(s)")
    return "\n".join(lines)
