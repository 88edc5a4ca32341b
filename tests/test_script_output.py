"""What generated scripts print (issue 11): parallel streams that do not
interleave, a server that never answers, waits that are announced, and
nothing printed or written that leaks a credential or drives the terminal.
Scripts run as subprocesses against the local Groq-protocol server, or
against a socket that accepts and never answers.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import build, run_script

from catalyst.mock_groq import MockGroqServer

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-oss-20b"


def groq_node(node_id: str, config: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    settings = {"model": MODEL, "prompt": "{{ input.text }}", **(config or {})}
    return {"id": node_id, "type": "groqCompletion", "position": {"x": 0, "y": 0},
            "data": {"label": node_id.title(), "config": settings, **data}}


def workflow(*nodes: dict[str, Any], edges: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    return {
        "id": "out", "name": "Output",
        "input": {"text": {"type": "string", "required": True}},
        "nodes": list(nodes),
        "edges": [{"id": f"e{i}", "source": s, "target": t} for i, (s, t) in enumerate(edges)],
    }


def with_constant(script: Path, name: str, default: str, value: str) -> Path:
    """The script with one runtime constant changed (the seam for long defaults)."""
    source = script.read_text(encoding="utf-8")
    assert f"\n{name} = {default}\n" in source
    script.write_text(source.replace(f"\n{name} = {default}\n", f"\n{name} = {value}\n"))
    return script


# -- 4. parallel streams ----------------------------------------------------------------


def test_parallel_streams_print_each_reply_whole(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    alpha = "alpha " * 12
    beta = "beta " * 12
    script = build(tmp_path, workflow(
        groq_node("a", {"stream": True, "prompt": alpha + "{{ input.text }}"}),
        groq_node("b", {"stream": True, "prompt": beta + "{{ input.text }}"}),
    ))
    # Both requests are held until both are in flight, then stream token by
    # token: the two replies are certainly on the wire at the same time.
    groq_server.update(hold_until_in_flight=2, tokens_per_second=100)

    run = run_script(script, "--input", "text=end", "--stream", server=groq_server)

    assert run.returncode == 0, run.stderr
    replies = {f"Mock reply to: {alpha}end".replace("  ", " "),
               f"Mock reply to: {beta}end".replace("  ", " ")}
    assert set(run.stdout.splitlines()) == {" ".join(r.split()) for r in replies}
    assert len(run.stdout.splitlines()) == 2


def test_token_printer_holds_other_nodes_until_the_live_one_finishes(
    tmp_path: Path, load_script: Callable[[Path], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load_script(build(tmp_path, workflow(groq_node("a"))))
    stdout = io.StringIO()
    monkeypatch.setattr("sys.stdout", stdout)
    printer = module._TokenPrinter()

    def token(node: str, text: str) -> None:
        printer({"type": "token", "node": node, "text": text})

    def finished(node: str) -> None:
        printer({"type": "node_finished", "node": node})

    token("a", "A1 ")
    token("b", "B1 ")
    token("c", "C1 ")
    token("b", "B2")
    finished("b")                # done while held: printed whole later
    token("a", "A2")
    printer({"type": "node_retry", "node": "c", "reason": "cut"})  # c starts again
    token("c", "C-again ")
    finished("a")                # b comes out whole, then c goes live
    token("c", "C2")
    finished("c")

    assert stdout.getvalue() == "A1 A2\nB1 B2\nC-again C2"


# -- 5. servers that do not answer -------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A base URL whose server accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)  # the kernel completes handshakes; nobody ever reads
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_node_timeout_ends_the_wait_on_a_silent_server(
    tmp_path: Path, silent_server: str
) -> None:
    script = build(tmp_path, workflow(groq_node("llm", timeout=500, retries=0)))

    started = time.monotonic()
    run = run_script(script, "--input", "text=hi", timeout=120,
                     env={"GROQ_BASE_URL": silent_server, "GROQ_API_KEY": "k"})

    assert run.returncode == 1, run.stderr
    assert "'llm'" in run.stderr and "Traceback" not in run.stderr
    assert time.monotonic() - started < 30  # 0.5 s asked for; minutes would be the bug


def test_the_default_read_timeout_ends_the_wait_on_a_silent_server(
    tmp_path: Path, silent_server: str
) -> None:
    # No node timeout: the script's own per-attempt read timeout applies (60 s,
    # shortened here through its constant so the test does not wait a minute).
    script = build(tmp_path, workflow(groq_node("llm", retries=0)))
    with_constant(script, "READ_TIMEOUT_S", "60.0", "0.5")

    started = time.monotonic()
    run = run_script(script, "--input", "text=hi", timeout=120,
                     env={"GROQ_BASE_URL": silent_server, "GROQ_API_KEY": "k"})

    assert run.returncode == 1, run.stderr
    assert "did not answer in time" in run.stderr
    assert time.monotonic() - started < 30


def test_a_slow_node_is_announced_in_cli_runs_only(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Callable[[Path], ModuleType],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = build(tmp_path, workflow(groq_node("llm", {"stream": True})))
    with_constant(script, "STILL_WAITING_S", "10.0", "0.3")
    groq_server.update(ttft_ms=3000)  # the first token comes ten times later

    run = run_script(script, "--input", "text=hi", "--stream", server=groq_server)

    assert run.returncode == 0, run.stderr
    notices = [line for line in run.stderr.splitlines() if line.startswith("still waiting")]
    assert notices[0] == "still waiting for node 'llm' (Llm) after 0.3 s"
    assert notices[1] == "still waiting for node 'llm' (Llm) after 0.6 s"
    assert 2 <= len(notices) <= 4  # 0.3, 0.6, 1.2, 2.4: doubling, not a flood

    module = load_script(script)
    monkeypatch.setattr(module, "STILL_WAITING_S", 0.3)
    capsys.readouterr()
    asyncio.run(module.run_workflow({"text": "hi"}))
    assert capsys.readouterr().err == ""  # a library prints nothing


def test_a_rate_limit_wait_is_announced(tmp_path: Path, groq_server: MockGroqServer) -> None:
    script = build(tmp_path, workflow(groq_node("first"), groq_node("second"),
                                      edges=(("first", "second"),)))
    groq_server.update(rate_limit_every=2, retry_after_ms=800)

    run = run_script(script, "--input", "text=hi", server=groq_server)

    assert run.returncode == 0, run.stderr
    waits = [line for line in run.stderr.splitlines() if line.startswith("waiting")]
    assert waits == [f"waiting 0.8 s: Groq rate limit (429) on {MODEL}"]


# -- 6. credentials and control characters ----------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SECRETS = ("s3cret-pass", "tok-abc123")


def test_credentials_in_the_base_url_are_never_printed_or_written(
    tmp_path: Path, load_script: Callable[[Path], ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = build(tmp_path, workflow(groq_node("llm", retries=0)))
    base_url = f"http://user:{SECRETS[0]}@127.0.0.1:{closed_port()}/?token={SECRETS[1]}"
    env = {"GROQ_BASE_URL": base_url, "GROQ_API_KEY": "k"}

    run = run_script(script, "--input", "text=hi", "--json", env=env)
    assert run.returncode == 1 and "cannot reach Groq" in run.stderr, run.stderr
    assert "***@127.0.0.1" in run.stderr

    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "hi"}\n')
    target = tmp_path / "out.jsonl"
    batch = run_script(script, "--batch", str(source), "--output", str(target), "--json",
                       env=env)
    assert batch.returncode == 1
    written = target.read_text()
    assert "cannot reach Groq" in written

    # A library caller's events and exception, too.
    module = load_script(script)
    monkeypatch.setenv("GROQ_BASE_URL", base_url)
    events: list[dict[str, Any]] = []
    with pytest.raises(module.WorkflowError) as failure:
        asyncio.run(module.run_workflow({"text": "hi"}, on_event=events.append))

    for text in (run.stdout, run.stderr, batch.stdout, batch.stderr, written,
                 json.dumps(events), str(failure.value)):
        for secret in SECRETS:
            assert secret not in text


def test_control_characters_in_labels_are_printed_escaped(
    tmp_path: Path, groq_server: MockGroqServer
) -> None:
    node = groq_node("llm")
    node["data"]["label"] = "Evil\x1b]0;pwned\x07\u202eLabel"
    script = build(tmp_path, workflow(node))
    groq_server.update(api_key="right")  # a 401: the error line names the label

    run = run_script(script, "--input", "text=hi", server=groq_server)

    assert run.returncode == 1
    assert "Evil\\x1b]0;pwned\\x07\\u202eLabel" in run.stderr
    for char in "\x1b\x07\u202e":
        assert char not in run.stderr
