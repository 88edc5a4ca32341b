"""Provider clients outlive a run: one set per event loop, closed with the loop.

Proven by behaviour at the local server (how many TCP connections the script
opened) and by the clients' own state, never by timing. Each test imports a
fresh copy of the script, so registries never leak between tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import build, run_script

from catalyst.mock_groq import MockGroqServer

pytestmark = pytest.mark.e2e

MODEL = "openai/gpt-oss-20b"
Loader = Callable[[Path], ModuleType]
INPUTS = {"text": "hi"}


def groq_node(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "groqCompletion", "position": {"x": 0, "y": 0},
            "data": {"label": node_id, "config": {"model": MODEL, "prompt": "{{ input.text }}"}}}


def fan_out(width: int) -> dict[str, Any]:
    return {"id": "reuse", "name": "Client reuse",
            "input": {"text": {"type": "string", "required": True}},
            "nodes": [groq_node(f"n{i}") for i in range(1, width + 1)], "edges": []}


def groq_clients(module: ModuleType) -> list[Any]:
    """The running loop's shared Groq clients."""
    entry = module._LOOP_CLIENTS.get(asyncio.get_running_loop())
    return [] if entry is None else list(entry[0].values())


# -- one loop, many runs ---------------------------------------------------------------


def test_repeated_runs_on_one_loop_share_one_connection_pool(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    # Each run's three calls are held until all three are in flight, so one
    # run needs exactly three connections; later runs find them idle in the pool.
    module = load_script(build(tmp_path, fan_out(3)))
    groq_server.update(hold_until_in_flight=3)

    async def runs() -> None:
        for _ in range(5):
            result = await module.run_workflow(INPUTS)
            assert set(result["outputs"]) == {"n1", "n2", "n3"}

    asyncio.run(runs())

    assert len(groq_server.chat_requests()) == 15
    assert groq_server.connections_accepted == 3


def test_stream_workflow_shares_the_clients_of_run_workflow(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, fan_out(1)))

    async def runs() -> list[str]:
        await module.run_workflow(INPUTS)
        first = groq_clients(module)
        kinds = [event["type"] async for event in module.stream_workflow(INPUTS)]
        await module.run_workflow(INPUTS)
        assert groq_clients(module) == first and len(first) == 1
        return kinds

    kinds = asyncio.run(runs())

    assert kinds[-1] == "workflow_finished"
    assert len(groq_server.chat_requests()) == 3
    assert groq_server.connections_accepted == 1


def test_a_run_leaves_no_task_behind(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, fan_out(2)))

    async def runs() -> set[asyncio.Task[Any]]:
        await module.run_workflow(INPUTS)
        async for _ in module.stream_workflow(INPUTS):
            pass
        return asyncio.all_tasks()

    current: list[asyncio.Task[Any] | None] = []

    async def main() -> set[asyncio.Task[Any]]:
        current.append(asyncio.current_task())
        return await runs()

    assert asyncio.run(main()) == set(current)


# -- closing ---------------------------------------------------------------------------


def test_each_event_loop_builds_its_own_client_and_closes_it_as_it_ends(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, fan_out(1)))
    seen: list[Any] = []

    async def one_run() -> dict[str, Any]:
        result: dict[str, Any] = await module.run_workflow(INPUTS)
        seen.extend(groq_clients(module))
        return result

    # Two loops, one after the other: no "Event loop is closed" from a client
    # that outlived the first one.
    first, second = asyncio.run(one_run()), asyncio.run(one_run())

    assert first["outputs"] and second["outputs"]
    assert len(seen) == 2 and seen[0] is not seen[1]
    assert all(client.is_closed() for client in seen)
    assert module._LOOP_CLIENTS == {}
    assert groq_server.connections_accepted == 2


def test_two_open_loops_never_share_a_client(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    # Two loops alive at once (two threads, or a notebook beside asyncio.run):
    # a connection belongs to the loop that opened it.
    module = load_script(build(tmp_path, fan_out(1)))
    loops = [asyncio.new_event_loop(), asyncio.new_event_loop()]
    clients = []
    try:
        for loop in loops + loops:
            loop.run_until_complete(module.run_workflow(INPUTS))
        clients = [loop.run_until_complete(_clients_of(module)) for loop in loops]
    finally:
        for loop in loops:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    [first], [second] = clients
    assert first is not second
    assert first.is_closed() and second.is_closed()
    assert groq_server.connections_accepted == 2


def test_aclose_closes_the_clients_and_the_next_run_builds_new_ones(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, fan_out(1)))

    async def runs() -> tuple[Any, Any]:
        await module.run_workflow(INPUTS)
        [before] = groq_clients(module)
        await module.aclose()
        assert before.is_closed() and groq_clients(module) == []
        await module.run_workflow(INPUTS)
        [after] = groq_clients(module)
        return before, after

    before, after = asyncio.run(runs())

    assert after is not before
    assert groq_server.connections_accepted == 2


