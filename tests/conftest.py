"""Shared fixtures: the local Groq-protocol server and a way to run generated scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalyst.compiler import Compiled, compile_file
from catalyst.mock_groq import MockGroqServer, MockSettings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "workflows"


@pytest.fixture
def groq_server() -> Iterator[MockGroqServer]:
    """A fresh local Groq-protocol server on 127.0.0.1 for one test."""
    with MockGroqServer(MockSettings()) as server:
        yield server


@dataclass(frozen=True)
class ScriptRun:
    returncode: int
    stdout: str
    stderr: str


def compile_example(name: str, workflow_id: str | None = None) -> Compiled:
    return compile_file(EXAMPLES / name, workflow_id)


def run_script(
    script: Path,
    *args: str,
    server: MockGroqServer | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> ScriptRun:
    """Run a generated script as a user would: a subprocess with its own interpreter."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GROQ_")}
    if server is not None:
        environment.update(GROQ_BASE_URL=server.base_url, GROQ_API_KEY="test-key")
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    return ScriptRun(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture
def write_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Compile an example into tmp_path and return the script's path."""

    def write(name: str, workflow_id: str | None = None) -> Path:
        compiled = compile_example(name, workflow_id)
        script = tmp_path / (Path(name).stem + (f".{workflow_id}" if workflow_id else "") + ".py")
        script.write_text(compiled.source, encoding="utf-8")
        return script

    return write
