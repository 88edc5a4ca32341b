"""Hostile and broken workflow files meet the compiler: one clear answer, never a crash.

Each test reproduces one class of attack or breakage (see SECURITY.md) and runs
the real CLI in a subprocess, so a regression cannot take the test run down
with it: memory-hungry cases run under an address-space limit.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from workflow_builders import edge, graph, groq_node, log_node, node

from catalyst.planning import _EXPRESSION_DEPENDENCY

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def limit_memory(megabytes: int) -> Any:
    def apply() -> None:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def catalyst(*args: str | Path, memory_mb: int | None = None, timeout: float = 60,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "catalyst.cli", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, check=False, input=stdin,
        preexec_fn=limit_memory(memory_mb) if memory_mb else None,
    )


def write(tmp_path: Path, document: Any, name: str = "workflow.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def assert_one_clear_error(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert result.returncode == EXIT_INVALID, result.stderr
    assert "Traceback" not in result.stderr
    assert f"[{code}]" in result.stderr or code in result.stderr, result.stderr


# -- checking never evaluates -------------------------------------------------------


def test_validate_does_not_evaluate_a_constant_bomb(tmp_path: Path) -> None:
    # jinja2's optimizer would fold this into a 10 GB string.
    bomb = "{{ 'a' * 10000000000 }}{{ range(10**12) | list }}"
    path = write(tmp_path, graph(groq_node("g", prompt=bomb)))

    result = catalyst("validate", path, memory_mb=1024, timeout=30)

    assert result.returncode == EXIT_OK, result.stderr
    assert "ok: 1 workflow(s) valid" in result.stderr


def test_an_expression_nested_thousands_deep_is_a_diagnostic(tmp_path: Path) -> None:
    deep = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    path = write(tmp_path, graph(groq_node("g", prompt=deep)))

    result = catalyst("validate", path)

    assert_one_clear_error(result, "expression-syntax")
    assert "nested too deeply" in result.stderr


# -- files that are not workflows --------------------------------------------------------


@pytest.mark.parametrize("depth", [200, 100_000])
def test_deeply_nested_files_are_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"nodes": [' + "[" * depth + "]" * depth + "]}", encoding="utf-8")

    for command in ("validate", "generate"):
        assert_one_clear_error(catalyst(command, path), "too-deep")


def test_a_number_with_fifty_thousand_digits_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "number.json"
    path.write_text('{"nodes": [], "x": ' + "9" * 50_000 + "}", encoding="utf-8")

    assert_one_clear_error(catalyst("validate", path), "invalid-json")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "caf\xe9", "nodes": []}'.encode("latin-1"))

    result = catalyst("validate", path)

    assert_one_clear_error(result, "invalid-json")
    assert "UTF-8" in result.stderr


def test_special_files_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)

    for special in (fifo, Path("/dev/zero")):
        result = catalyst("validate", special, timeout=20)
        assert_one_clear_error(result, "unreadable-file")
        assert "not a regular file" in result.stderr


# -- what reaches the terminal -----------------------------------------------------------


def test_escape_sequences_in_ids_and_labels_are_printed_escaped(tmp_path: Path) -> None:
    hostile = "\x1b]0;pwned\x07\x1b[2J\u202eevil"
    document = graph(log_node(hostile, label=hostile), edges=[edge("nowhere", hostile)])
    path = write(tmp_path, document)

    for fmt in ("text", "json"):
        result = catalyst("validate", path, "--format", fmt)
        assert result.returncode == EXIT_INVALID
        printed = result.stdout + result.stderr
        assert "\x1b" not in printed and "\x07" not in printed and "\u202e" not in printed
        assert "\\x1b" in printed or "\\u001b" in printed


def test_output_piped_to_head_ends_quietly() -> None:
    result = subprocess.run(
        f"{sys.executable} -m catalyst.cli nodes --format json | head -c 10",
        shell=True, capture_output=True, text=True, timeout=60, check=False,
    )

    assert result.stderr == ""


# -- reports stay proportional ----------------------------------------------------------


def test_thousands_of_bad_references_give_a_bounded_report(tmp_path: Path) -> None:
    nodes = [log_node(f"n{i}", message=f"{{{{ nodes.missing{i}.output }}}}") for i in range(3000)]
    path = write(tmp_path, graph(*nodes))

    result = catalyst("validate", path, timeout=120)

    assert result.returncode == EXIT_INVALID
    assert len(result.stderr) < 100_000
    assert "… and 2900 more" in result.stderr
    hints = [line for line in result.stderr.splitlines() if "hint:" in line]
    assert all(len(line) < 400 for line in hints)
    report = json.loads(catalyst("validate", path, "--format", "json").stdout)
    assert len(report["diagnostics"]) == 1000
    assert report["more"] == 2000


# -- the command line -----------------------------------------------------------------------


def test_nothing_to_validate_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    manifest = write(tmp_path, {"schemaVersion": "1.0.0", "workflows": {}}, "project.json")

    assert_one_clear_error(catalyst("validate", empty), "no workflow files")
    assert_one_clear_error(catalyst("validate", manifest), "empty-project")


def test_generate_into_a_folder_and_to_an_unwritable_path(tmp_path: Path) -> None:
    source = EXAMPLES / "summarize.json"

    assert catalyst("generate", source, "-o", tmp_path).returncode == EXIT_OK
    assert (tmp_path / "summarize.py").exists()

    result = catalyst("generate", source, "-o", "/proc/no/such/place.py")
    assert result.returncode == EXIT_INVALID
    assert result.stderr.startswith("error: cannot write")
    assert result.stderr.count("\n") == 1


def test_generate_json_without_output_carries_the_script() -> None:
    result = catalyst("generate", EXAMPLES / "summarize.json", "--format", "json")

    payload = json.loads(result.stdout)
    assert payload["valid"] is True
    assert payload["script"].startswith("# /// script")


def test_check_follows_what_changes_code_and_finds_orphans(tmp_path: Path) -> None:
    flows, out = tmp_path / "flows", tmp_path / "generated"
    flows.mkdir()
    document = graph(groq_node("g", prompt="hi"), node("t", "httpEndpoint", {}))
    write(flows, document, "a.json")
    write(flows, document, "b.json")
    assert catalyst("generate", flows, "-o", out).returncode == EXIT_OK

    moved = json.loads((flows / "a.json").read_text())
    moved["nodes"][0]["position"] = {"x": 999, "y": -5}
    moved["viewport"] = {"x": 1, "y": 2, "zoom": 3}
    write(flows, moved, "a.json")
    assert catalyst("check", flows, "--against", out).returncode == EXIT_OK

    (flows / "b.json").unlink()
    result = catalyst("check", flows, "--against", out)
    assert result.returncode == EXIT_FAILED
    assert "b.py has no workflow any more" in result.stderr


def test_two_workflows_writing_one_script_name_is_an_error(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    project = {"schemaVersion": "1.0.0", "workflows": {
        wid: {"id": wid, "nodes": {"g": {"id": "g", "type": "groqCompletion",
                                         "config": {"prompt": "hi"}}}, "edges": []}
        for wid in ("a-b", "a_b")}}
    write(flows, project, "p.json")
    write(flows, graph(groq_node("g", prompt="hi")), "p.a_b.json")

    result = catalyst("generate", flows, "-o", tmp_path / "out")
    # Ids that read alike get a hash; only a true clash is refused, and nothing is written.
    assert result.returncode in (EXIT_OK, EXIT_INVALID)
    if result.returncode == EXIT_INVALID:
        assert "would both be written" in result.stderr
        assert not (tmp_path / "out").exists()


def test_bad_port_for_the_local_server_is_a_usage_error() -> None:
    result = catalyst("mock-groq", "--port", "99999")

    assert result.returncode == EXIT_INVALID
    assert "outside 0-65535" in result.stderr
    assert "Traceback" not in result.stderr


# -- the sandbox -------------------------------------------------------------------------------


def test_scripts_require_a_jinja2_without_the_attr_escape() -> None:
    assert _EXPRESSION_DEPENDENCY == "jinja2>=3.1.6,<4"
    import jinja2

    major, minor, patch = (int(part) for part in jinja2.__version__.split(".")[:3])
    assert (major, minor, patch) >= (3, 1, 6)


@pytest.mark.parametrize("payload", [
    # CVE-2025-27516: str.format reached through |attr, then used to read globals.
    "{{ '{0.__class__.__init__.__globals__}'|attr('format')(cycler) }}",
    "{{ ('{0.__class__.__mro__[1].__subclasses__}'|attr('format'))(1) }}",
    "{{ cycler.__init__.__globals__.os.environ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ (lipsum|attr('__globals__'))['os'].environ }}",
])
def test_sandbox_escape_payloads_are_refused_at_run_time(
    tmp_path: Path, payload: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_e2e_examples import load_module

    from catalyst.compiler import compile_file

    source = write(tmp_path, graph(log_node("leak", message=payload)))
    script = tmp_path / "leak.py"
    script.write_text(compile_file(source).source, encoding="utf-8")
    module = load_module(script, monkeypatch)
    monkeypatch.setenv("GROQ_API_KEY", "gsk_" + "s3cr3t" * 5)

    with pytest.raises(module.WorkflowError) as failure:
        module.resolve(payload, {"input": {}, "global": {}, "nodes": {}})
    assert "s3cr3t" not in str(failure.value)
