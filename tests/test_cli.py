"""The command line, run as users run it: a subprocess, exit codes, reports, files."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from workflow_builders import (
    as_manifest,
    as_manifest_workflow,
    edge,
    graph,
    groq_node,
    log_node,
    manifest,
    node,
    prompt_node,
    write_json,
)

from catalyst.cli import Target, main
from catalyst.registry import node_types

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def catalyst(*args: str | Path, env: dict[str, str] | None = None,
             entry_point: bool = False) -> subprocess.CompletedProcess[str]:
    command = ["catalyst"] if entry_point else [sys.executable, "-m", "catalyst.cli"]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout


def small_workflow() -> dict[str, Any]:
    """No model calls and no expressions: the smallest script, the quickest to format."""
    return graph(log_node("hello", message="hi"), name="Small")


def broken_workflow() -> dict[str, Any]:
    return graph(
        prompt_node("prompt"),
        groq_node("llm", temperature=5),
        node("mystery", "noSuchType", {}),
        edges=[edge("prompt", "llm", id="e1")],
    )


# -- validate ---------------------------------------------------------------------------------


def test_validate_reports_a_broken_workflow_by_node_and_field(tmp_path: Path) -> None:
    path = write_json(tmp_path / "broken.json", broken_workflow())

    result = catalyst("validate", path)

    assert_clean_failure(result, EXIT_INVALID)
    assert "node 'llm'" in result.stderr
    assert "/nodes/1/data/config/temperature" in result.stderr
    assert "allowed range: 0 to 2" in result.stderr
    assert "node 'mystery'" in result.stderr
    assert "2 error(s)" in result.stderr


def test_validate_json_report(tmp_path: Path) -> None:
    path = write_json(tmp_path / "broken.json", broken_workflow())

    result = catalyst("validate", path, "--format", "json")

    assert_clean_failure(result, EXIT_INVALID)
    report = json.loads(result.stdout)
    assert report["valid"] is False
    by_code = {d["code"]: d for d in report["diagnostics"]}
    assert set(by_code) == {"out-of-range", "unknown-node-type"}
    problem = by_code["out-of-range"]
    assert problem["node_id"] == "llm"
    assert problem["path"] == "/nodes/1/data/config/temperature"
    assert problem["message"]
    assert problem["hint"] == "allowed range: 0 to 2"
    assert problem["severity"] == "error"


def test_validate_strict_fails_on_a_warning(tmp_path: Path) -> None:
    path = write_json(tmp_path / "old.json",
                      graph(groq_node("llm", prompt="hi", model="mixtral-8x7b-32768")))

    lenient = catalyst("validate", path)
    strict = catalyst("validate", "--strict", path)

    assert lenient.returncode == EXIT_OK
    assert "model-decommissioned" in lenient.stderr
    assert_clean_failure(strict, EXIT_INVALID)
    assert "openai/gpt-oss-20b" in strict.stderr


def test_validate_checks_every_workflow_of_a_manifest(tmp_path: Path) -> None:
    document = manifest({
        "good": as_manifest_workflow(small_workflow(), "good"),
        "bad": as_manifest_workflow(broken_workflow(), "bad"),
    })
    path = write_json(tmp_path / "project.json", document)

    result = catalyst("validate", path, "--format", "json")

    assert_clean_failure(result, EXIT_INVALID)
    assert {d["workflow"] for d in json.loads(result.stdout)["diagnostics"]} == {"bad"}


def test_missing_input_file_is_reported_without_traceback(tmp_path: Path) -> None:
    result = catalyst("generate", tmp_path / "nope.json", "-o", tmp_path / "nope.py")

    assert_clean_failure(result, EXIT_INVALID)
    assert "nope.json" in result.stderr


def test_invalid_json_is_reported_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{nodes: []}", encoding="utf-8")

    result = catalyst("validate", path)

    assert_clean_failure(result, EXIT_INVALID)
    assert "invalid-json" in result.stderr


# -- generate -----------------------------------------------------------------------------------


def test_generate_with_errors_creates_no_output(tmp_path: Path) -> None:
    path = write_json(tmp_path / "broken.json", broken_workflow())
    output = tmp_path / "out.py"
    requirements = tmp_path / "requirements.txt"

    result = catalyst("generate", path, "-o", output, "--requirements", requirements)

    assert_clean_failure(result, EXIT_INVALID)
    assert "temperature" in result.stderr
    assert not output.exists()
    assert not requirements.exists()
    assert result.stdout == ""


def test_generate_with_errors_leaves_an_existing_file_untouched(tmp_path: Path) -> None:
    path = write_json(tmp_path / "broken.json", broken_workflow())
    output = tmp_path / "out.py"
    output.write_text("# hand-written, keep me\n", encoding="utf-8")

    result = catalyst("generate", path, "-o", output)

    assert_clean_failure(result, EXIT_INVALID)
    assert output.read_text(encoding="utf-8") == "# hand-written, keep me\n"


def test_generate_manifest_without_workflow_lists_the_ids(tmp_path: Path) -> None:
    document = manifest({"triage": as_manifest_workflow(small_workflow(), "triage"),
                         "reply": as_manifest_workflow(small_workflow(), "reply")})
    path = write_json(tmp_path / "project.json", document)

    result = catalyst("generate", path, "-o", tmp_path / "out.py")

    assert_clean_failure(result, EXIT_INVALID)
    assert "reply, triage" in result.stderr
    assert "--workflow" in result.stderr
    assert not (tmp_path / "out.py").exists()


def test_generate_writes_a_script_and_requirements(tmp_path: Path) -> None:
    path = write_json(tmp_path / "chat.json", graph(
        groq_node("llm", prompt="{{ input.q }}"), inputs={"q": {"type": "string"}}))
    output, requirements = tmp_path / "chat.py", tmp_path / "requirements.txt"

    result = catalyst("generate", path, "-o", output, "--requirements", requirements)

    assert result.returncode == EXIT_OK, result.stderr
    compile(output.read_text(encoding="utf-8"), str(output), "exec")
    lines = requirements.read_text(encoding="utf-8").splitlines()
    expected = {*node_types()["groqCompletion"].requirements(), "jinja2>=3.1.6,<4"}
    assert lines == sorted(expected)


def test_generate_a_folder_writes_one_script_per_workflow(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    write_json(folder / "small.json", small_workflow())
    write_json(folder / "project.json", manifest({
        "one": as_manifest_workflow(small_workflow(), "one"),
        "two-b": as_manifest_workflow(small_workflow(), "two-b"),
    }))
    out = tmp_path / "generated"

    result = catalyst("generate", folder, "-o", out)

    assert result.returncode == EXIT_OK, result.stderr
    scripts = sorted(p.name for p in out.iterdir())
    # An id that is not a plain name gets a short hash, so look-alikes never collide.
    assert scripts == ["project.one.py", "project.two_b-c23d6e.py", "small.py"]
    for script in out.iterdir():
        compile(script.read_text(encoding="utf-8"), str(script), "exec")


def test_generate_a_folder_is_all_or_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    write_json(folder / "good.json", small_workflow())
    write_json(folder / "bad.json", broken_workflow())
    out = tmp_path / "generated"

    result = catalyst("generate", folder, "-o", out)

    assert_clean_failure(result, EXIT_INVALID)
    assert not out.exists() or list(out.iterdir()) == []


def test_generated_bytes_do_not_depend_on_hash_seed(tmp_path: Path) -> None:
    document = graph(
        node("start", "webhookReceiver", {"b": "2", "a": "1"}),
        prompt_node("p", "{{ input.text }}"),
        log_node("x"), log_node("y"), log_node("z", message="{{ nodes.x.output }}"),
        edges=[edge("start", "p"), edge("p", "x"), edge("p", "y"), edge("y", "z")],
        inputs={"text": {"type": "string"}, "more": {"type": "integer", "default": 1}},
    )
    path = write_json(tmp_path / "seeded.json", as_manifest(document, global_variables={
        "B": 1, "A": [1, 2]}))

    outputs = [catalyst("generate", path, env={"PYTHONHASHSEED": seed}) for seed in ("1", "2")]

    assert [o.returncode for o in outputs] == [EXIT_OK, EXIT_OK]
    assert outputs[0].stdout == outputs[1].stdout


def test_workflows_of_one_manifest_get_distinct_script_names() -> None:
    names = {Target(Path("project.json"), wid).script_name() for wid in ("a-b", "a_b", "A B")}

    assert len(names) == 3


# -- check ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of workflows and, beside it, the scripts generated from it (made once)."""
    root = tmp_path_factory.mktemp("check")
    folder, out = root / "workflows", root / "generated"
    folder.mkdir()
    write_json(folder / "small.json", small_workflow())
    result = catalyst("generate", folder, "-o", out)
    assert result.returncode == EXIT_OK, result.stderr
    return root


