"""The compiler's commands on posted documents, answering as `--format json` does.

Every function takes a parsed workflow document (an editor graph or a project
manifest) and returns the JSON payload of its endpoint together with whether
the workflow had errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalyst import model_listing, provider_models
from catalyst.cli import Report, Target
from catalyst.diagnostics import Diagnostic
from catalyst.formatting import FormatCache, format_parts
from catalyst.graph import GraphFormat, render_graph
from catalyst.loading import document_shape, load_document, workflow_ids
from catalyst.planning import Plan, plan_workflow
from catalyst.registry import node_types
from catalyst.rendering import render_parts
from catalyst.upgrade import upgrade_text
from catalyst.validation import CheckedWorkflow, check_workflow

# What diagnostics name as their `source`: the editor posts no file.
SOURCE_NAME = "workflow.json"


@dataclass
class Checked:
    report: Report
    checked: CheckedWorkflow | None

    @property
    def ok(self) -> bool:
        return self.checked is not None and not self.report.has_errors


def check_document(document: Any, workflow_id: str | None) -> Checked:
    """Load and check one workflow of the document (every workflow of a manifest
    when `workflow_id` is None, as `catalyst validate` does)."""
    report = Report("json", [])
    if workflow_id is None and document_shape(document) == "manifest":
        ids = workflow_ids(document)
        if ids:
            last: CheckedWorkflow | None = None
            for each in ids:
                one = _check_one(document, each, report)
                last = last or one
            return Checked(report, last if len(ids) == 1 else None)
    return Checked(report, _check_one(document, workflow_id, report))


def _check_one(document: Any, workflow_id: str | None, report: Report) -> CheckedWorkflow | None:
    target = Target(Path(SOURCE_NAME), workflow_id)
    loaded = load_document(document, source_name=SOURCE_NAME, workflow_id=workflow_id)
    diagnostics: list[Diagnostic] = list(loaded.diagnostics)
    checked = None
    if loaded.workflow is not None:
        checked = check_workflow(loaded.workflow)
        diagnostics += checked.diagnostics
    report.add(target, diagnostics)
    return checked


def validate(document: Any, workflow_id: str | None) -> dict[str, object]:
    return check_document(document, workflow_id).report.payload()


@dataclass
class Generated:
    payload: dict[str, object]
    plan: Plan | None
    ok: bool


def generate(document: Any, workflow_id: str | None, *, cache: FormatCache | None,
             formatted: bool = True) -> Generated:
    """The script (black-formatted unless `formatted` is False) and its requirements."""
    result = check_document(document, workflow_id)
    if not result.ok or result.checked is None:
        if result.checked is None and not result.report.has_errors:
            result.report.add(Target(Path(SOURCE_NAME), None), [Diagnostic(
                "workflow-required", "the manifest holds several workflows; say which",
                hint="pass `workflow` with one of: " + ", ".join(workflow_ids(document)),
            )])
        return Generated(result.report.payload({"script": None, "requirements": []}), None, False)
    plan = plan_workflow(result.checked)
    parts = render_parts(plan)
    if formatted:
        script = format_parts(parts, cache)
    else:
        script = "\n\n\n".join(part.text.strip("\n") for part in parts) + "\n"
    payload = result.report.payload({
        "script": script,
        "requirements": list(plan.dependencies),
        "formatted": formatted,
    })
    return Generated(payload, plan, True)


def upgrade(text: str, document: Any, problems: list[Diagnostic]
            ) -> tuple[dict[str, object], bool]:
    """`catalyst upgrade` on the file's text (parsed as `document`, or not: `problems`):
    the upgraded text and each change."""
    report = Report("json", [])
    target = Target(Path(SOURCE_NAME), None)
    if problems:
        report.add(target, problems)
        return report.payload({"text": text, "changed": False, "changes": []}), False
    result = upgrade_text(text, document, SOURCE_NAME)
    report.add(target, result.diagnostics)
    payload = report.payload({
        "text": result.text,
        "changed": result.ok and result.text != text,
        "changes": [{"pointer": c.pointer, "description": c.description}
                    for c in result.changes],
    })
    return payload, result.ok


def graph(document: Any, workflow_id: str | None, graph_format: GraphFormat
          ) -> tuple[dict[str, object], str | None]:
    result = check_document(document, workflow_id)
    if not result.ok or result.checked is None:
        return result.report.payload(), None
    return result.report.payload(), render_graph(result.checked, graph_format)


def nodes() -> list[dict[str, Any]]:
    """`catalyst nodes --format json`."""
    return [node_type.catalog_entry() for node_type in node_types().values()]


def models() -> dict[str, object]:
    """Providers (names of their key variables, never values) and the model table
    exactly as `catalyst models --json` lists it: current and retired (with the
    replacement) chat models, embedding models, limits and prices."""
    providers = [{
        "name": p.name, "label": p.label, "sdk": p.sdk, "key_env": p.key_env,
        "base_url_env": p.base_url_env, "base_url": p.base_url,
        "key_optional": p.key_optional, "serves": list(p.serves),
    } for p in provider_models.PROVIDERS]
    return {"providers": providers, "models": model_listing.table_rows()}