def test_aclose_without_clients_does_nothing(tmp_path: Path, load_script: Loader) -> None:
    module = load_script(build(tmp_path, fan_out(1)))

    asyncio.run(module.aclose())

    assert module._LOOP_CLIENTS == {}


def test_a_loop_closed_without_shutdown_is_dropped_on_the_next_run(
    tmp_path: Path, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, fan_out(1)))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(module.run_workflow(INPUTS))
    [client] = loop.run_until_complete(_clients_of(module))
    # Closed by hand as such a caller would, then the loop without
    # shutdown_asyncgens(): its registry entry stays behind.
    loop.run_until_complete(client.close())
    loop.close()
    assert loop in module._LOOP_CLIENTS

    async def next_run() -> list[Any]:
        await module.run_workflow(INPUTS)
        return groq_clients(module)

    [fresh] = asyncio.run(next_run())

    assert fresh is not client
    assert loop not in module._LOOP_CLIENTS


async def _clients_of(module: ModuleType) -> list[Any]:
    return groq_clients(module)


def test_callers_resources_are_used_and_never_closed(
    tmp_path: Path, groq_server: MockGroqServer, load_script: Loader
) -> None:
    module = load_script(build(tmp_path, fan_out(1)))
    mine: dict[Any, Any] = {}

    async def runs() -> Any:
        await module.run_workflow(INPUTS, resources=mine)
        async for _ in module.stream_workflow(INPUTS, resources=mine):
            pass
        assert groq_clients(module) == []  # the loop's registry was not used
        [client] = mine.values()
        assert not client.is_closed()
        # The caller closes them, on the loop their connections belong to.
        await module.close_resources(mine)
        return client

    client = asyncio.run(runs())

    assert client.is_closed() and mine == {}
    assert groq_server.connections_accepted == 1


# -- interpreter exit ------------------------------------------------------------------


# Run in a child interpreter that turns ResourceWarnings (ignored by default)
# into errors: an unclosed client shows as "unclosed transport" / "unclosed
# <socket …>" on stderr as the interpreter exits.
_LIBRARY_USE = """
import asyncio, atexit, importlib.util, sys

MODE = sys.argv[2]
if MODE == "open-loop":
    # A loop made by hand and still open when the interpreter exits. Closed by
    # an exit hook registered before the script's own, which runs first.
    loop = asyncio.new_event_loop()
    atexit.register(loop.close)
spec = importlib.util.spec_from_file_location("workflow", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["workflow"] = module
spec.loader.exec_module(module)
if MODE == "asyncio.run":
    for _ in range(2):
        asyncio.run(module.run_workflow({"text": "hi"}))
else:
    for _ in range(2):
        loop.run_until_complete(module.run_workflow({"text": "hi"}))
print("ran")
"""


@pytest.mark.parametrize("mode", ["asyncio.run", "open-loop"])
def test_library_use_exits_without_unclosed_warnings(
    tmp_path: Path, groq_server: MockGroqServer, mode: str
) -> None:
    script = build(tmp_path, fan_out(2))
    groq_server.update(hold_until_in_flight=2)
    user = tmp_path / "user.py"
    user.write_text(textwrap.dedent(_LIBRARY_USE), encoding="utf-8")
    env = {"GROQ_BASE_URL": groq_server.base_url, "GROQ_API_KEY": "test-key"}

    completed = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", str(user), str(script), mode],
        capture_output=True, text=True, env={**_base_env(), **env}, timeout=60, check=False,
    )

    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "ran\n", "")
    # Two runs on one loop share the pool; two asyncio.run calls build one each.
    assert groq_server.connections_accepted == (4 if mode == "asyncio.run" else 2)


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}


@pytest.mark.parametrize("batch", [False, True], ids=["single-run", "batch"])
def test_the_cli_closes_its_clients_before_exit(
    tmp_path: Path, groq_server: MockGroqServer, batch: bool
) -> None:
    script = build(tmp_path, fan_out(2))
    groq_server.update(hold_until_in_flight=2)
    strict = {"PYTHONWARNINGS": "error::ResourceWarning"}
    if batch:
        source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        source.write_text("".join(json.dumps({"id": i, "text": "hi"}) + "\n" for i in range(6)),
                          encoding="utf-8")
        args = ["--batch", str(source), "--output", str(target), "--concurrency", "1"]
    else:
        args = ["--input", "text=hi"]

    completed = run_script(script, *args, "--json", server=groq_server, env=strict)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    # Records run one at a time over the two connections the first one opened.
    assert groq_server.connections_accepted == 2
