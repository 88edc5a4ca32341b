"""What `validate` accepts about `nodes.<id>.output.<path>`, the script can evaluate.

Hypothesis builds a two-node workflow: an upstream node (a groqCompletion answered
by the local server, or an editFields with generated fields) and a downstream node
(log, editFields or condition) whose config reads `nodes.up.output.<path>`, with
paths mixing real field names and made-up ones, in attribute and `['key']` form,
plain, inside text, through a filter or a comparison. Whenever checking finds no
error, the generated module runs to the end without an evaluation error; when it
finds one, it is the reference's fault (`unknown-output-field`), not anything else.

Scripts are rendered without black and imported in-process (black costs ~1 s each).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import keyword
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from workflow_builders import Document, edge, graph, groq_node, loaded, node

from catalyst.mock_groq import MockGroqServer, MockSettings
from catalyst.planning import plan_workflow
from catalyst.rendering import render_script
from catalyst.validation import check_workflow

pytestmark = pytest.mark.e2e

_numbers = itertools.count()

# What a groqCompletion returns when its own model answers; `fallbacks` is left
# out: it is present only when a fallback model answered.
USAGE = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
GROQ_OUTPUT: dict[str, Any] = {"content": "", "finish_reason": "", "model": "",
                               "usage": USAGE, "cost_usd": 0.0, "latency_ms": 0.0}

identifier = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda name: not keyword.iskeyword(name) and name not in ("true", "false", "none")
)
# Keys only the ['key'] form can spell.
odd_key = st.sampled_from(["total-tokens", "a b", "0", "ünï"])
scalar = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["x", "y z"])
field_values = st.dictionaries(identifier, scalar | st.dictionaries(identifier, scalar,
                                                                    max_size=2),
                               min_size=1, max_size=3)


@st.composite
def output_paths(draw: st.DrawFn, tree: Any) -> str:
    """`.a['b'].c`: up to three keys, each a real one where there is one, or made up."""
    path = ""
    for _ in range(draw(st.integers(0, 3))):
        real = sorted(tree) if isinstance(tree, dict) else []
        # Real keys twice as likely as made-up ones, so that some deep paths validate.
        made_up = identifier | odd_key
        key = draw(st.sampled_from(real) | st.sampled_from(real) | made_up if real else made_up)
        if key.isidentifier() and draw(st.booleans()):
            path += f".{key}"
        else:
            path += f"[{key!r}]"
        tree = tree.get(key) if isinstance(tree, dict) else None
    return path


@st.composite
def workflows(draw: st.DrawFn) -> Document:
    if draw(st.booleans()):
        upstream = groq_node("up", apiKey="GROQ_API_KEY", prompt="Hi {{ input.text }}",
                             maxTokens=64)
        tree: Any = GROQ_OUTPUT
    else:
        fields = draw(field_values)
        upstream = node("up", "editFields", {"mode": "replace", "operations": [
            {"field": name, "value": value} for name, value in fields.items()]})
        tree = fields
    read = "nodes.up.output" + draw(output_paths(tree))
    form = draw(st.sampled_from(["{{ %s }}", "got {{ %s }}!", "{{ %s | string }}",
                                 "{{ %s == 1 }}"]))
    kind = draw(st.sampled_from(["log", "editFields", "condition"]))
    if kind == "log":
        downstream = node("down", "log", {"message": form % read, "level": "debug",
                                          "includeInput": draw(st.booleans())})
    elif kind == "editFields":
        downstream = node("down", "editFields", {
            "mode": draw(st.sampled_from(["merge", "replace"])),
            "operations": [{"field": "read", "value": form % read}]})
    else:
        downstream = node("down", "condition", {"condition": f"{read} != 'never'",
                                                "description": "compares what it reads"})
    wired = draw(st.booleans())
    return graph(upstream, downstream, edges=[edge("up", "down", id="e1")] if wired else [],
                 inputs={"text": {"type": "string", "required": True}})


@pytest.fixture(scope="module")
def server() -> Iterator[MockGroqServer]:
    with MockGroqServer(MockSettings()) as running, pytest.MonkeyPatch.context() as patch:
        patch.setenv("GROQ_BASE_URL", running.base_url)
        patch.setenv("GROQ_API_KEY", "test-key")
        yield running


def import_source(source: str, folder: Path) -> ModuleType:
    name = f"catalyst_reference_property_{next(_numbers)}"
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(document=workflows())
def test_accepted_references_evaluate(
    document: Document, server: MockGroqServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    checked = check_workflow(loaded(document))
    errors = [d for d in checked.diagnostics if d.is_error]
    event("refused" if errors else "accepted")
    if errors:
        # Refused for the reference, or for a text arriving at an editFields merge;
        # always about the downstream node.
        assert {d.code for d in errors} <= {"unknown-output-field"}, errors
        assert {d.node_id for d in errors} == {"down"}, errors
        return
    module = import_source(render_script(plan_workflow(checked)),
                           tmp_path_factory.mktemp("reference"))
    result = asyncio.run(module.run_workflow({"text": "hello"}))
    assert result["nodes"]["down"]["status"] in ("ok", "skipped")
    assert result["nodes"]["up"]["status"] == "ok"
