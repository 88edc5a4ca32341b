"""postgresQuery: its SQL compilation, its checks, and its scripts run against a real PostgreSQL.

The server is the session's throwaway one (conftest `postgres`, started from
tests/postgres_server.py on 127.0.0.1); each test gets a fresh database. Where
PostgreSQL is missing these tests skip with the reason, and fail under CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import build, postgres_unavailable

from catalyst.diagnostics import Diagnostic
from catalyst.loading import load_document
from catalyst.nodes.postgres_query import compile_query
from catalyst.registry import node_types
from catalyst.validation import check_workflow

Document = dict[str, Any]
SECRET_ENV = "APP_DATABASE_URL"


# -- building workflows -------------------------------------------------------------


def query_workflow(config: Document, *, inputs: Document | None = None, node: Document | None = None,
                   execution: Document | None = None, log: bool = False) -> Document:
    """A workflow whose node `q` is a postgresQuery with `config` (plus a log after it)."""
    data: Document = {"label": "Query", "config": {"connectionString": SECRET_ENV, **config}}
    data.update(node or {})
    nodes = [{"id": "q", "type": "postgresQuery", "position": {"x": 0, "y": 0}, "data": data}]
    edges = []
    if log:
        nodes.append({"id": "log", "type": "log", "position": {"x": 200, "y": 0},
                      "data": {"label": "Log", "config": {
                          "message": "{{ nodes.q.output.rowcount }} row(s)",
                          "includeInput": True}}})
        edges.append({"source": "q", "target": "log"})
    document: Document = {"id": "pg", "name": "pg", "input": inputs or {}, "nodes": nodes,
                          "edges": edges, "executionConfig": {"retryDelay": 0, **(execution or {})}}
    return document


def diagnostics(document: Document) -> list[Diagnostic]:
    loaded = load_document(document, source_name="pg.json")
    assert loaded.workflow is not None, loaded.diagnostics
    return [d for d in check_workflow(loaded.workflow).diagnostics if d.is_error]


def only_problem(config: Document, **options: Any) -> Diagnostic:
    problems = diagnostics(query_workflow(config, **options))
    assert len(problems) == 1, problems
    return problems[0]


_loaded: list[str] = []


def load(tmp_path: Path, document: Document) -> ModuleType:
    """The generated script of `document`, imported as a module."""
    script = build(tmp_path, document, f"pg_{len(_loaded)}")
    name = f"_catalyst_pg_{len(_loaded)}"
    _loaded.append(name)
    spec = importlib.util.spec_from_file_location(name, script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _forget_modules() -> Iterator[None]:
    yield
    while _loaded:
        sys.modules.pop(_loaded.pop(), None)


@pytest.fixture
def db(database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database, its URL in the environment variable the workflows name."""
    monkeypatch.setenv(SECRET_ENV, database)
    return database


