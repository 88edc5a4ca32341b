"""`catalyst upgrade`: canonical spellings and current models, nothing else moved."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from catalyst.cli import main
from catalyst.compiler import compile_file

DATA = Path(__file__).parent / "data"
ORIGINAL = DATA / "original_editor_graph.json"

# What upgrading the original editor's file rewrites, and nothing more.
REWRITES = [
    ('"variables": "{\\"topic\\": \\"{{ input.topic }}\\"}"',
     '"variables": {"topic": "{{ input.topic }}"}'),
    ('"apiKey": "GROQ_API_KEY"', '"api_key": {"$secret": "GROQ_API_KEY"}'),
    ('"model": "llama-3.3-70b-versatile"', '"model": "openai/gpt-oss-120b"'),
    ('"maxTokens": 200', '"max_completion_tokens": 200'),
    ('"condition": "nodes.llm', '"expression": "nodes.llm'),
    ('"operations": "[{\\"field\\": \\"status\\", \\"value\\": \\"long\\"}]"',
     '"fields": {"status": "long"}'),
    ('"level": "warn", "includeInput": true', '"level": "warning", "include_input": true'),
]


def upgraded_by_hand(text: str) -> str:
    for old, new in REWRITES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    path = tmp_path / "workflow.json"
    path.write_bytes(ORIGINAL.read_bytes())
    return path


def test_upgrade_rewrites_only_the_old_spellings(
    workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = workflow.read_text(encoding="utf-8")

    assert main(["upgrade", str(workflow)]) == 0

    assert workflow.read_text(encoding="utf-8") == upgraded_by_hand(before)
    diff = capsys.readouterr().out
    assert diff.startswith(f"--- {workflow}\n+++ {workflow}\n")
    assert "+     \"data\": {\"label\": \"Groq\"" in diff


def test_upgraded_file_means_the_same_and_compiles_to_the_same_plan(workflow: Path) -> None:
    before = compile_file(workflow)
    main(["upgrade", str(workflow)])
    after = compile_file(workflow)

    assert [n.config for n in after.plan.nodes] == [
        {**n.config, "model": "openai/gpt-oss-120b"} if n.id == "llm" else n.config
        for n in before.plan.nodes
    ]
    assert [w.code for w in after.warnings] == []  # the retired model is gone
    assert [w.code for w in before.warnings] == ["model-decommissioned"]


def test_upgrading_twice_changes_nothing_more(workflow: Path) -> None:
    main(["upgrade", str(workflow)])
    once = workflow.read_bytes()

    assert main(["upgrade", "--check", str(workflow)]) == 0
    assert main(["upgrade", str(workflow)]) == 0
    assert workflow.read_bytes() == once


def test_check_exits_1_and_writes_nothing(workflow: Path) -> None:
    before = workflow.read_bytes()

    assert main(["upgrade", "--check", str(workflow)]) == 1
    assert workflow.read_bytes() == before


def test_upgrade_keeps_line_endings_and_permissions(workflow: Path) -> None:
    crlf = ORIGINAL.read_text(encoding="utf-8").replace("\n", "\r\n")
    workflow.write_bytes(crlf.encode())
    workflow.chmod(0o640)

    main(["upgrade", str(workflow)])

    text = workflow.read_bytes().decode()
    assert text == upgraded_by_hand(crlf)
    assert stat.S_IMODE(workflow.stat().st_mode) == 0o640


def test_manifest_fallback_models_and_every_workflow(tmp_path: Path) -> None:
    node = {"id": "g", "type": "groqCompletion", "name": "G",
            "config": {"prompt": "hi", "model": "llama-3.1-8b-instant",
                       "fallbackModels": ["gemma2-9b-it", "openai/gpt-oss-20b"]}}
    document = {"schemaVersion": "1.0.0", "workflows": {
        wid: {"id": wid, "nodes": {"g": node}, "edges": []} for wid in ("a", "b")}}
    path = tmp_path / "project.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")

    assert main(["upgrade", str(path)]) == 0

    upgraded = json.loads(path.read_text(encoding="utf-8"))
    for wid in ("a", "b"):
        config = upgraded["workflows"][wid]["nodes"]["g"]["config"]
        assert config == {"prompt": "hi", "model": "openai/gpt-oss-20b",
                          "fallback_models": ["openai/gpt-oss-20b", "openai/gpt-oss-20b"]}


def test_workflow_with_errors_is_reported_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    text = ORIGINAL.read_text(encoding="utf-8").replace('"level": "warn"', '"level": "loud"')
    path.write_text(text, encoding="utf-8")

    assert main(["upgrade", str(path)]) == 2

    assert path.read_text(encoding="utf-8") == text
    err = capsys.readouterr().err
    assert "node 'log'" in err and "/nodes/4/data/config/level" in err


def test_json_report_names_changed_files(
    workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upgrade", "--check", "--format", "json", str(workflow)]) == 1

    report = json.loads(capsys.readouterr().out)
    assert report == {"valid": True, "diagnostics": [], "changed": [str(workflow)],
                      "written": False}


def test_retired_models_of_every_provider_are_replaced(tmp_path: Path) -> None:
    path = tmp_path / "providers.json"
    path.write_text(json.dumps({"nodes": [
        {"id": "gpt", "type": "openaiCompletion", "data": {"label": "GPT", "config": {
            "model": "gpt-4-turbo-preview", "prompt": "hi",
            "fallbackModels": [{"provider": "anthropic", "model": "claude-3-haiku-20240307"}]}}},
        {"id": "claude", "type": "anthropicCompletion", "data": {"label": "Claude", "config": {
            "model": "claude-3-opus-20240229", "prompt": "hi"}}},
        {"id": "route", "type": "llmRouter", "data": {"label": "Route", "config": {
            "models": [{"provider": "openai", "model": "gpt-3.5-turbo"}],
            "fallbackModel": {"provider": "groq", "model": "llama-3.3-70b-versatile"},
            "prompt": "hi"}}},
    ], "edges": []}))

    assert main(["upgrade", str(path)]) == 0

    nodes = {node["id"]: node["data"]["config"] for node in json.loads(path.read_text())["nodes"]}
    assert nodes["gpt"]["model"] == "gpt-5.4"
    # A default key is not written out: the entry stays as short as it was.
    assert nodes["gpt"]["fallback_models"] == [
        {"provider": "anthropic", "model": "claude-haiku-4-5"}]
    assert nodes["claude"]["model"] == "claude-opus-4-8"
    assert nodes["route"]["models"] == [{"provider": "openai", "model": "gpt-4.1-mini"}]
    assert nodes["route"]["fallback_model"] == {"provider": "groq",
                                                "model": "openai/gpt-oss-120b"}
    assert main(["upgrade", "--check", str(path)]) == 0
