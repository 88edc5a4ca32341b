"""`catalyst graph`: the workflow as a Mermaid or DOT flowchart for pull requests.

The pictures of the triage example are pinned byte for byte; hostile labels must
stay inside their node, one statement per line, with their text recoverable.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES
from workflow_builders import (
    checked,
    condition_node,
    edge,
    graph,
    groq_node,
    log_node,
    node,
    prompt_node,
    write_json,
)

from catalyst.cli import main
from catalyst.graph import dot_text, mermaid_text, to_dot, to_mermaid
from catalyst.loading import document_shape, read_document, workflow_ids

EXIT_OK, EXIT_INVALID = 0, 2
TRIAGE = EXAMPLES / "support_triage.json"

TRIAGE_MERMAID = """\
flowchart LR
    n1(["POST /api/v1/triage<br/>httpEndpoint"])
    n2["Classify urgency<br/>groqCompletion"]
    n3{"Urgent?<br/>condition"}
    n4["Escalate<br/>editFields"]
    n5["File as routine<br/>editFields"]
    n6["Record decision<br/>log"]
    n1 --> n2
    n2 --> n3
    n3 -->|"true"| n4
    n3 -->|"false"| n5
    n4 --> n6
    n5 --> n6
    n2 -.-> n4
    n2 -.-> n6