def sql(url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement directly (setting up, looking behind the node's back)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def users_table(url: str) -> None:
    sql(url, "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text)")
    sql(url, "INSERT INTO users VALUES (1, 'Ann', 'ann@example.com'), (2, 'Bob', NULL), "
             "(3, 'O''Hara', 'o@example.com')")


def run(module: ModuleType, inputs: Document | None = None) -> Document:
    async def once() -> Document:
        result: Document = await module.run_workflow(inputs or {})
        return result

    return asyncio.run(once())


def failure(module: ModuleType, inputs: Document | None = None) -> Any:
    """The error a run ends with (events are collected on `.events`)."""
    events: list[Document] = []

    async def once() -> None:
        await module.run_workflow(inputs or {}, on_event=events.append)

    with pytest.raises(module.WorkflowError) as caught:
        asyncio.run(once())
    caught.value.events = events
    return caught.value


# -- compiling the query --------------------------------------------------------------


def test_expressions_become_named_placeholders_and_percent_signs_are_doubled() -> None:
    compiled = compile_query(
        "SELECT * FROM t WHERE name LIKE 'a%' AND n % 2 = 0 AND id = {{ input.id }}::int "
        "AND tag = {{input.tag}}", ())
    assert compiled.sql == ("SELECT * FROM t WHERE name LIKE 'a%%' AND n %% 2 = 0 AND id = "
                            "%(p1)s::int AND tag = %(p2)s")
    assert compiled.values == (("p1", "{{ input.id }}"), ("p2", "{{ input.tag }}"))
    assert compiled.problems == ()


def test_params_placeholders_are_kept_and_generated_names_avoid_them() -> None:
    compiled = compile_query("SELECT %(p1)s, %(id)b, {{ userId }}, {{ userId }}", ("p1", "id"))
    # Each expression gets its own placeholder: PostgreSQL infers one type per parameter.
    assert compiled.sql == "SELECT %(p1)s, %(id)b, %(p2)s, %(p3)s"
    assert compiled.values == (("p2", "{{ userId }}"), ("p3", "{{ userId }}"))


def test_a_query_without_expressions_is_sql_with_percent_signs_doubled() -> None:
    compiled = compile_query("SELECT '100%' AS x", ())
    assert (compiled.sql, compiled.values, compiled.problems) == ("SELECT '100%%' AS x", (), ())


def test_whitespace_control_and_braces_inside_expressions() -> None:
    compiled = compile_query("SELECT {{- input.a -}}, {{ {'k': '}}'}['k'] }}", ())
    assert compiled.sql == "SELECT %(p1)s, %(p2)s"
    assert compiled.values == (("p1", "{{ input.a }}"), ("p2", "{{ {'k': '}}'}['k'] }}"))


@pytest.mark.parametrize(("query", "where"), [
    ("SELECT * FROM t WHERE name LIKE '%{{ input.q }}%'", "a quoted string"),
    ("SELECT 'it''s {{ input.q }}'", "a quoted string"),
    ("SELECT E'it\\'s {{ input.q }}'", "an E'…' string"),
    ("SELECT $$ {{ input.q }} $$", "a dollar-quoted string"),
    ("SELECT $fn$ {{ input.q }} $fn$", "a dollar-quoted string"),
    ('SELECT "{{ input.q }}" FROM t', "a quoted identifier"),
    ("SELECT 1 -- {{ input.q }}", "a -- comment"),
    ("SELECT /* /* */ {{ input.q }} */ 1", "a /* … */ comment"),
])
def test_an_expression_inside_sql_text_is_refused(query: str, where: str) -> None:
    (problem,) = compile_query(query, ()).problems
    assert where in problem.message
    assert "SQL text, not a value" in problem.message


@pytest.mark.parametrize("query", [
    "SELECT 'a''b', {{ input.q }}",
    "SELECT E'a\\'b', {{ input.q }}",
    "SELECT $x$ ' $x$, {{ input.q }}",
    "SELECT a$b$c + {{ input.q }}",
    'SELECT "we""ird", {{ input.q }}',
    "SELECT 1 -- note\n, {{ input.q }}",
    "SELECT /* a /* b */ c */ {{ input.q }}",
    "SELECT 'a\\', {{ input.q }}",  # a backslash is no escape in a standard string
])
def test_quotes_and_comments_that_are_closed_leave_expressions_outside(query: str) -> None:
    assert compile_query(query, ()).problems == ()


def test_unknown_and_positional_placeholders_are_refused() -> None:
    problems = compile_query("SELECT %(uid)s, %s", ("id",)).problems
    assert [p.message for p in problems] == [
        "%(uid)s in the query names no key of params",
        "%s in the query is a positional placeholder, which has no value here",
    ]
    assert "params keys: id" in problems[0].hint


def test_placeholders_inside_quotes_are_literal_text() -> None:
    compiled = compile_query("SELECT '%(id)s %s'", ("id",))
    assert (compiled.sql, compiled.problems) == ("SELECT '%%(id)s %%s'", ())


# -- checks at generate time ------------------------------------------------------------


def test_a_valid_config_in_the_original_editors_spelling() -> None:
    document = query_workflow({
        "query": "SELECT * FROM users WHERE id = {{userId}}",
        "params": "{\"userId\": \"{{ input.userId }}\"}",
        "timeout": "15",
    }, inputs={"userId": {"type": "integer", "required": True}})
    assert diagnostics(document) == []


def test_missing_query() -> None:
    problem = only_problem({})
    assert (problem.code, problem.path) == ("missing-config", "/nodes/0/data/config/query")


@pytest.mark.parametrize("query", ["", "   \n"])
def test_empty_query(query: str) -> None:
    problem = only_problem({"query": query})
    assert problem.path.endswith("/query")
    assert problem.code == "invalid-config"


@pytest.mark.parametrize(("timeout", "code"), [
    (0, "out-of-range"), (-5, "out-of-range"), (86_401, "out-of-range"),
    ("soon", "invalid-config"), ([30], "invalid-config"),
])
def test_bad_timeout(timeout: Any, code: str) -> None:
    problem = only_problem({"query": "SELECT 1", "timeout": timeout})
    assert (problem.code, problem.path) == (code, "/nodes/0/data/config/timeout")


def test_malformed_expression_in_query() -> None:
    problem = only_problem({"query": "SELECT * FROM users WHERE id = {{ input.id + }}"},
                           inputs={"id": {"type": "integer"}})
    assert (problem.code, problem.path) == ("expression-syntax", "/nodes/0/data/config/query")


def test_unclosed_expression_in_query() -> None:
    problem = only_problem({"query": "SELECT {{ input.id"}, inputs={"id": {"type": "integer"}})
    assert problem.code == "expression-syntax"


@pytest.mark.parametrize("params", [[1, 2], "[1, 2]", 7, "\"text\""])
def test_params_not_an_object(params: Any) -> None:
    problem = only_problem({"query": "SELECT 1", "params": params})
    assert (problem.code, problem.path) == ("invalid-config", "/nodes/0/data/config/params")
    assert "dictionary" in problem.message


def test_params_text_that_is_not_json() -> None:
    problem = only_problem({"query": "SELECT 1", "params": "{userId: 1}"})
    assert (problem.code, problem.path) == ("invalid-json-text", "/nodes/0/data/config/params")


def test_params_as_one_expression_is_refused() -> None:
    problem = only_problem({"query": "SELECT %(a)s", "params": "{{ input.p }}"},
                           inputs={"p": {"type": "object"}})
    assert (problem.code, problem.path) == ("expression-not-allowed",
                                            "/nodes/0/data/config/params")


def test_params_key_that_cannot_be_a_placeholder() -> None:
    problem = only_problem({"query": "SELECT 1", "params": {"a)b": 1}})
    assert (problem.code, problem.path) == ("invalid-config", "/nodes/0/data/config/params/a)b")


def test_bare_name_not_in_params_points_at_the_input() -> None:
    problem = only_problem({"query": "SELECT * FROM users WHERE id = {{userId}}"},
                           inputs={"userId": {"type": "integer"}})
    assert problem.code == "unknown-reference"
    assert problem.hint is not None
    assert problem.hint.startswith("did you mean 'input.userId'?")
    assert "the keys of params" in problem.hint


@pytest.mark.parametrize(("query", "words"), [
    ("SELECT * FROM users WHERE name LIKE '%{{ input.q }}%'", "inside a quoted string"),
    ("{{ input.q }}", "only an expression"),
    ("SELECT {% if input.q %}1{% endif %}", "{% … %} statement"),
    ("SELECT 1 {# note #}", "{# … #} comment"),
    ("SELECT %(missing)s", "names no key of params"),
    ("SELECT * FROM users WHERE id = %s", "positional placeholder"),
])
def test_query_problems(query: str, words: str) -> None:
    problem = only_problem({"query": query}, inputs={"q": {"type": "string"}})
    assert (problem.code, problem.path) == ("invalid-query", "/nodes/0/data/config/query")
    assert words in problem.message
    assert problem.hint


def test_every_problem_at_once() -> None:
    problems = diagnostics(query_workflow({"query": "SELECT '{{ input.q }}', %(x)s",
                                           "timeout": -1, "params": {"y": 1}}))
    assert sorted(p.path.rsplit("/", 1)[1] for p in problems) == ["query", "timeout"]
    problems = diagnostics(query_workflow({"query": "SELECT '{{ input.q }}', %(x)s",
                                           "params": {"y": 1}}, inputs={"q": {"type": "string"}}))
    assert len(problems) == 2


def test_a_connection_string_in_the_secret_field_is_refused_and_never_repeated() -> None:
    for value in ("postgresql://app:hunter22@db:5432/app", "host=db password=hunter22"):
        problem = only_problem({"query": "SELECT 1", "connectionString": value})
        assert problem.path == "/nodes/0/data/config/connectionString"
        assert "hunter22" not in json.dumps(problem.__dict__)
        assert problem.hint is not None and '"DATABASE_URL"' in problem.hint


def test_catalog_entry() -> None:
    entry = node_types()["postgresQuery"].catalog_entry()
    properties = entry["configSchema"]["properties"]
    assert properties["connection_string"]["x-aliases"] == ["connectionString"]
    assert properties["params"]["x-json-text"] is True
    assert properties["timeout"]["default"] == 30
    assert entry["outputSchema"]["properties"].keys() == {"rows", "rowcount", "columns"}
    assert sorted(entry["dependencies"]) == ["psycopg-pool>=3.3,<4", "psycopg[binary]>=3.3,<4"]


def test_generated_code_holds_placeholders_not_expressions_in_sql(tmp_path: Path) -> None:
    document = query_workflow({"query": "SELECT * FROM users WHERE id = {{ input.id }}"},
                              inputs={"id": {"type": "integer"}})
    source = build(tmp_path, document).read_text()
    assert '"sql": "SELECT * FROM users WHERE id = %(p1)s"' in source
    assert '"values": {"p1": "{{ input.id }}"}' in source
    assert '{"$secret": "APP_DATABASE_URL"}' in source


# -- running against PostgreSQL ---------------------------------------------------------------


def test_rows_come_back_as_objects(tmp_path: Path, db: str) -> None:
    users_table(db)
    module = load(tmp_path, query_workflow(
        {"query": "SELECT id, name, email FROM users WHERE id >= {{ input.from }} ORDER BY id"},
        inputs={"from": {"type": "integer", "required": True}}))
    result = run(module, {"from": 2})
    assert result["outputs"]["q"] == {
        "rows": [{"id": 2, "name": "Bob", "email": None},
                 {"id": 3, "name": "O'Hara", "email": "o@example.com"}],
        "rowcount": 2,
        "columns": ["id", "name", "email"],
    }


def test_the_originals_form_params_as_placeholders_and_as_names(tmp_path: Path, db: str) -> None:
    """`{{userId}}` reads params.userId; `%(name)s` reads params too; `%` is literal."""
    users_table(db)
    module = load(tmp_path, query_workflow({
        "query": "SELECT name, 10 % 3 AS m FROM users WHERE id = {{userId}} OR name LIKE "
                 "%(pattern)s ORDER BY id",
        "params": json.dumps({"userId": "{{ input.userId }}", "pattern": "O'%"}),
    }, inputs={"userId": {"type": "integer", "required": True}}))
    assert run(module, {"userId": 1})["outputs"]["q"]["rows"] == [
        {"name": "Ann", "m": 1}, {"name": "O'Hara", "m": 1}]


def test_values_from_upstream_nodes_and_typed_values(tmp_path: Path, db: str) -> None:
    document = query_workflow({
        "query": "SELECT {{ nodes.prep.output.n }} + 1 AS n, {{ nodes.prep.output.tags }}::text[] "
                 "AS tags, {{ nodes.prep.output.doc }}::jsonb -> 'a' AS a, "
                 "{{ nodes.prep.output.flag }} AS flag, {{ nodes.prep.output.none }}::int AS none",
    })
    document["nodes"].insert(0, {
        "id": "prep", "type": "editFields", "position": {"x": 0, "y": 0},
        "data": {"label": "Prep", "config": {"mode": "replace", "fields": {
            "n": 41, "tags": ["x", "y"], "doc": {"a": [1, "two"]}, "flag": True, "none": None}}}})
    result = run(load(tmp_path, document))
    assert result["outputs"]["q"]["rows"] == [
        {"n": 42, "tags": ["x", "y"], "a": [1, "two"], "flag": True, "none": None}]


def test_column_types_come_out_json_ready(tmp_path: Path, db: str) -> None:
    module = load(tmp_path, query_workflow({"query": """
        SELECT 19.99::numeric(10, 2) AS price, 5::numeric AS whole, 2.50::numeric(4, 2) AS two,
               'NaN'::numeric AS nan, 'Infinity'::float8 AS inf, 0.5::float8 AS half,
               '2024-02-29 12:30:00+00'::timestamptz AS at, '2024-02-29'::date AS day,
               '12:30:01'::time AS clock, '2024-02-29 12:30:00'::timestamp AS naive,
               '1 day 02:00:03.5'::interval AS span,
               'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, '\\x6869'::bytea AS raw,
               ARRAY[1.5, 2]::numeric[] AS nums, '{"k": [1, null]}'::jsonb AS doc,
               '10.0.0.1'::inet AS ip, int4range(1, 5) AS span_ints, 12345678901234::bigint AS big
    """}))
    (row,) = run(module)["outputs"]["q"]["rows"]
    assert row == {
        "price": 19.99, "whole": 5, "two": 2.5, "nan": "NaN", "inf": "Infinity", "half": 0.5,
        "at": "2024-02-29T12:30:00+00:00", "day": "2024-02-29", "clock": "12:30:01",
        "naive": "2024-02-29T12:30:00", "span": 93603.5,
        "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "raw": "\\x6869", "nums": [1.5, 2],
        "doc": {"k": [1, None]}, "ip": "10.0.0.1", "span_ints": "[1, 5)", "big": 12345678901234,
    }
    assert json.loads(json.dumps(row, allow_nan=False)) == row


def test_statements_without_rows(tmp_path: Path, db: str) -> None:
    users_table(db)
    inputs = {"name": {"type": "string", "required": True}}
    create = load(tmp_path, query_workflow({"query": "CREATE TABLE audit (note text)"}))
    assert run(create)["outputs"]["q"] == {"rows": [], "rowcount": 0, "columns": []}
    update = load(tmp_path, query_workflow(
        {"query": "UPDATE users SET email = NULL WHERE name <> {{ input.name }}"}, inputs=inputs))
    assert run(update, {"name": "Ann"})["outputs"]["q"] == {"rows": [], "rowcount": 2,
                                                             "columns": []}
    insert = load(tmp_path, query_workflow(
        {"query": "INSERT INTO users (id, name) VALUES (10, {{ input.name }}), (11, 'x') "
                  "RETURNING id"}, inputs=inputs))
    assert run(insert, {"name": "Zoe"})["outputs"]["q"] == {
        "rows": [{"id": 10}, {"id": 11}], "rowcount": 2, "columns": ["id"]}
    # Each statement commits on its own.
    assert sql(db, "SELECT name FROM users WHERE id = 10") == [("Zoe",)]


HOSTILE = [
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    "Robert'); DROP TABLE users;--",
    "\\'; DROP TABLE users; --",
    "\\",
    "%s %(name)s %% {{ input.name }} $1 $$",
    "O'Hara\"; DELETE FROM users WHERE ''='",
    "line\u2028sep\ttab\nnew line",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_injection_changes_nothing(tmp_path: Path, db: str, hostile: str) -> None:
    """Values full of quotes, backslashes and SQL are matched literally, and the table,
    its rows and every other table stay as they were."""
    users_table(db)
    sql(db, "CREATE TABLE secrets (v text)")
    sql(db, "INSERT INTO secrets VALUES ('keep')")
    before = sql(db, "SELECT * FROM users ORDER BY id")
    module = load(tmp_path, query_workflow({
        "query": "SELECT id, name FROM users WHERE name = {{ input.name }} OR email = "
                 "{{ input.name ~ '' }} OR name LIKE %(prefix)s || '%'",
        "params": {"prefix": "{{ input.name }}"},
    }, inputs={"name": {"type": "string", "required": True}}))
    assert run(module, {"name": hostile})["outputs"]["q"]["rows"] == []
    sql(db, "INSERT INTO users VALUES (99, %s, NULL)", (hostile,))
    assert run(module, {"name": hostile})["outputs"]["q"]["rows"] == [{"id": 99, "name": hostile}]
    sql(db, "DELETE FROM users WHERE id = 99")
    assert sql(db, "SELECT * FROM users ORDER BY id") == before
    assert sql(db, "SELECT v FROM secrets") == [("keep",)]


def test_an_injection_against_an_integer_column_is_a_clear_error(tmp_path: Path, db: str) -> None:
    users_table(db)
    module = load(tmp_path, query_workflow(
        {"query": "DELETE FROM users WHERE id = {{ input.id }}"},
        inputs={"id": {"type": "string", "required": True}}))
    error = failure(module, {"id": "1 OR 1=1"})
    assert "PostgreSQL rejected the statement (22P02)" in str(error)
    assert "invalid input syntax for type integer" in str(error)
    assert sql(db, "SELECT count(*) FROM users") == [(3,)]


def test_statement_timeout(tmp_path: Path, db: str) -> None:
    module = load(tmp_path, query_workflow({"query": "SELECT pg_sleep(30)", "timeout": 0.2}))
    error = failure(module)  # only a cancelled statement ends before 30 s with an error
    assert str(error) == ("node 'q' (Query) failed: the statement ran longer than its timeout "
                          "of 0.2 s and was cancelled (PostgreSQL statement_timeout)")
    assert "\n" not in str(error)


def test_the_timeout_is_the_statements_alone(tmp_path: Path, db: str) -> None:
    """Each statement runs under its own node's timeout: the next statement on the same
    pooled connection gets its node's timeout, not the last one's."""
    probe = "SELECT current_setting('statement_timeout') AS t, pg_backend_pid() AS pid"
    document = query_workflow({"query": probe, "timeout": 1.5})
    document["nodes"].append({
        "id": "after", "type": "postgresQuery", "position": {"x": 0, "y": 0},
        "data": {"label": "After", "config": {
            "connectionString": SECRET_ENV,
            "query": "SELECT {{ nodes.q.output.rows[0].t }} AS before, "
                     "current_setting('statement_timeout') AS t, "
                     "{{ nodes.q.output.rows[0].pid }} = pg_backend_pid() AS same_connection"}}})
    (row,) = run(load(tmp_path, document))["outputs"]["after"]["rows"]
    assert row == {"before": "1500ms", "t": "30s", "same_connection": True}
    assert sql(db, "SELECT current_setting('statement_timeout')") == [("0",)]


@pytest.mark.parametrize("loosen", [
    "SET statement_timeout = 0", "SELECT set_config('statement_timeout', '0', false)",
    "RESET ALL", "DISCARD ALL",
])
def test_a_statement_that_changes_the_timeout_does_not_outlast_it(tmp_path: Path, db: str,
                                                                   loosen: str) -> None:
    """The pooled connection's statement_timeout is set only when it differs from the
    node's; a statement that may change it makes the next one set it again."""
    document = query_workflow({"query": loosen})
    document["nodes"].append({
        "id": "slow", "type": "postgresQuery", "position": {"x": 0, "y": 0},
        "data": {"label": "Slow", "config": {
            "connectionString": SECRET_ENV, "timeout": 0.2,
            "query": "SELECT pg_sleep(30) WHERE {{ nodes.q.output.rowcount }} >= 0"}}})
    assert "ran longer than its timeout of 0.2 s" in str(failure(load(tmp_path, document)))


def test_statements_that_cannot_run_in_a_transaction_block(tmp_path: Path, db: str) -> None:
    users_table(db)
    for query in ("VACUUM users", "CREATE INDEX CONCURRENTLY users_name ON users (name)"):
        assert run(load(tmp_path, query_workflow({"query": query})))["outputs"]["q"] == {
            "rows": [], "rowcount": 0, "columns": []}


def test_a_table_changed_elsewhere_is_read_afresh(tmp_path: Path, db: str) -> None:
    """The statement is prepared on its pooled connection; a migration made on another
    connection must not leave it failing ("cached plan must not change result type")."""
    users_table(db)
    module = load(tmp_path, query_workflow({"query": "SELECT * FROM users WHERE id = 1"}))

    async def runs() -> list[list[str]]:
        columns = []
        for number in range(3):
            if number == 2:
                sql(db, "ALTER TABLE users ADD COLUMN age int DEFAULT 7")
            columns.append((await module.run_workflow({}))["outputs"]["q"]["columns"])
        return columns

    assert asyncio.run(runs())[1:] == [["id", "name", "email"], ["id", "name", "email", "age"]]


def test_sql_errors_are_one_line(tmp_path: Path, db: str) -> None:
    cases = {
        "SELEC 1": "PostgreSQL rejected the statement (42601): syntax error at or near "
                   "\"SELEC\"",
        "SELECT * FROM nowhere": "PostgreSQL rejected the statement (42P01): relation "
                                 "\"nowhere\" does not exist",
        "SELECT 1; SELECT 2": "cannot insert multiple commands into a prepared statement "
                              "(one SQL statement per postgresQuery node)",
        "SELECT * FROM {{ input.t }}": "stands for a value, never a table or column name",
        "SELECT {{ [1, 'mixed'] }} AS v": "cannot send the statement to PostgreSQL: ",
    }
    for query, expected in cases.items():
        module = load(tmp_path, query_workflow({"query": query},
                                               inputs={"t": {"type": "string"}}))
        message = str(failure(module, {"t": "users"}))
        assert expected in message, message
        assert "\n" not in message


def test_a_constraint_violation_says_which_row(tmp_path: Path, db: str) -> None:
    users_table(db)
    module = load(tmp_path, query_workflow({"query": "INSERT INTO users (id, name) VALUES (1, 'x')"}))
    message = str(failure(module))
    assert "(23505): duplicate key value violates unique constraint \"users_pkey\". " \
           "Key (id)=(1) already exists." in message


def test_duplicate_column_names_are_an_error(tmp_path: Path, db: str) -> None:
    module = load(tmp_path, query_workflow({"query": "SELECT 1 AS id, 2 AS id"}))
    assert "more than one column named 'id'" in str(failure(module))


def test_the_pool_is_shared_by_runs_on_a_loop_and_closed_with_it(tmp_path: Path, db: str) -> None:
    module = load(tmp_path, query_workflow({"query": "SELECT pg_backend_pid() AS pid"}))

    async def runs() -> tuple[set[int], Any]:
        pids = set()
        for _ in range(5):
            result = await module.run_workflow({})
            pids.add(result["outputs"]["q"]["rows"][0]["pid"])
        resources = await module.loop_resources()
        (pool,) = resources.values()
        return pids, pool

    pids, pool = asyncio.run(runs())
    assert len(pids) == 1  # one connection, reused
    assert pool.pool is None  # asyncio.run closed it as the loop ended
    assert backend_gone(db, pids.pop())


def backend_gone(url: str, pid: int, seconds: float = 5) -> bool:
    """Whether the server's process for a connection ends (it does so shortly after the
    client closes the connection)."""
    deadline = time.monotonic() + seconds
    while sql(url, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)) != [(0,)]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_two_event_loops_leave_nothing_open(tmp_path: Path, db: str) -> None:
    """Each asyncio.run has its own pool and closes it: no connection is left to the
    garbage collector (psycopg warns then), no task is left pending."""
    module = load(tmp_path, query_workflow({"query": "SELECT 1 AS one"}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            assert run(module)["outputs"]["q"]["rows"] == [{"one": 1}]
        gc.collect()
    assert [str(w.message) for w in caught
            if issubclass(w.category, (ResourceWarning, RuntimeWarning))] == []


def test_aclose_closes_the_pool_and_the_next_run_opens_a_new_one(tmp_path: Path, db: str) -> None:
    module = load(tmp_path, query_workflow({"query": "SELECT pg_backend_pid() AS pid"}))

    async def runs() -> list[int]:
        first = (await module.run_workflow({}))["outputs"]["q"]["rows"][0]["pid"]
        await module.aclose()
        second = (await module.run_workflow({}))["outputs"]["q"]["rows"][0]["pid"]
        await module.aclose()
        return [first, second]

    first, second = asyncio.run(runs())
    assert first != second


def test_concurrent_nodes_share_the_pool(tmp_path: Path, db: str) -> None:
    """Independent nodes run side by side, each on a connection of the one pool (run one
    after another they would all get its first connection)."""
    query = "SELECT pg_backend_pid() AS pid, pg_sleep(0.5) IS NULL AS slept"
    document = query_workflow({"query": query})
    for index in range(4):
        document["nodes"].append({
            "id": f"q{index}", "type": "postgresQuery", "position": {"x": 0, "y": 0},
            "data": {"label": f"Q{index}", "config": {"connectionString": SECRET_ENV,
                                                      "query": query}}})
    outputs = run(load(tmp_path, document))["outputs"]
    pids = {output["rows"][0]["pid"] for output in outputs.values()}
    assert len(outputs) == 5
    assert 1 < len(pids) <= 5


def test_a_lost_connection_is_transient_and_retried(tmp_path: Path, db: str) -> None:
    """The server ends the pooled connection between runs: the next statement fails
    with a TransientError and the node's retry succeeds on a new connection."""
    module = load(tmp_path, query_workflow({"query": "SELECT pg_backend_pid() AS pid"}))
    events: list[Document] = []

    async def runs() -> tuple[int, int]:
        first = (await module.run_workflow({}))["outputs"]["q"]["rows"][0]["pid"]
        sql(db, "SELECT pg_terminate_backend(%s)", (first,))
        result = await module.run_workflow({}, on_event=events.append)
        return first, result["outputs"]["q"]["rows"][0]["pid"]

    first, second = asyncio.run(runs())
    assert first != second
    (retry,) = [e for e in events if e["type"] == "node_retry"]
    assert retry["reason"].startswith("PostgreSQL: ")


def test_no_free_connection_is_transient(tmp_path: Path, db: str) -> None:
    """A run waits for a pooled connection as long as its timeout, then fails with a
    TransientError that says the pool was busy (the server itself answers)."""
    module = load(tmp_path, query_workflow(
        {"query": "SELECT pg_sleep({{ input.s }})", "timeout": "{{ input.t }}"},
        inputs={"s": {"type": "number"}, "t": {"type": "number"}}, node={"retries": 0}))
    module.POSTGRES_POOL_MAX_SIZE = 1
    busy = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE " \
           "'SELECT pg_sleep(%%'"

    async def both() -> Any:
        hog = asyncio.create_task(module.run_workflow({"s": 60, "t": 120}))
        while await asyncio.to_thread(sql, db, busy) != [(1,)]:
            await asyncio.sleep(0.02)  # the hog holds the only connection now
        try:
            await module.run_workflow({"s": 0, "t": 0.5})
        except module.WorkflowError as exc:
            error = exc
        await asyncio.to_thread(sql, db, "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                                         "WHERE query LIKE 'SELECT pg_sleep(%%' AND pid <> "
                                         "pg_backend_pid()")
        with contextlib.suppress(module.WorkflowError):
            await hog
        return error

    error = asyncio.run(both())
    assert str(error) == ("node 'q' (Query) failed: no pooled PostgreSQL connection came free "
                          "within 0.5 s (1 at most, see POSTGRES_POOL_MAX_SIZE)")
    assert error.transient


def test_unchecked_deferred_timeout_is_checked_when_it_has_a_value(tmp_path: Path, db: str) -> None:
    module = load(tmp_path, query_workflow({"query": "SELECT 1 AS one", "timeout": "{{ input.t }}"},
                                           inputs={"t": {"type": "number"}}))
    assert run(module, {"t": 2})["outputs"]["q"]["rows"] == [{"one": 1}]
    assert "timeout is int -1" in str(failure(module, {"t": -1}))


# -- connections that fail, and the secret that must not leak ---------------------------------


def assert_secret_kept(error: Any, secrets: list[str]) -> None:
    text = str(error) + json.dumps(error.events, default=str)
    for secret in secrets:
        assert secret not in text, text


def test_wrong_password_is_a_configuration_error(tmp_path: Path, postgres: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, postgres.url(password="Wr0ng-Passw0rd"))
    module = load(tmp_path, query_workflow({"query": "SELECT 1"},
                                           node={"onError": "continue"}))
    error = failure(module)  # onError cannot mend a rejected login
    assert str(error) == (
        "node 'q' (Query) failed: PostgreSQL rejected the connection string in "
        f"{SECRET_ENV}: connection to server at \"127.0.0.1\", port {postgres.port} failed: "
        "FATAL: password authentication failed for user \"catalyst\"")
    assert error.fatal
    assert_secret_kept(error, ["Wr0ng-Passw0rd"])


def test_unknown_database_is_a_configuration_error(tmp_path: Path, postgres: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, postgres.url(database="no_such_db"))
    error = failure(load(tmp_path, query_workflow({"query": "SELECT 1"})))
    assert 'database "no_such_db" does not exist' in str(error)
    assert error.fatal


def test_connection_refused(tmp_path: Path, postgres: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from postgres_server import APP_PASSWORD

    monkeypatch.setenv(SECRET_ENV, postgres.url(port=1))
    error = failure(load(tmp_path, query_workflow({"query": "SELECT 1"})))
    assert str(error).startswith(
        "node 'q' (Query) failed: cannot connect to PostgreSQL with the connection string in "
        f"{SECRET_ENV}: connection to server at \"127.0.0.1\", port 1 failed: Connection refused")
    assert "\n" not in str(error)
    assert not error.fatal
    assert_secret_kept(error, [APP_PASSWORD])


@pytest.mark.parametrize("conninfo", [
    "postgres//app:Sup3rSecret@db/app",
    "host=db password=Sup3rSecret bogus=1",
    "host=db password='Sup3rSecret",
    "postgresql://app:Sup3rSecret@db:5432/app?sslmode=require&x",
])
def test_a_malformed_connection_string_is_not_repeated(tmp_path: Path, conninfo: str,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        postgres: Any) -> None:
    monkeypatch.setenv(SECRET_ENV, conninfo)
    error = failure(load(tmp_path, query_workflow({"query": "SELECT 1"})))
    assert str(error) == (f"node 'q' (Query) failed: {SECRET_ENV} does not hold a PostgreSQL "
                          "connection string (a postgresql:// URL or key=value pairs)")
    assert_secret_kept(error, ["Sup3rSecret"])


def test_missing_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    try:
        module = load(tmp_path, query_workflow({"query": "SELECT 1"}))
    except ImportError as exc:  # psycopg missing: the conftest fixture's job to report
        postgres_unavailable(str(exc))
    assert str(failure(module)).endswith(f"environment variable {SECRET_ENV} is not set")


def test_the_cli_prints_one_line_without_the_password(tmp_path: Path, postgres: Any) -> None:
    from postgres_server import APP_PASSWORD

    script = build(tmp_path, query_workflow({"query": "SELECT 1"}))
    for url in (postgres.url(password="Wr0ng-Passw0rd"), postgres.url(port=1)):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", SECRET_ENV: url}, timeout=60,
                              stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error: node 'q' (Query) failed: ")
        assert done.stderr.count("\n") == 1, done.stderr
        assert "Traceback" not in done.stderr
        for secret in ("Wr0ng-Passw0rd", APP_PASSWORD, url):
            assert secret not in done.stderr + done.stdout


def test_scrubbing_hides_the_password_however_spelt(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "x")
    try:
        module = load(tmp_path, query_workflow({"query": "SELECT 1"}))
    except ImportError as exc:
        postgres_unavailable(str(exc))
    url = "postgresql://app:p%40ss%2Fw0rd@db/app"
    scrubbed = module._postgres_scrub(f"{url} p@ss/w0rd p%40ss%2Fw0rd", url)
    assert "w0rd" not in scrubbed
    assert "w0rd" not in str(module.WorkflowError("see postgresql://app:p@db/x"))


class SilencingProxy:
    """A TCP proxy to PostgreSQL that can fall silent: it then cuts every connection
    and accepts new ones without ever answering (a server that hangs)."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.silent = False
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.silent:
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream))
            self.sockets.append(server)
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_RDWR)

    def fall_silent(self) -> None:
        self.silent = True
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


def test_the_process_exits_while_the_pool_reconnects_to_a_silent_server(
    tmp_path: Path, db: str
) -> None:
    """asyncio.run cancels every task before it closes shared clients, and a pool task
    that is reconnecting survives its cancellation: the script must still end, at once,
    not after the connect timeout (its pool closes in that same pass)."""
    script = build(tmp_path, query_workflow({"query": "SELECT 1 AS one"}, node={"retries": 0}))
    runner = tmp_path / "runner.py"
    runner.write_text(
        "import asyncio, importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('w', {str(script)!r})\n"
        "w = importlib.util.module_from_spec(spec)\n"
        "sys.modules['w'] = w\n"
        "spec.loader.exec_module(w)\n"
        "w.POSTGRES_CONNECT_TIMEOUT_S = 60\n"
        "async def main():\n"
        "    print((await w.run_workflow({}))['outputs']['q']['rows'], flush=True)\n"
        "    sys.stdin.readline()  # the server falls silent now\n"
        "    try:\n"
        "        await w.run_workflow({})\n"
        "    except w.WorkflowError as exc:\n"
        "        print('failed:', exc, flush=True)\n"
        "    await asyncio.sleep(0.5)  # the pool is reconnecting by now\n"
        "asyncio.run(main())\n"
        "print('exited', flush=True)\n")
    proxy = SilencingProxy(int(db.rsplit(":", 1)[1].split("/")[0]))
    try:
        process = subprocess.Popen(
            [sys.executable, str(runner)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin",
                 SECRET_ENV: db.replace(db.rsplit(":", 1)[1].split("/")[0], str(proxy.port))})
        assert process.stdout is not None and process.stdin is not None
        assert process.stdout.readline() == "[{'one': 1}]\n"
        proxy.fall_silent()
        process.stdin.write("\n")
        process.stdin.flush()
        try:
            out, err = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("the script hung at exit while its pool was reconnecting")
    finally:
        proxy.close()
    assert "failed: node 'q' (Query) failed: PostgreSQL: " in out, out + err
    assert out.endswith("exited\n"), out + err
    assert process.returncode == 0, err


# -- catalyst run ------------------------------------------------------------------------------


def test_catalyst_run_knows_the_postgres_requirements_by_their_import_names() -> None:
    from catalyst.cli import _missing_requirements

    pytest.importorskip("psycopg_pool")
    assert _missing_requirements(["psycopg[binary]>=3.3,<4", "psycopg-pool>=3.3,<4",
                                  "no-such-dist-x>=1"]) == ["no-such-dist-x>=1"]


def test_catalyst_run_uses_the_database_not_the_local_groq_server(tmp_path: Path, db: str) -> None:
    users_table(db)
    source = tmp_path / "lookup.json"
    source.write_text(json.dumps(query_workflow(
        {"query": "SELECT name FROM users WHERE id = {{ input.id }}"},
        inputs={"id": {"type": "integer", "required": True}})), encoding="utf-8")
    environment = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", SECRET_ENV: db}
    done = subprocess.run(["catalyst", "run", str(source), "--input", "id=3"], capture_output=True,
                          text=True, env=environment, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"q": {"rows": [{"name": "O'Hara"}], "rowcount": 1,
                                             "columns": ["name"]}}
    assert "Groq" not in done.stderr


# -- the PostgreSQL fixture's own rule ----------------------------------------------------------


def test_a_missing_postgresql_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs a local PostgreSQL: no binaries"):
        postgres_unavailable("no binaries")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: a skip would hide it"):
        postgres_unavailable("no binaries")


def test_the_server_binaries_are_looked_for_where_debian_puts_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from postgres_server import PostgresUnavailable, find_bindir

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PG_BINDIR", str(tmp_path))
    try:
        found = find_bindir()
    except PostgresUnavailable as exc:
        assert "apt-get install postgresql" in str(exc)
    else:
        assert found.parent.parent == Path("/usr/lib/postgresql") or found == Path(
            "/usr/local/pgsql/bin")
    for name in ("initdb", "pg_ctl", "postgres"):
        (tmp_path / name).write_text("")
    assert find_bindir() == tmp_path


def test_upgrade_rewrites_the_originals_spellings_and_leaves_the_query() -> None:
    from catalyst.upgrade import upgrade_text

    document = query_workflow({
        "query": "SELECT * FROM users WHERE id = {{userId}} AND name LIKE 'A%'",
        "params": "{\"userId\": \"{{ input.userId }}\"}", "timeout": "15"},
        inputs={"userId": {"type": "integer"}})
    text = json.dumps(document, indent=1)
    upgraded = upgrade_text(text, json.loads(text), "pg.json")
    assert upgraded.ok, upgraded.diagnostics
    config = json.loads(upgraded.text)["nodes"][0]["data"]["config"]
    assert config == {
        "connection_string": {"$secret": SECRET_ENV},
        "query": "SELECT * FROM users WHERE id = {{userId}} AND name LIKE 'A%'",
        "params": {"userId": "{{ input.userId }}"},
        "timeout": 15.0,
    }
