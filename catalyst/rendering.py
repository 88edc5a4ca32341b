"""Render a plan into Python source with Jinja.

One environment factory serves production and tests. It refuses to print any
plain string: user text must go through the `py` literal filter or come from
the identifier resolver, both of which produce `Code`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from catalyst.literals import Code, comment_text, py_literal
from catalyst.planning import Plan, PlannedLink

_IMPORT_LINE = re.compile(r"\A(import [\w.]+|from [\w.]+ import [\w, ]+)\Z")


class UnsafeTemplateOutput(TypeError):
    """A template tried to print a value that did not pass the literal or name path."""


def _vouched(value: Any) -> Any:
    if isinstance(value, Code):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise UnsafeTemplateOutput(
        f"template printed {type(value).__name__} {value!r}; pass user values through `| py`"
    )


def _tuple_literal(values: Any) -> Code:
    items = [py_literal(value) for value in values]
    if len(items) == 1:
        return Code(f"({items[0]},)")
    return Code("(" + ", ".join(items) + ")")


def _link(link: PlannedLink) -> Code:
    arguments = [py_literal(link.source)]
    if link.field is not None:
        arguments.append(Code("field=" + py_literal(link.field)))
    if link.branch is not None:
        arguments.append(Code("branch=" + py_literal(link.branch)))
    if link.to is not None:
        arguments.append(Code("to=" + py_literal(link.to)))
    return Code(f"Link({', '.join(arguments)})")


def _toml_string(value: str) -> Code:
    # A JSON string is a valid TOML basic string.
    return Code(json.dumps(value))


def _statement(line: str) -> Code:
    if not _IMPORT_LINE.match(line):
        raise UnsafeTemplateOutput(f"not an import statement: {line!r}")
    return Code(line)


@cache
def template_environment() -> Environment:
    """The Jinja environment for script templates (skeleton and node types)."""
    search_path = [str(files("catalyst.templates")), str(files("catalyst.nodes"))]
    environment = Environment(
        loader=FileSystemLoader(search_path),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_vouched,
    )
    environment.filters["py"] = py_literal
    environment.filters["py_tuple"] = _tuple_literal
    environment.filters["py_dict"] = lambda pairs: py_literal(dict(pairs))
    environment.filters["comment"] = comment_text
    environment.filters["toml"] = _toml_string
    environment.filters["statement"] = _statement
    environment.filters["link"] = _link
    return environment


def _runtime(template_name: str, plan: Plan, data: Mapping[str, Any] | None = None) -> Code:
    module = template_environment().get_template(template_name).module
    return Code(str(module.runtime(plan, data or {})).strip("\n"))  # type: ignore[attr-defined]


def _node_runtimes(plan: Plan) -> list[Code]:
    runtimes = []
    for name in plan.runtime_templates:
        node_type = next(t for t in plan.node_types if t.template == name)
        data = node_type.template_data() if node_type.template_data else {}
        runtimes.append(_runtime(name, plan, data))
    return runtimes


@dataclass(frozen=True)
class Part:
    """A run of whole top-level statements of the script.

    `shared` parts (the runtime) depend only on the Catalyst version and a few
    plan flags, so the formatter may reuse their formatted text.
    """

    text: str
    shared: bool


def render_parts(plan: Plan) -> list[Part]:
    """The generated script as top-level parts, in order, before formatting.

    The runtime parts depend only on the Catalyst version and a few plan
    flags, so the formatter can reuse their formatted text across workflows.
    """
    workflow = plan.workflow
    inputs = {
        spec.name: {
            "type": spec.type,
            "required": spec.required,
            "description": spec.description,
            **({"default": spec.default} if spec.has_default else {}),
        }
        for spec in plan.inputs
    }
    environment = template_environment()
    header = environment.get_template("script.jinja").render(
        plan=plan,
        workflow_info={
            "id": workflow.id,
            "name": workflow.name,
            "description": workflow.description,
            "source": workflow.source_name,
            **(
                {"trigger": {"type": workflow.trigger.type, "config": workflow.trigger.config}}
                if workflow.trigger is not None
                else {}
            ),
        },
        inputs=inputs,
    )
    parts = [Part(header, shared=False), Part(_runtime("runtime.jinja", plan), shared=True)]
    if plan.uses_expressions:
        parts.append(Part(_runtime("expressions.jinja", plan), shared=True))
    parts += [
        Part(_runtime(part.template, plan, part.template_data() if part.template_data else None),
             shared=True)
        for part in plan.runtime_parts if part.template is not None
    ]
    parts += [Part(code, shared=True) for code in _node_runtimes(plan)]
    parts.append(Part(environment.get_template("workflow.jinja").render(plan=plan), shared=False))
    # The command line last: its `if __name__ == "__main__"` needs everything above.
    # --check, for a script that calls model providers.
    tail = ("batch.jinja", "dask.jinja", *(("health.jinja",) if plan.provider_uses else ()),
            "cli.jinja")
    parts += [Part(_runtime(name, plan), shared=True) for name in tail]
    return parts


def render_script(plan: Plan) -> str:
    """The generated script in one piece, before formatting."""
    return "\n\n\n".join(part.text.strip("\n") for part in render_parts(plan)) + "\n"


def served_routes(plan: Plan) -> list[tuple[str, str]]:
    """(method, path) of each httpEndpoint entry of the workflow, each once."""
    configs = [node.config for node in plan.nodes if node.node_type.type == "httpEndpoint"]
    trigger = plan.workflow.trigger
    if trigger is not None and trigger.type == "httpEndpoint":
        configs.append(trigger.config)
    routes = [(str(config.get("method") or "POST").upper(), str(config.get("path") or "/"))
              for config in configs]
    return list(dict.fromkeys(routes))


def render_app(
    scripts: Sequence[tuple[Plan, str]], source_name: str, name: str, description: str
) -> str:
    """`catalyst generate MANIFEST --app`: one app serving every workflow of a
    project (`name`, `description`: its metadata), each workflow's generated
    script (file name given) beside it."""
    port = scripts[0][0].workflow.project_config.get("port")
    digest = hashlib.sha256("".join(p.workflow.source_sha256 for p, _ in scripts).encode())
    return template_environment().get_template("app.jinja").render(
        requires_python=scripts[0][0].requires_python,
        dependencies=sorted({req for plan, _ in scripts for req in plan.dependencies}),
        project=name,
        source=source_name,
        version=scripts[0][0].catalyst_version,
        project_info={
            "name": name,
            "description": description,
            "version": digest.hexdigest()[:16],
            "port": port if isinstance(port, int) and not isinstance(port, bool)
            and 0 < port < 65536 else 8000,
        },
        workflows={plan.workflow.id: file_name for plan, file_name in scripts},
    )