"""

TRIAGE_DOT = """\
digraph workflow {
    rankdir=LR;
    n1 [label="POST /api/v1/triage\\nhttpEndpoint", shape=oval];
    n2 [label="Classify urgency\\ngroqCompletion", shape=box, style=rounded];
    n3 [label="Urgent?\\ncondition", shape=diamond];
    n4 [label="Escalate\\neditFields", shape=box, style=rounded];
    n5 [label="File as routine\\neditFields", shape=box, style=rounded];
    n6 [label="Record decision\\nlog", shape=box, style=rounded];
    n1 -> n2;
    n2 -> n3;
    n3 -> n4 [label="true"];
    n3 -> n5 [label="false"];
    n4 -> n6;
    n5 -> n6;
    n2 -> n4 [style=dotted];
    n2 -> n6 [style=dotted];
}
"""

HOSTILE_LABELS = [
    'say "hi"',
    "two\nlines\r\nand\rmore",
    '"]; click n1 call alert()',
    '"]\nclick n1 call alert()\n%%',
    "%%{init: {'theme': 'dark', 'securityLevel': 'loose'}}%%",
    "<script>alert(1)</script>",
    "\x1b[31mred\x1b[0m and a bell\x07",
    "a|b[c]{d}(e)#f;g`h`",
    "ends in a backslash\\",
    '\\" escaped quote',
    "&lt; already an entity #quot; #35;",
    "style x:#fff;",
    "\u202eright-to-left override, zero\u200bwidth",
    "line\u2028separator\u2029paragraph\x85next\x0bvt\x0cff",
    "Résumé 📝 日本語",
]


def graph_cli(*args: str | Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["graph", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def hostile_workflow() -> dict[str, Any]:
    """A trigger, a condition and a chain of log nodes, each with a hostile label."""
    nodes = [node("start", "httpEndpoint", {"method": "POST", "path": "/run"},
                  label=HOSTILE_LABELS[0]),
             {**condition_node("check"), "data": {"config": {"expression": "true"},
                                                   "label": HOSTILE_LABELS[1]}}]
    nodes += [node(f"EVIL-ID-{i}", "log", {"message": "hi"}, label=label)
              for i, label in enumerate(HOSTILE_LABELS[2:])]
    ids = [n["id"] for n in nodes]
    edges = [edge("start", "check"), edge("check", ids[2], source_handle="true"),
             *(edge(a, b) for a, b in itertools.pairwise(ids[2:]))]
    return graph(*nodes, edges=edges)


def as_drawn(label: str) -> str:
    """A label as the picture shows it: any line ending is one line break."""
    return label.replace("\r\n", "\n").replace("\r", "\n")


def mermaid_label_text(escaped: str) -> str:
    """Undo the Mermaid escaping: what a reader of the rendered picture sees."""
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), escaped.replace("<br/>", "\n"))


def dot_label_text(escaped: str) -> str:
    """Undo the DOT escaping: backslash escapes, then the entities Graphviz decodes."""
    unescaped = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), escaped)
    return re.sub(r"&#(\d+);|&amp;", lambda m: chr(int(m.group(1))) if m.group(1) else "&",
                  unescaped)


# -- the pinned example -------------------------------------------------------------------


def test_mermaid_of_the_triage_example_is_pinned(capsys: pytest.CaptureFixture[str]) -> None:
    assert graph_cli(TRIAGE, "--workflow", "triage", capsys=capsys) == (EXIT_OK, TRIAGE_MERMAID, "")


def test_dot_of_the_triage_example_is_pinned(capsys: pytest.CaptureFixture[str]) -> None:
    result = graph_cli(TRIAGE, "--workflow", "triage", "--format", "dot", capsys=capsys)
    assert result == (EXIT_OK, TRIAGE_DOT, "")


def test_stdout_and_output_file_hold_the_same_utf8_bytes(tmp_path: Path) -> None:
    """Run as users run it; the bytes do not depend on the locale or the platform."""
    path = write_json(tmp_path / "wf.json",
                      graph(node("log", "log", {"message": "x"}, label="Résumé 📝")))
    command = [sys.executable, "-m", "catalyst.cli", "graph", str(path)]
    env = {**os.environ, "PYTHONIOENCODING": "latin-1", "LC_ALL": "C"}
    first = subprocess.run(command, capture_output=True, check=False, env=env, timeout=60)
    second = subprocess.run([*command, "-o", str(tmp_path / "out" / "wf.mmd")],
                            capture_output=True, check=False, timeout=60)
    assert first.returncode == second.returncode == EXIT_OK, first.stderr + second.stderr
    expected = 'flowchart LR\n    n1["Résumé 📝<br/>log"]\n'.encode()
    assert first.stdout == expected
    assert (tmp_path / "out" / "wf.mmd").read_bytes() == expected
    assert second.stdout == b""
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["wf.mmd"]  # no temp files left


@pytest.mark.parametrize("graph_format", ["mermaid", "dot"])
def test_every_example_draws_every_node(graph_format: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    for path in sorted(EXAMPLES.glob("*.json")):
        document, _, _ = read_document(path)
        ids = workflow_ids(document) if document_shape(document) == "manifest" else [""]
        for workflow_id in ids:
            extra = ["--workflow", workflow_id] if workflow_id else []
            code, out, err = graph_cli(path, *extra, "--format", graph_format, capsys=capsys)
            assert code == EXIT_OK, err
            assert re.search(r"\bn1\b", out), out


# -- what the picture shows ---------------------------------------------------------------


def test_an_expression_only_dependency_is_dotted_and_a_wired_one_is_not() -> None:
    workflow = checked(graph(
        prompt_node("prompt"),
        groq_node("llm"),
        log_node("wired", message="{{ nodes.llm.output.content }}"),
        log_node("reader", message="{{ nodes.llm.output.content }}"),
        edges=[edge("prompt", "llm"), edge("llm", "wired")],
    ))

    assert to_mermaid(workflow).splitlines()[5:] == [
        "    n1 --> n2",
        "    n2 --> n3",
        "    n2 -.-> n4",
    ]
    assert to_dot(workflow).splitlines()[6:] == [
        "    n1 -> n2;",
        "    n2 -> n3;",
        "    n2 -> n4 [style=dotted];",
        "}",
    ]


# -- hostile input ------------------------------------------------------------------------


_MERMAID_NODE = re.compile(r'^    (n\d+)(?:\(\["(.*)"\]\)|\{"(.*)"\}|\["(.*)"\])$')
_MERMAID_ARROW = re.compile(r'^    n\d+ (?:-->|-\.->)(?:\|"[a-z]+"\|)? n\d+$')


def test_hostile_labels_stay_inside_their_mermaid_node() -> None:
    workflow = checked(hostile_workflow())
    text = to_mermaid(workflow)
    lines = text.splitlines()  # splits on every Unicode line break, not only \n

    boxes, arrows = len(workflow.workflow.nodes), len(workflow.wires)
    assert text.endswith("\n") and text.count("\n") == len(lines)
    assert len(lines) == 1 + boxes + arrows
    assert lines[0] == "flowchart LR"
    seen = []
    for number, line in enumerate(lines[1:1 + boxes], start=1):
        match = _MERMAID_NODE.match(line)
        assert match, line
        assert match.group(1) == f"n{number}"
        inside = next(group for group in match.groups()[1:] if group is not None)
        raw = re.sub(r"#\d+;|<br/>", "", inside)  # what is left is the user's own text
        assert not set(raw) & set("\"#%{}[]()|<>;:`\x1b"), raw
        seen.append(mermaid_label_text(inside))
    for line in lines[1 + boxes:]:
        assert _MERMAID_ARROW.match(line), line
    types = [n.type for n in workflow.workflow.nodes]
    assert seen == [f"{as_drawn(label)}\n{t}" for label, t in zip(HOSTILE_LABELS, types, strict=True)]
    assert "EVIL-ID" not in text
    assert all(char.isprintable() or char == "\n" for char in text)


_DOT_NODE = re.compile(r'^    (n\d+) \[label="((?:[^"\\]|\\.)*)", shape=[a-z]+(?:, style=[a-z]+)?\];$')
_DOT_ARROW = re.compile(r'^    n\d+ -> n\d+(?: \[(?:label="[a-z]+"(?:, )?)?(?:style=dotted)?\])?;$')


def test_hostile_labels_stay_inside_their_dot_string() -> None:
    workflow = checked(hostile_workflow())
    text = to_dot(workflow)
    lines = text.splitlines()

    boxes, arrows = len(workflow.workflow.nodes), len(workflow.wires)
    assert len(lines) == 2 + boxes + arrows + 1
    seen = []
    for number, line in enumerate(lines[2:2 + boxes], start=1):
        match = _DOT_NODE.match(line)
        assert match, line
        assert match.group(1) == f"n{number}"
        seen.append(dot_label_text(match.group(2)))
    for line in lines[2 + boxes:-1]:
        assert _DOT_ARROW.match(line), line
    types = [n.type for n in workflow.workflow.nodes]
    assert seen == [f"{as_drawn(label)}\n{t}" for label, t in zip(HOSTILE_LABELS, types, strict=True)]
    assert "EVIL-ID" not in text
    assert all(char.isprintable() or char == "\n" for char in text)


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_escaped_text_has_no_raw_breakout_characters(label: str) -> None:
    assert not set(mermaid_text(label)) & set('"%\n\r\x1b`|[]{}')
    assert mermaid_label_text(mermaid_text(label)) == as_drawn(label)
    # In DOT only an unescaped quote ends the string: every quote has its backslash.
    assert not re.search(r'(?<!\\)(?:\\\\)*"', dot_text(label))
    assert dot_label_text(dot_text(label)) == as_drawn(label)


def test_dot_output_is_structurally_dot() -> None:
    """Balanced braces outside strings, and one `;`-terminated statement per inner line."""
    text = to_dot(checked(hostile_workflow()))
    outside_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    assert outside_strings.count("{") == outside_strings.count("}") == 1
    lines = text.splitlines()
    assert lines[0] == "digraph workflow {" and lines[-1] == "}"
    assert all(line.startswith("    ") and line.endswith(";") for line in lines[1:-1])
    assert all(line.count(";") == 1 for line in outside_strings.splitlines()[1:-1])


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_graphviz_parses_the_dot_output() -> None:
    for dot in (TRIAGE_DOT, to_dot(checked(hostile_workflow()))):
        result = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True,
                                check=False, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "<script>" not in result.stdout


# -- problems -------------------------------------------------------------------------------


def test_an_invalid_workflow_prints_validates_report_and_exits_2(tmp_path: Path) -> None:
    path = write_json(tmp_path / "broken.json", graph(
        prompt_node("prompt"), groq_node("llm", temperature=5), node("mystery", "noSuchType", {}),
        edges=[edge("prompt", "llm", id="e1")],
    ))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "catalyst.cli", *args], capture_output=True,
                              text=True, check=False, timeout=60)

    drawn, validated = run("graph", str(path), "-o", str(tmp_path / "g.mmd")), run(
        "validate", str(path))
    assert drawn.returncode == validated.returncode == EXIT_INVALID
    assert drawn.stderr == validated.stderr
    assert "2 error(s)" in drawn.stderr and "Traceback" not in drawn.stderr
    assert drawn.stdout == ""
    assert not (tmp_path / "g.mmd").exists()


def test_a_manifest_with_several_workflows_needs_workflow(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = graph_cli(TRIAGE, capsys=capsys)
    assert (code, out) == (EXIT_INVALID, "")
    assert "[workflow-choice-required]" in err
    assert "pass --workflow with one of: draft_reply, triage" in err


def test_an_unreadable_file_is_a_report_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = graph_cli(tmp_path / "missing.json", capsys=capsys)
    assert (code, out) == (EXIT_INVALID, "")
    assert "[unreadable-file]" in err