@pytest.fixture
def generated(generated_once: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the workflows folder and its freshly generated scripts."""
    root = shutil.copytree(generated_once, tmp_path / "copy")
    return root / "workflows", root / "generated"


def test_check_passes_when_generated_code_is_fresh(generated: tuple[Path, Path]) -> None:
    folder, out = generated

    result = catalyst("check", folder, "--against", out)

    assert result.returncode == EXIT_OK, result.stderr
    assert "up to date" in result.stderr


def test_check_fails_when_a_script_is_stale(generated: tuple[Path, Path]) -> None:
    folder, out = generated
    script = out / "small.py"
    script.write_text(script.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")

    result = catalyst("check", folder, "--against", out, "--format", "json")

    assert_clean_failure(result, EXIT_FAILED)
    (stale,) = json.loads(result.stdout)["stale"]
    assert "small.py is stale" in stale


def test_check_fails_when_a_script_is_missing(generated: tuple[Path, Path]) -> None:
    folder, out = generated
    (out / "small.py").unlink()

    result = catalyst("check", folder, "--against", out)

    assert_clean_failure(result, EXIT_FAILED)
    assert "small.py is missing" in result.stderr
    assert "catalyst generate" in result.stderr


def test_check_reports_an_invalid_workflow(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    write_json(folder / "broken.json", broken_workflow())

    result = catalyst("check", folder, "--against", tmp_path / "generated")

    assert_clean_failure(result, EXIT_INVALID)
    assert "node 'llm'" in result.stderr


# -- nodes -----------------------------------------------------------------------------------------


def test_nodes_lists_every_type_through_the_entry_point() -> None:
    result = catalyst("nodes", entry_point=True)

    assert result.returncode == EXIT_OK, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert listed == sorted(node_types())


def test_nodes_json_for_one_type() -> None:
    result = catalyst("nodes", "groqCompletion", "--format", "json")

    assert result.returncode == EXIT_OK, result.stderr
    entry = json.loads(result.stdout)
    assert entry["type"] == "groqCompletion"
    properties = entry["configSchema"]["properties"]
    assert {"model", "temperature", "prompt", "stream"} <= set(properties)
    assert [port["id"] for port in entry["inputs"]] == ["input"]
    assert entry["inputs"][0]["type"] == "messages"
    assert [(port["id"], port["type"]) for port in entry["outputs"]] == [("output", "text"),
                                                                        ("tools", "any")]
    assert entry["outputs"][1]["calls"] is True
    assert entry["supportsStreaming"] is True


def test_nodes_unknown_type() -> None:
    result = catalyst("nodes", "nope")

    assert_clean_failure(result, EXIT_INVALID)
    assert "'nope'" in result.stderr
    assert "groqCompletion" in result.stderr


def test_script_names_never_shadow_a_module_the_script_imports() -> None:
    assert Target(Path("copy.json"), None).script_name() == "copy_workflow.py"
    assert Target(Path("groq.json"), None).script_name() == "groq_workflow.py"
    assert Target(Path("summarize.json"), None).script_name() == "summarize.py"


def test_generated_files_get_the_users_permissions(tmp_path: Path) -> None:
    out = tmp_path / "summarize.py"
    previous = os.umask(0o027)
    try:
        assert main(["generate", str(EXAMPLES / "summarize.json"), "-o", str(out)]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_catalog_lists_every_spelling_and_the_output_shape() -> None:
    result = catalyst("nodes", "--format", "json")
    catalog = {entry["type"]: entry for entry in json.loads(result.stdout)}

    groq = catalog["groqCompletion"]
    properties = groq["configSchema"]["properties"]
    assert properties["max_completion_tokens"]["x-aliases"] == [
        "maxCompletionTokens", "maxTokens", "max_tokens"]
    assert "apiKey" in properties["api_key"]["x-aliases"]
    assert set(groq["outputSchema"]["properties"]) >= {"content", "model", "usage",
                                                       "finish_reason"}
    assert groq["inputs"][0]["accepts"]["json"]["conversion"].startswith("its `messages`")
    log = catalog["log"]["configSchema"]["properties"]
    assert log["level"]["x-value-aliases"] == {"warn": "warning", "fatal": "critical"}
    assert log["include_input"]["x-aliases"] == ["includeInput"]
    prompt = catalog["promptTemplate"]["configSchema"]["properties"]
    assert prompt["variables"]["x-json-text"] is True
    assert catalog["condition"]["configSchema"]["properties"]["expression"]["x-aliases"] == [
        "condition"]
    assert catalog["editFields"]["configSchema"]["properties"]["fields"]["x-aliases"] == [
        "operations"]
