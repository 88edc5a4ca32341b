"""The generated code as code: formatted, lint-clean, compilable, reproducible, honest deps.

Every example workflow (each workflow of a manifest separately) is checked. The
scripts are what users read and commit, so they get the same bar as our own code.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import black
import pytest
from conftest import example_targets, target_id

from catalyst.compiler import Compiled, compile_file

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "workflows"
RUFF_RULES = "E,F,W,I,B,UP,SIM"
LINE_LENGTH = 100
# Imported only by --dask batch runs, never listed in a script's PEP 723 header.
OPTIONAL_EXTRA = {"distributed", "cloudpickle"}
# Listed but never imported: data another module reads (zoneinfo falls back on tzdata
# on machines without system time zone data).
DATA_ONLY = {"tzdata"}


TARGETS = example_targets()
each_example = pytest.mark.parametrize("target", TARGETS, ids=[target_id(t) for t in TARGETS])

_compiled: dict[tuple[str, str | None], Compiled] = {}


def compiled(target: tuple[str, str | None]) -> Compiled:
    """Compile once per session: black makes compiling the slow part of these tests."""
    if target not in _compiled:
        _compiled[target] = compile_file(EXAMPLES / target[0], target[1])
    return _compiled[target]


def ruff_problems(source: str, folder: Path, name: str = "script.py") -> str:
    """ruff's report on `source` (empty when clean), independent of any project config."""
    path = folder / name
    path.write_text(source, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            RUFF_RULES,
            "--line-length",
            str(LINE_LENGTH),
            "--target-version",
            "py311",
            "--output-format",
            "concise",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )
    assert result.returncode in (0, 1), result.stderr
    return "" if result.returncode == 0 else result.stdout + result.stderr


# PEP 723's reference regular expression for inline script metadata.
_METADATA_BLOCK = re.compile(
    r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"
)


def script_metadata(source: str) -> dict[str, Any]:
    blocks = [m for m in _METADATA_BLOCK.finditer(source) if m["type"] == "script"]
    assert len(blocks) == 1, "expected exactly one `# /// script` block"
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0]["content"].splitlines(keepends=True)
    )
    return tomllib.loads(content)


def third_party_modules(source: str) -> set[str]:
    """Top-level modules the script imports that are not in the standard library."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "__future__"}


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("-", "_")


# -- every example ----------------------------------------------------------------


@each_example
def test_black_stable(target: tuple[str, str | None]) -> None:
    source = compiled(target).source
    assert black.format_str(source, mode=black.Mode(line_length=LINE_LENGTH)) == source


@each_example
def test_ruff_clean(target: tuple[str, str | None], tmp_path: Path) -> None:
    assert ruff_problems(compiled(target).source, tmp_path) == ""


@each_example
def test_compiles(target: tuple[str, str | None]) -> None:
    compile(compiled(target).source, f"<{target_id(target)}>", "exec", dont_inherit=True)


@each_example
def test_no_top_level_name_is_defined_twice(target: tuple[str, str | None]) -> None:
    # Runtime templates share one namespace: a second definition would silently
    # replace the first for every caller.
    tree = ast.parse(compiled(target).source)
    names = [node.name for node in tree.body
             if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []


@each_example
def test_generating_twice_gives_identical_bytes(target: tuple[str, str | None]) -> None:
    again = compile_file(EXAMPLES / target[0], target[1])
    assert again.source.encode() == compiled(target).source.encode()


@each_example
def test_pep723_header_lists_exactly_the_plans_dependencies(
    target: tuple[str, str | None],
) -> None:
    result = compiled(target)
    metadata = script_metadata(result.source)
    assert metadata == {
        "requires-python": result.plan.requires_python,
        "dependencies": list(result.plan.dependencies),
    }
    # ...and those are exactly what the script imports from outside the standard library,
    # besides the optional extra that only --dask imports (inside the function that needs
    # it): `distributed`, which brings `cloudpickle`. The header names it in a comment.
    declared = {requirement_name(r) for r in result.plan.dependencies}
    assert third_party_modules(result.source) == (declared - DATA_ONLY) | OPTIONAL_EXTRA
    assert "pip install 'dask[distributed]'" in result.source.split("\nfrom __future__")[0]


def test_generation_is_deterministic_across_hash_seeds() -> None:
    program = (
        "import hashlib, json, sys\n"
        "from pathlib import Path\n"
        "from catalyst.compiler import compile_file\n"
        "targets = json.loads(sys.argv[1])\n"
        "folder = Path(sys.argv[2])\n"
        "print(json.dumps({f'{name}#{wid}': hashlib.sha256(\n"
        "    compile_file(folder / name, wid).source.encode()).hexdigest()\n"
        "    for name, wid in targets}))\n"
    )
    # One process per seed, all examples in each; the two run side by side.
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", program, json.dumps(TARGETS), str(EXAMPLES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        for seed in ("0", "12345")
    ]
    digests = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, stderr
        digests.append(json.loads(stdout))
    assert len(digests[0]) == len(TARGETS)
    assert digests[0] == digests[1]


# -- a workflow that needs neither expressions nor Groq ---------------------------------


PLAIN_WORKFLOW = {
    "id": "plain",
    "name": "Plain record",
    "description": "Literal values only: no expressions, no model calls.",
    "nodes": [
        {
            "id": "fields",
            "type": "editFields",
            "position": {"x": 0, "y": 0},
            "data": {
                "label": "Set fields",
                "config": {
                    "mode": "replace",
                    "fields": {"status": "ok", "count": 3, "tags": ["a", "b"]},
                },
            },
        },
        {
            "id": "note",
            "type": "log",
            "position": {"x": 250, "y": 0},
            "data": {
                "label": "Note",
                "config": {"level": "info", "message": "fields set", "data": {"source": "literal"}},
            },
        },
    ],
    "edges": [{"id": "e1", "source": "fields", "target": "note"}],
}


def test_workflow_without_expressions_or_groq_is_a_plain_script(tmp_path: Path) -> None:
    workflow = tmp_path / "plain.json"
    workflow.write_text(json.dumps(PLAIN_WORKFLOW), encoding="utf-8")
    result = compile_file(workflow)
    source = result.source

    assert result.plan.dependencies == ()
    assert script_metadata(source)["dependencies"] == []
    assert third_party_modules(source) == OPTIONAL_EXTRA  # only --dask imports them
    assert "jinja2" not in source and "groq" not in source.lower()
    assert black.format_str(source, mode=black.Mode(line_length=LINE_LENGTH)) == source
    assert ruff_problems(source, tmp_path, "plain.py") == ""

    script = tmp_path / "plain.py"
    script.write_text(source, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    run = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"note": {"status": "ok", "count": 3, "tags": ["a", "b"]}}
    assert json.loads(run.stderr.strip()) == {
        "level": "info",
        "node": "note",
        "message": "fields set",
        "data": {"source": "literal"},
    }
