"""Hostile and broken inputs meet a generated script: one clear answer, never a crash.

The compiler's side is in test_hostile_input.py; these are the inputs a
generated script takes from whoever calls it (`--input`, `--inputs-json`,
stdin, library calls). Each test runs the script as a subprocess, under an
address-space limit and a timeout where a regression could take the machine
down, so it cannot take the test run with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import build

from catalyst.mock_groq import MockGroqServer

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
MODEL = "openai/gpt-oss-20b"
TEXT_AND_NUMBER = {"text": {"type": "string", "required": True},
                   "n": {"type": "integer", "required": True}}


def limit_memory(megabytes: int) -> Any:
    def apply() -> None:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def script_run(script: Path, *args: str, server: MockGroqServer | None = None,
               stdin: str | None = None, memory_mb: int = 1024,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    if server is not None:
        environment.update(GROQ_BASE_URL=server.base_url, GROQ_API_KEY="test-key")
    return subprocess.run(
        [sys.executable, str(script), *args], input=stdin, capture_output=True, text=True,
        env=environment, timeout=timeout, check=False, preexec_fn=limit_memory(memory_mb),
    )


def fields_node(node_id: str, fields: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "editFields", "position": {"x": 0, "y": 0},
            "data": {"label": node_id.title(), "config": {"mode": "replace", "fields": fields},
                     **data}}


def groq_node(node_id: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "groqCompletion", "position": {"x": 0, "y": 0},
            "data": {"label": node_id.title(),
                     "config": {"model": MODEL, "prompt": "{{ input.text }}", **config}}}


def workflow(*nodes: dict[str, Any], inputs: dict[str, Any] | None = None,
             **extra: Any) -> dict[str, Any]:
    return {"id": "hostile", "name": "Hostile", "nodes": list(nodes), "edges": [],
            "input": inputs or {"text": {"type": "string", "required": True}}, **extra}


def one_line(completed: subprocess.CompletedProcess[str], code: int) -> str:
    assert completed.returncode == code, (completed.stdout, completed.stderr)
    assert "Traceback" not in completed.stderr, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    return lines[0]


# -- 1. run-time expressions are bounded ----------------------------------------------


BOMBS = {
    "string times number": ("{{ input.text * input.n }}", "1,000,000-character"),
    "string plus itself": ("{{ (input.text * 999999) + (input.text * 999999) }}",
                           "1,000,000-character"),
    "list times number": ("{{ [input.text] * input.n }}", "1,000,000-item"),
    "huge power": ("{{ input.n ** input.n }}", "100,000-bit"),
    "huge range": ("{{ range(input.n) | list }}", "range"),
    "percent width": ("{{ '%0*d' % (input.n, 1) }}", "1,000,000-character"),
    "joined references": ("{{ [input.text * 600000, input.text * 600000] | join }}",
                          "1,000,000-character"),
    "padding method": ("{{ input.text.ljust(input.n) }}", "1,000,000-character"),
    "centre filter": ("{{ input.text | center(input.n) }}", "1,000,000-character"),
    "list of references": ("{{ [input.text * 999999] * 999 }}", "1,000,000-item"),
    "text of references": ("{% set a = [input.text * 999999] %}{{ a + a }}",
                           "1,000,000-character"),
    "replace filter": ("{{ (input.text * 999999) | replace('x', input.text * 999999) }}",
                       "1,000,000-character"),
    "endless loop": ("{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}"
                     "{% endfor %}{% endfor %}", "2-second"),
}


@pytest.mark.parametrize("bomb", list(BOMBS), ids=list(BOMBS))
def test_an_expression_bomb_is_a_clear_node_error(tmp_path: Path, bomb: str) -> None:
    expression, limit = BOMBS[bomb]
    script = build(tmp_path, workflow(fields_node("shape", {"value": expression}),
                                      inputs=TEXT_AND_NUMBER))

    started = time.monotonic()
    line = one_line(script_run(script, "--input", "text=x", "--input", "n=10000000000",
                               timeout=60), EXIT_FAILED)

    assert time.monotonic() - started < 30
    assert line.startswith("error: node 'shape' (Shape) failed: expression exceeds the ")
    assert limit in line
    assert line.endswith("(expression-limit)")


def test_on_error_continue_carries_an_expression_limit_on(tmp_path: Path) -> None:
    script = build(tmp_path, workflow(
        fields_node("shape", {"value": "{{ input.text * input.n }}"}, onError="continue"),
        inputs=TEXT_AND_NUMBER))

    completed = script_run(script, "--input", "text=x", "--input", "n=10000000000", "--json")

    assert completed.returncode == EXIT_OK, completed.stderr
    error = json.loads(completed.stdout)["outputs"]["shape"]["error"]
    assert "1,000,000-character limit (expression-limit)" in error


def test_values_within_the_limits_still_evaluate(tmp_path: Path) -> None:
    script = build(tmp_path, workflow(fields_node("shape", {
        "text": "{{ input.text * input.n }}",
        "power": "{{ 2 ** 64 }}",
        "count": "{{ range(input.n) | list | length }}",
        "sum": "{{ input.n + 1 }}",
        "percent": "{{ '%05d' % input.n }}",
    }), inputs=TEXT_AND_NUMBER))

    completed = script_run(script, "--input", "text=ab", "--input", "n=3", "--json")

    assert completed.returncode == EXIT_OK, completed.stderr
    assert json.loads(completed.stdout)["outputs"]["shape"] == {
        "text": "ababab", "power": 2**64, "count": 3, "sum": 4, "percent": "00003"}


def test_the_time_limit_leaves_the_callers_signal_handler_and_timer_alone(
    tmp_path: Path, load_script: Any
) -> None:
    module = load_script(build(tmp_path, workflow(
        fields_node("shape", {"value": "{{ input.text * input.n }}"}), inputs=TEXT_AND_NUMBER)))

    def handler(_signal: int, _frame: Any) -> None:
        raise AssertionError("the caller's timer went off during the test")

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        result = asyncio.run(module.run_workflow({"text": "ab", "n": 2}))
        assert signal.getsignal(signal.SIGALRM) is handler
        assert 50 < signal.getitimer(signal.ITIMER_REAL)[0] <= 60
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert result["outputs"] == {"shape": {"value": "abab"}}


def test_off_the_main_thread_the_size_limits_still_hold(
    tmp_path: Path, load_script: Any
) -> None:
    module = load_script(build(tmp_path, workflow(
        fields_node("shape", {"value": "{{ input.text * input.n }}"}), inputs=TEXT_AND_NUMBER)))
    outcomes: list[Any] = []

    def worker() -> None:
        for n in (2, 10**10):
            try:
                outcomes.append(asyncio.run(module.run_workflow({"text": "ab", "n": n})))
            except module.WorkflowError as exc:
                outcomes.append(str(exc))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=30)

    assert outcomes[0]["outputs"] == {"shape": {"value": "abab"}}
    assert outcomes[1].endswith("1,000,000-character limit (expression-limit)")


# -- 2. deferred configs are checked once resolved ------------------------------------


T_INPUT = {"text": {"type": "string", "required": True}, "t": {"type": "object"}}


@pytest.mark.parametrize(("field", "value", "shown", "allowed"), [
    ("temperature", "hot", "str 'hot'", "number from 0 to 2"),
    ("temperature", 7, "int 7", "number from 0 to 2"),
    ("max_completion_tokens", -1, "int -1", "integer at least 1"),
    ("model", 42, "int 42", "string"),
    ("seed", [1], "list of 1 item(s)", "integer or null"),
])
def test_a_deferred_config_value_is_checked_before_any_request(
    tmp_path: Path, groq_server: MockGroqServer, field: str, value: Any, shown: str,
    allowed: str,
) -> None:
    script = build(tmp_path, workflow(groq_node("ask", **{field: "{{ input.t.v }}"}),
                                      inputs=T_INPUT))

    line = one_line(script_run(script, "--input", "text=hi", "--input",
                               "t=" + json.dumps({"v": value}), server=groq_server),
                    EXIT_FAILED)

    assert line.startswith(f"error: node 'ask' (Ask) failed: {field} is {shown}; allowed: ")
    assert allowed in line
    assert groq_server.requests == []


def test_a_deferred_config_value_that_fits_is_sent(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(
        groq_node("ask", temperature="{{ input.t.v }}", max_completion_tokens="{{ 5 * 2 }}"),
        inputs=T_INPUT))

    completed = script_run(script, "--input", "text=hi", "--input", 't={"v": 0.5}',
                           server=groq_server)

    assert completed.returncode == EXIT_OK, completed.stderr
    assert groq_server.requests[-1].body["temperature"] == 0.5
    assert groq_server.requests[-1].body["max_completion_tokens"] == 10


# -- 3. values that are not JSON ------------------------------------------------------


NUMBER_INPUT = {"x": {"type": "number", "required": True}}


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_number_input_that_is_not_finite_is_refused(tmp_path: Path, text: str) -> None:
    script = build(tmp_path, workflow(fields_node("shape", {"x": "{{ input.x }}"}),
                                      inputs=NUMBER_INPUT))

    for args, stdin in ((["--input", f"x={text}"], None),
                        (["--inputs-json", "-"], '{"x": ' + text + '}')):
        line = one_line(script_run(script, *args, "--json", stdin=stdin), EXIT_INVALID)
        assert "input 'x'" in line and "finite" in line


def test_a_non_finite_number_nested_in_an_object_input_is_refused(tmp_path: Path) -> None:
    script = build(tmp_path, workflow(fields_node("shape", {"x": "{{ input.x }}"}),
                                      inputs={"x": {"type": "object", "required": True}}))

    line = one_line(script_run(script, "--input", 'x={"a": [1, NaN]}'), EXIT_INVALID)

    assert "input 'x'" in line and "finite" in line


def test_json_output_is_always_json(tmp_path: Path) -> None:
    # An expression can still make a float that JSON cannot carry.
    script = build(tmp_path, workflow(fields_node("shape", {"x": "{{ input.text | float }}"})))

    completed = script_run(script, "--input", "text=nan", "--json")

    line = one_line(completed, EXIT_FAILED)
    assert "NaN" in line or "finite" in line


def test_a_number_with_fifty_thousand_digits_is_an_input_error(tmp_path: Path) -> None:
    script = build(tmp_path, workflow(fields_node("shape", {"x": "{{ input.x }}"}),
                                      inputs=NUMBER_INPUT))
    digits = "9" * 50_000

    for args, stdin in ((["--input", f"x={digits}"], None),
                        (["--inputs-json", "-"], '{"x": ' + digits + '}')):
        line = one_line(script_run(script, *args, stdin=stdin), EXIT_INVALID)
        assert "input" in line and len(line) < 300


def test_a_deeply_nested_input_is_an_input_error(tmp_path: Path) -> None:
    script = build(tmp_path, workflow(fields_node("shape", {"x": "{{ input.x }}"}),
                                      inputs={"x": {"type": "array", "required": True}}))

    line = one_line(script_run(script, "--input", "x=" + "[" * 20_000 + "]" * 20_000),
                    EXIT_INVALID)

    assert "input 'x'" in line


@pytest.mark.parametrize(("value", "sent"), [
    ({"a": [1, 2]}, '{"a": [1, 2]}'),
    ([1, "b"], '[1, "b"]'),
    (3.5, "3.5"),
    (0, "0"),
    (True, "True"),
])
def test_a_prompt_that_is_not_text_is_sent_as_text(
    tmp_path: Path, groq_server: MockGroqServer, value: Any, sent: str
) -> None:
    script = build(tmp_path, workflow(
        groq_node("ask", prompt="{{ input.t.v }}", system_prompt="{{ input.t.v }}"),
        inputs=T_INPUT))

    completed = script_run(script, "--input", "text=hi", "--input",
                           "t=" + json.dumps({"v": value}), server=groq_server)

    assert completed.returncode == EXIT_OK, completed.stderr
    assert groq_server.requests[-1].body["messages"] == [
        {"role": "system", "content": sent}, {"role": "user", "content": sent}]


def test_an_empty_prompt_sends_no_empty_message(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(groq_node(
        "ask", system_prompt="Be brief.", prompt="{{ input.text }}",
        messages=[{"role": "user", "content": "{{ '' }}"}])))

    completed = script_run(script, "--input", "text=   ", server=groq_server)

    assert completed.returncode == EXIT_OK, completed.stderr
    assert groq_server.requests[-1].body["messages"] == [{"role": "system", "content": "Be brief."}]


def test_a_request_with_no_messages_is_a_node_error_before_any_request(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    script = build(tmp_path, workflow(groq_node("ask", prompt="{{ input.text }}")))

    line = one_line(script_run(script, "--input", "text=", server=groq_server), EXIT_FAILED)

    assert line.startswith("error: node 'ask' (Ask) failed: ")
    assert "no messages" in line
    assert groq_server.requests == []


# -- 4. --input NAME=@FILE ------------------------------------------------------------


def _echo(tmp_path: Path) -> Path:
    return build(tmp_path, workflow(fields_node("shape", {"text": "{{ input.text }}"})))


def test_at_reads_a_file_and_double_at_escapes(tmp_path: Path) -> None:
    script = _echo(tmp_path)
    (tmp_path / "note.txt").write_text("from a file", encoding="utf-8")

    from_file = script_run(script, "--input", f"text=@{tmp_path / 'note.txt'}", "--json")
    literal = script_run(script, "--input", "text=@@home", "--json")

    assert json.loads(from_file.stdout)["outputs"]["shape"]["text"] == "from a file"
    assert json.loads(literal.stdout)["outputs"]["shape"]["text"] == "@home"


def test_at_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    script = _echo(tmp_path)
    big = tmp_path / "big.txt"
    with big.open("wb") as file:
        file.truncate(10 * 1024 * 1024 + 1)

    line = one_line(script_run(script, "--input", f"text=@{big}"), EXIT_INVALID)

    assert "10 MB" in line


def test_at_refuses_files_that_are_not_regular(tmp_path: Path) -> None:
    script = _echo(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    for special in (fifo, Path("/dev/zero")):
        line = one_line(script_run(script, "--input", f"text=@{special}", timeout=20),
                        EXIT_INVALID)
        assert "not a regular file" in line
    line = one_line(script_run(script, "--inputs-json", str(fifo), timeout=20), EXIT_INVALID)
    assert "not a regular file" in line


def test_help_says_how_at_works(tmp_path: Path) -> None:
    completed = script_run(_echo(tmp_path), "--help")

    assert completed.returncode == EXIT_OK
    help_text = " ".join(completed.stdout.split())
    assert "@FILE" in help_text and "@@" in help_text


# -- 5. % in descriptions ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["100% sure", "%(prog)s and %d", "%d %s %%", "50%(x)"])
def test_percent_signs_in_descriptions_do_not_break_help(tmp_path: Path, text: str) -> None:
    script = build(tmp_path, workflow(
        fields_node("shape", {"text": "{{ input.text }}"}),
        inputs={"text": {"type": "string", "required": True, "description": text}},
        description=text,
    ))

    completed = script_run(script, "--help")

    assert completed.returncode == EXIT_OK, completed.stderr
    assert completed.stdout.count(text) == 2, completed.stdout
