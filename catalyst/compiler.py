"""The pipeline in one place: load → check → plan → render → format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from catalyst.diagnostics import Diagnostic, WorkflowError
from catalyst.formatting import format_parts
from catalyst.loading import LoadResult, load_workflow
from catalyst.planning import Plan, plan_workflow
from catalyst.rendering import render_parts
from catalyst.validation import CheckedWorkflow, check_workflow


@dataclass(frozen=True)
class Compiled:
    plan: Plan
    source: str
    warnings: list[Diagnostic]

    @property
    def requirements(self) -> str:
        return "".join(f"{requirement}\n" for requirement in self.plan.dependencies)


def check_file(path: Path, workflow_id: str | None = None) -> tuple[CheckedWorkflow | None,
                                                                    list[Diagnostic]]:
    """Load and check; every problem found, and the checked workflow if it loaded."""
    loaded: LoadResult = load_workflow(path, workflow_id)
    if loaded.workflow is None:
        return None, loaded.diagnostics
    checked = check_workflow(loaded.workflow)
    return checked, loaded.diagnostics + checked.diagnostics


def compile_checked(checked: CheckedWorkflow) -> Compiled:
    plan = plan_workflow(checked)
    source = format_parts(render_parts(plan))
    return Compiled(plan, source, [d for d in checked.diagnostics if not d.is_error])


def compile_file(path: Path, workflow_id: str | None = None) -> Compiled:
    """Compile a workflow file; WorkflowError carries every problem when it cannot."""
    checked, diagnostics = check_file(path, workflow_id)
    if checked is None or any(d.is_error for d in diagnostics):
        raise WorkflowError(diagnostics)
    return compile_checked(checked)
