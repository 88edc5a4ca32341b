"""Problems found in a workflow, as values: collected in one pass, reported together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from catalyst.keys import redact
from catalyst.terminal import printable

Severity = Literal["error", "warning"]


# A hint lists at most this many options: with thousands of nodes, listing
# every id in every diagnostic would make reports quadratic in the file.
MAX_LISTED = 20
# Reports print at most this many diagnostics per source (JSON: MAX_REPORTED).
MAX_PRINTED = 100
MAX_REPORTED = 1000


def listing(items: Iterable[str], limit: int = MAX_LISTED) -> str:
    """`a, b, c` — or the first `limit` and how many more."""
    shown: list[str] = []
    more = 0
    for item in items:
        if len(shown) < limit:
            shown.append(item)
        else:
            more += 1
    return ", ".join(shown) + (f", … ({more} more)" if more else "")


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
        # A pasted key must not travel further in a report than in the file, whichever
        # field it would ride in: a key used as an id or an object key ends up in
        # node_id, edge_id or the path of every other problem about that place.
        for name in ("message", "hint", "path", "node_id", "edge_id"):
            text = getattr(self, name)
            if text is not None:
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
    ordered = sorted(diagnostics, key=sort_key)
    for d in ordered[:MAX_PRINTED]:
        where = [f"node {d.node_id!r}"] if d.node_id is not None else []
        if d.edge_id is not None:
            where.append(f"edge {d.edge_id!r}")
        if d.path:
            where.append(f"at {d.path}")
        location = f" ({', '.join(where)})" if where else ""
        lines.append(f"{source}: {d.severity} [{d.code}]{location}: {d.message}")
        if d.hint:
            lines.append(f"    hint: {d.hint}")
    if len(ordered) > MAX_PRINTED:
        lines.append(f"{source}: … and {len(ordered) - MAX_PRINTED} more "
                     "(--format json lists them)")
    errors = len(errors_in(diagnostics))
    warnings = len(diagnostics) - errors
    lines.append(f"{source}: {errors} error(s), {warnings} warning(s)")
    return printable("\n".join(lines))
