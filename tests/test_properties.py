"""The two headline properties, over workflows hypothesis builds from the real node types.

1. Any text in any string field reaches the generated module exactly: ids, labels,
   names, descriptions, inputs, prompts, log messages, field values, workflow ids.
2. Every workflow that validates without errors generates code that compiles.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from workflow_builders import as_manifest_workflow, edge, graph, manifest, node

from catalyst.compiler import compile_checked
from catalyst.expressions import is_template
from catalyst.keys import looks_like_key
from catalyst.loading import load_document
from catalyst.nodes.triggers import SERVICE_PATHS
from catalyst.planning import plan_workflow
from catalyst.registry import NodeType, node_types
from catalyst.rendering import render_script
from catalyst.validation import CheckedWorkflow, check_workflow

CATALOG = node_types()
TRIGGER_TYPES = sorted(name for name, t in CATALOG.items() if t.is_trigger)
WORK_TYPES = ["promptTemplate", "groqCompletion", "condition", "editFields", "log"]
_module_numbers = itertools.count()

# Formatting a whole script with black takes about a second: few examples there.
WITH_BLACK = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _no_key(text: str) -> bool:
    return not looks_like_key(text)


# Any text at all, lone surrogates included (JSON can spell them: "\ud800"), as long
# as it does not look like an API key: the secret check rightly refuses those.
# Any Unicode text. Lone surrogates (which JSON escapes can encode) are not
# Unicode text: loading refuses them, see test_loading.py.
_any_character = st.characters(exclude_categories=["Cs"])
text = st.text(_any_character, max_size=16).filter(_no_key)
nonempty_text = st.text(_any_character, min_size=1, max_size=16).filter(_no_key)
# Config strings holding {{, {% or {# are templates by design; keep them out here.
config_text = text.filter(lambda s: not is_template(s))
nonempty_config_text = nonempty_text.filter(lambda s: not is_template(s))
json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | config_text


# -- property 1: text round-trips ---------------------------------------------------------------


@dataclass(frozen=True)
class TextWorkflow:
    """A fixed chain of every node type, every string in it drawn at random."""

    shape: str
    source_name: str
    workflow_id: str
    name: str
    description: str
    inputs: dict[str, dict[str, Any]]
    globals: dict[str, str]
    ids: list[str]
    labels: list[str]
    trigger_config: dict[str, str]
    messages: list[dict[str, str]]
    prompt: str
    system_prompt: str
    fields: dict[str, Any]
    log_message: str
    log_data: dict[str, Any]
    edge_ids: list[str]

    def document(self) -> dict[str, Any]:
        trigger, prompt, llm, check, edit, log = self.ids
        nodes = [
            node(trigger, "scheduledTask", self.trigger_config, label=self.labels[0]),
            node(prompt, "promptTemplate", {"messages": self.messages}, label=self.labels[1]),
            node(llm, "groqCompletion", {"prompt": self.prompt,
                                         "systemPrompt": self.system_prompt},
                 label=self.labels[2]),
            node(check, "condition", {"expression": "{{ true }}"}, label=self.labels[3]),
            node(edit, "editFields", {"mode": "replace", "fields": self.fields},
                 label=self.labels[4]),
            node(log, "log", {"message": self.log_message, "data": self.log_data},
                 label=self.labels[5]),
        ]
        edges = [
            edge(trigger, prompt, id=self.edge_ids[0]),
            edge(prompt, llm, id=self.edge_ids[1], source_handle="output"),
            edge(llm, check, id=self.edge_ids[2], target_handle="input"),
            edge(check, edit, id=self.edge_ids[3], source_handle="true"),
            edge(edit, log, id=self.edge_ids[4], source_handle=None, target_handle=None),
        ]
        if self.shape == "manifest":
            # A second log reads a global, so the script carries GLOBALS.
            nodes.append(node("reads-global", "log", {"message": "{{ global.G }}"}))
        document = graph(*nodes, edges=edges, inputs=self.inputs, id=self.workflow_id,
                         name=self.name, description=self.description)
        if self.shape == "graph":
            return document
        return manifest({self.workflow_id: as_manifest_workflow(document, self.workflow_id)},
                        global_variables=self.globals)


input_spec = st.builds(
    lambda description, default: {"type": "string", "description": description,
                                  **({} if default is None else {"default": default})},
    text, st.none() | config_text,
)
roles = st.sampled_from(["system", "user", "assistant"])
text_workflows = st.builds(
    TextWorkflow,
    shape=st.sampled_from(["graph", "manifest"]),
    source_name=nonempty_text,
    workflow_id=nonempty_text,
    name=nonempty_text,
    description=text,
    inputs=st.dictionaries(text, input_spec, max_size=3),
    globals=st.dictionaries(text, config_text, max_size=2).flatmap(
        lambda extra: config_text.map(lambda value: {**extra, "G": value})),
    ids=st.lists(nonempty_text.filter(lambda s: s != "reads-global"), min_size=6, max_size=6,
                 unique=True),
    labels=st.lists(nonempty_text, min_size=6, max_size=6),
    trigger_config=st.dictionaries(text, config_text, max_size=2),
    messages=st.lists(st.fixed_dictionaries({"role": roles, "content": config_text}),
                      min_size=1, max_size=3),
    prompt=nonempty_config_text,
    system_prompt=nonempty_config_text,
    fields=st.dictionaries(text, json_scalar, min_size=1, max_size=3),
    log_message=config_text,
    log_data=st.dictionaries(text, json_scalar, min_size=1, max_size=2),
    edge_ids=st.lists(nonempty_text, min_size=5, max_size=5),
)


class FakeContext:
    """Stands in for the generated NodeContext: expressions are left unresolved."""

    def resolve(self, value: Any) -> Any:
        return value


@contextmanager
def import_generated(source: str, folder: Path) -> Iterator[ModuleType]:
    """Import the generated script as a module (its CLI does not run)."""
    name = f"catalyst_generated_{next(_module_numbers)}"
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


def captured_configs(module: ModuleType) -> dict[str, dict[str, Any]]:
    """Run every node function with the execute_* functions replaced by a recorder."""
    seen: dict[str, dict[str, Any]] = {}

    def recorder(step_id: str) -> Any:
        async def record(ctx: Any, config: dict[str, Any], inputs: dict[str, Any]) -> None:
            seen[step_id] = config
        return record

    originals = {n: getattr(module, n) for n in dir(module) if n.startswith("execute_")}
    try:
        for step in module.STEPS:
            for function_name in originals:
                setattr(module, function_name, recorder(step.id))
            asyncio.run(step.run(FakeContext(), {}))
    finally:
        for function_name, function in originals.items():
            setattr(module, function_name, function)
    return seen


def check_round_trip(case: TextWorkflow, source: str, folder: Path) -> None:
    with import_generated(source, folder) as module:
        assert {key: module.WORKFLOW[key] for key in ("id", "name", "description", "source")} == {
            "id": case.workflow_id, "name": case.name, "description": case.description,
            "source": case.source_name}
        steps = {step.id: step.label for step in module.STEPS}
        assert {i: steps[i] for i in case.ids} == dict(zip(case.ids, case.labels, strict=True))
        assert {name: (spec["description"], spec.get("default"))
                for name, spec in module.INPUTS.items()} == {
            name: (spec["description"], spec.get("default"))
            for name, spec in case.inputs.items()}
        if case.shape == "manifest":
            assert case.globals == module.GLOBALS

        configs = captured_configs(module)
        trigger, prompt, llm, _check, edit, log = case.ids
        assert configs[trigger] == case.trigger_config
        assert configs[prompt]["messages"] == case.messages
        assert (configs[llm]["prompt"], configs[llm]["system_prompt"]) == (
            case.prompt, case.system_prompt)
        assert configs[edit]["fields"] == case.fields
        assert (configs[log]["message"], configs[log]["data"]) == (
            case.log_message, case.log_data)


def checked_text_workflow(case: TextWorkflow) -> CheckedWorkflow:
    raw = json.dumps(case.document()).encode()  # ASCII: surrogates travel as \ud800
    loaded = load_document(json.loads(raw), source_name=case.source_name, raw=raw)
    assert loaded.workflow is not None, loaded.diagnostics
    checked = check_workflow(loaded.workflow)
    assert checked.ok, checked.diagnostics
    return checked


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=text_workflows)
def test_any_text_reaches_the_generated_module_exactly(
    case: TextWorkflow, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Rendered but not formatted: black costs about a second per script, and the
    # test below shows that formatting keeps every value.
    source = render_script(plan_workflow(checked_text_workflow(case)))

    check_round_trip(case, source, tmp_path_factory.mktemp("rendered"))


@WITH_BLACK
@given(case=text_workflows)
def test_any_text_survives_formatting(
    case: TextWorkflow, tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = compile_checked(checked_text_workflow(case)).source

    check_round_trip(case, source, tmp_path_factory.mktemp("formatted"))


# -- property 2: valid workflows compile ------------------------------------------------------


simple_id = st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True)
node_id = simple_id | nonempty_text
input_name = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
_SIMPLE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Drawn:
    """One random node: its type and config, decided before ids are known."""

    node_type: str
    config: dict[str, Any]


def _with_expression(draw: Any, plain: str, upstream: list[str], inputs: list[str]) -> str:
    """Sometimes turn a string into a template over inputs or an upstream node."""
    choices = ["plain"] + (["input"] if inputs else []) + (["node"] if upstream else [])
    kind = draw(st.sampled_from(choices))
    if kind == "input":
        # A space keeps a plain text ending in "{" from making "{{{", which is
        # Jinja for a dict literal inside an expression.
        return f"{plain} {{{{ input.{draw(st.sampled_from(inputs))} }}}}"
    if kind == "node":
        return f"{{{{ nodes[{draw(st.sampled_from(upstream))!r}].output }}}}{plain}"
    return plain


@st.composite
def node_configs(draw: Any, node_type: str, upstream: list[str], inputs: list[str]) -> Any:
    def string() -> str:
        return _with_expression(draw, draw(config_text), upstream, inputs)

    if node_type in TRIGGER_TYPES:
        if node_type == "httpEndpoint":
            # Any text the service can route: no spaces, braces, ? or #, not its own paths.
            path = "/" + "".join(c for c in draw(text) if not c.isspace() and c not in "{}?#")
            if path.rstrip("/") in SERVICE_PATHS:
                path = "/x" + path
            return {"method": draw(st.sampled_from(["GET", "POST"])), "path": path}
        return draw(st.dictionaries(text, config_text, max_size=2))
    if node_type == "promptTemplate":
        return {"messages": [{"role": draw(roles), "content": string()}
                             for _ in range(draw(st.integers(1, 3)))]}
    if node_type == "groqCompletion":
        config: dict[str, Any] = {"prompt": draw(nonempty_config_text)}
        if draw(st.booleans()):
            config["temperature"] = draw(st.floats(0, 2))
        if draw(st.booleans()):
            config["maxTokens"] = draw(st.integers(1, 8192))
        if draw(st.booleans()):
            config["stream"] = True
        if draw(st.booleans()):
            config["system_prompt"] = string()
        return config
    if node_type == "condition":
        options = ["true", "{{ 1 < 2 }}", "'a' in 'abc'"]
        options += [f"{{{{ input.{name} == 'x' }}}}" for name in inputs]
        return {"expression": draw(st.sampled_from(options))}
    if node_type == "editFields":
        fields = draw(st.dictionaries(text, json_scalar, min_size=1, max_size=3))
        if draw(st.booleans()):
            fields[draw(text)] = string()
        return {"mode": draw(st.sampled_from(["merge", "replace"])), "fields": fields}
    return {"level": draw(st.sampled_from(["debug", "info", "warning", "error"])),
            "message": string(), "data": draw(st.none() | st.dictionaries(text, json_scalar))}


def _handles(draw: Any, source: NodeType, target: NodeType) -> tuple[Any, Any]:
    # A tools handle needs a tool defined in the caller's config: not a plain edge.
    outputs = [port for port in source.outputs if not port.calls]
    if len(outputs) > 1:
        source_handle = draw(st.sampled_from([p.id for p in outputs]))
    else:
        source_handle = draw(st.sampled_from([None, outputs[0].id]))
    return source_handle, draw(st.sampled_from([None, target.inputs[0].id]))


@st.composite
def random_workflows(draw: Any) -> dict[str, Any]:
    inputs = draw(st.lists(input_name, max_size=3, unique=True))
    count = draw(st.integers(1, 7))
    types = draw(st.lists(st.sampled_from(WORK_TYPES + TRIGGER_TYPES), min_size=count,
                          max_size=count))
    assume(any(t in WORK_TYPES for t in types))
    ids = draw(st.lists(node_id, min_size=count, max_size=count, unique=True))
    nodes, edges = [], []
    for index, (node_type, own_id) in enumerate(zip(types, ids, strict=True)):
        # Only earlier nodes may feed this one, so the graph is acyclic by construction.
        readable = [i for i in ids[:index] if _SIMPLE.fullmatch(i)]
        config = draw(node_configs(node_type, readable, inputs))
        label = draw(st.none() | nonempty_text)
        nodes.append(node(own_id, node_type, config, label=label))
        target = CATALOG[node_type]
        if not target.inputs:
            continue
        # Any output may feed any input (converted on arrival).
        candidates = list(range(index))
        for source_index in draw(st.lists(st.sampled_from(candidates), max_size=2, unique=True)
                                 if candidates else st.just([])):
            source_handle, target_handle = _handles(draw, CATALOG[types[source_index]], target)
            edges.append(edge(ids[source_index], own_id, id=draw(st.none() | text),
                              source_handle=source_handle, target_handle=target_handle))
    document = graph(*nodes, edges=edges, name=draw(nonempty_text),
                     inputs={name: {"type": "string", "required": draw(st.booleans())}
                             for name in inputs})
    if draw(st.booleans()):
        workflow_id = draw(nonempty_text)
        return manifest({workflow_id: as_manifest_workflow(document, workflow_id)},
                        global_variables=draw(st.dictionaries(text, json_scalar, max_size=2)))
    return document


def _checked(document: dict[str, Any]) -> CheckedWorkflow:
    raw = json.dumps(document).encode()
    loaded = load_document(json.loads(raw), source_name="random.json", raw=raw)
    assert loaded.workflow is not None, loaded.diagnostics
    return check_workflow(loaded.workflow)


@WITH_BLACK
@given(random_workflows())
def test_every_valid_workflow_generates_code_that_compiles(document: dict[str, Any]) -> None:
    checked = _checked(document)
    assume(checked.ok)

    compiled = compile_checked(checked)

    compile(compiled.source, "generated.py", "exec")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_workflows())
def test_every_valid_workflow_renders_python_before_formatting(document: dict[str, Any]) -> None:
    # The same property without black, so many more workflows fit in the time budget:
    # the templates alone must produce valid Python.
    checked = _checked(document)
    assume(checked.ok)

    compile(render_script(plan_workflow(checked)), "generated.py", "exec")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_workflows())
def test_random_workflows_are_valid(document: dict[str, Any]) -> None:
    # Keeps the properties above honest: they skip invalid workflows, so the builder
    # must aim at valid ones; any error it provokes is a finding.
    checked = _checked(document)

    assert [d for d in checked.diagnostics if d.is_error] == []
