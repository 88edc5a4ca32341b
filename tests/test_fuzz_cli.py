"""Fuzzing the command line with random and mutated workflow files.

Whatever the file holds, `catalyst validate` and `generate` answer with exit 0
or 2 and a report — never a traceback, never the internal-error exit (70) —
and every script `generate` writes compiles. CI runs a bounded number of
examples; before a release, run longer:

    CATALYST_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz_cli.py
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalyst.cli import main

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
DOCUMENTS = [json.loads(path.read_text(encoding="utf-8")) for path in EXAMPLE_FILES]
FUZZ = settings(
    max_examples=int(os.environ.get("CATALYST_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

hostile_text = st.sampled_from([
    "", " ", "{{", "}}", "{{ nodes }}", "{{ input.x | nope }}", "{% for %}", "\x1b[2J", "\u202e",
    "%(prog)s", "\\", '"', "'''", "\n#", "gsk_" + "a" * 20, "{{ 1/0 }}", "{{ secrets.X }}",
    "nodes['x'].output", "x" * 300, "9" * 40, "__import__('os')", "\ud7ff", "NaN",
]) | st.text(max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
    | hostile_text,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(hostile_text, children, max_size=3),
    max_leaves=8,
)


def paths_of(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_of(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths_of(item, (*path, index))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS)))
    for _ in range(draw(st.integers(1, 4))):
        places = paths_of(document)
        path = draw(st.sampled_from(places[1:] or places))
        if not path:
            break
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "rename"]))
        key = path[-1]
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(hostile_text)] = parent.pop(key)
    return document


def run_cli(tmp_path: Path, document: Any, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "fuzz.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    out = tmp_path / "out.py"
    out.unlink(missing_ok=True)
    for args in (["validate", str(source)], ["validate", "--format", "json", str(source)],
                 ["generate", str(source), "-o", str(out)]):
        code = main(args)
        captured = capsys.readouterr()
        assert code in (0, 2), (args, captured.err)
        assert "Traceback" not in captured.err
        assert "internal error" not in captured.err
    if out.exists():
        compile(out.read_text(encoding="utf-8"), str(out), "exec")


@FUZZ
@given(document=mutated_documents())
def test_mutated_examples_get_an_answer_never_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any
) -> None:
    run_cli(tmp_path, document, capsys)


@FUZZ
@given(document=json_values)
def test_random_json_gets_an_answer_never_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: Any
) -> None:
    run_cli(tmp_path, document, capsys)


@FUZZ
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_random_bytes_get_an_answer_never_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes
) -> None:
    source = tmp_path / "bytes.json"
    source.write_bytes(raw)
    code = main(["validate", str(source)])
    assert code in (0, 2)
    assert "Traceback" not in capsys.readouterr().err


@FUZZ
@given(argv=st.lists(st.sampled_from([
    "validate", "generate", "check", "nodes", "graph", "upgrade", "--format", "json", "text",
    "-o", "--workflow", "x", "--against", "--check", str(EXAMPLE_FILES[0]), "/dev/null",
    "/nonexistent", "--strict", "",
]), min_size=1, max_size=5))
def test_random_arguments_get_an_answer_never_a_crash(
    capsys: pytest.CaptureFixture[str], argv: list[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # whatever -o names lands here
    if "upgrade" in argv and "--check" not in argv:
        argv.append("--check")  # never rewrite the repository's examples
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code if isinstance(exit_.code, int) else 2
    err = capsys.readouterr().err
    assert code in (0, 1, 2), err
    assert "Traceback" not in err and "internal error" not in err
