"""Shared fixtures: the local Groq-protocol server and a way to run generated scripts."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import pytest

from catalyst.compiler import Compiled, compile_file
from catalyst.loading import document_shape, read_document, workflow_ids
from catalyst.mock_groq import MockGroqServer, MockSettings
from catalyst.provider_models import PROVIDERS

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


# Every provider's key and base-URL variable (catalyst/provider_models.py).
PROVIDER_VARIABLES = tuple(
    name for p in PROVIDERS for name in (p.key_env, p.base_url_env)
)


def provider_env(server: MockGroqServer) -> dict[str, str]:
    """Variables that aim every provider's SDK at the local server, with test keys."""
    environment: dict[str, str] = {}
    for provider in PROVIDERS:
        environment[provider.base_url_env] = server.base_url_for(provider.name)
        environment[provider.key_env] = "test-key"
    return environment


def run_script(
    script: Path,
    *args: str,
    server: MockGroqServer | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> ScriptRun:
    """Run a generated script as a user would: a subprocess with its own interpreter."""
    environment = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    if server is not None:
        environment.update(provider_env(server))
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


_COMPILED: dict[str, str] = {}


def build(tmp_path: Path, document: dict[str, Any], name: str = "workflow") -> Path:
    """Write the workflow JSON to tmp_path, compile it (once per document), return the script."""
    text = json.dumps(document, sort_keys=True)
    source = tmp_path / f"{name}.json"
    source.write_text(text, encoding="utf-8")
    if text not in _COMPILED:
        _COMPILED[text] = compile_file(source).source
    script = tmp_path / f"{name}.py"
    script.write_text(_COMPILED[text], encoding="utf-8")
    return script


def example_targets() -> list[tuple[str, str | None]]:
    """(file name, workflow id or None) for every workflow in the examples folder."""
    targets: list[tuple[str, str | None]] = []
    for path in sorted(EXAMPLES.glob("*.json")):
        document, _, problems = read_document(path)
        assert not problems, f"{path.name} does not parse: {problems}"
        if document_shape(document) == "manifest":
            targets.extend((path.name, workflow_id) for workflow_id in workflow_ids(document))
        else:
            targets.append((path.name, None))
    return targets


def target_id(target: tuple[str, str | None]) -> str:
    """`summarize`, `support_triage.triage`: the name `catalyst generate DIR` writes."""
    name, workflow_id = target
    return Path(name).stem + (f".{workflow_id}" if workflow_id else "")


@pytest.fixture
def load_script(
    groq_server: MockGroqServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Path], ModuleType]]:
    """Import a generated script as a module, its Groq client aimed at the server."""
    loaded: list[str] = []

    def load(script: Path) -> ModuleType:
        for variable, value in provider_env(groq_server).items():
            monkeypatch.setenv(variable, value)
        name = f"_catalyst_e2e_{script.stem}_{len(loaded)}"
        spec = importlib.util.spec_from_file_location(name, script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


# -- PostgreSQL ---------------------------------------------------------------------


def postgres_unavailable(reason: str) -> NoReturn:
    """Skip a test that needs PostgreSQL, or fail it in CI (CI=true), where every
    test must run: a missing server must not pass unnoticed."""
    message = f"needs a local PostgreSQL: {reason}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: a skip would hide it)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One throwaway PostgreSQL server on 127.0.0.1 for the whole session
    (tests/postgres_server.py): started on first use, stopped and deleted at the end."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        postgres_unavailable(f"{exc.name} is not installed (pip install -e '.[test]')")
    from postgres_server import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        postgres_unavailable(str(exc))
    with server:
        yield server


_DATABASES = iter(range(1, 1_000_000))


@pytest.fixture
def database(postgres: Any) -> Iterator[str]:
    """A fresh, empty database for one test: its connection URL (with the
    password of the `catalyst` role in it)."""
    import psycopg

    name = f"test_{next(_DATABASES)}"
    with psycopg.connect(postgres.admin_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER catalyst")
    yield postgres.url(database=name)
    with psycopg.connect(postgres.admin_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
