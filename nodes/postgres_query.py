"""postgresQuery: one SQL statement against PostgreSQL, its values bound as parameters.

`{{ … }}` in the query never becomes SQL text. At generate time the query is
split into SQL and expressions (`catalyst.expressions.split_expressions`);
each expression becomes a named placeholder, `%(p1)s`, and the generated
script evaluates it at run time, in the sandbox like every other expression,
and hands the value to psycopg as a bound parameter. What a value holds
(quotes, backslashes, `'; DROP TABLE users; --`) therefore cannot change the
statement. `params` are the original editor's: a JSON object whose keys are
`%(name)s` placeholders, and, like a promptTemplate's `variables`, names that
the query's expressions may read (`{{ userId }}`); its values may be
expressions too. Every other `%` in the SQL is a literal one.

Expressions read what every expression reads (`input.<name>`,
`global.<name>`, `nodes['<id>'].output`) plus the keys of `params`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator, model_serializer
from pydantic.functional_serializers import SerializerFunctionWrapHandler

from catalyst import expressions
from catalyst.config_types import NodeConfig, SecretRef, json_text, secret_field
from catalyst.diagnostics import Diagnostic, json_pointer, listing
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import INTEGER, STRING, array, closed

# One day: PostgreSQL keeps statement_timeout in milliseconds in an int.
MAX_TIMEOUT_S = 86_400
DEFAULT_ENV = "DATABASE_URL"


class PostgresQueryConfig(NodeConfig):
    """A SQL statement; `{{ … }}` in it are values, bound as parameters."""

    connection_string: SecretRef = secret_field(
        DEFAULT_ENV,
        "Environment variable holding the connection string, "
        "postgresql://user:password@host:5432/database (default DATABASE_URL).",
        "connection_string", "connectionString",
    )
    query: str = Field(
        min_length=1,
        description="One SQL statement; each {{ … }} in it is a value, sent as a bound "
        "parameter.",
        examples=["SELECT * FROM users WHERE id = {{ input.userId }}"],
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description='Named values for %(name)s placeholders, e.g. {"userId": '
        '"{{ input.userId }}"}; {{ userId }} in the query reads them too. '
        "JSON value or JSON text; values may be expressions.",
        examples=[{"userId": "{{ input.userId }}"}],
        json_schema_extra=json_text(),
    )
    timeout: float = Field(
        30.0, gt=0, le=MAX_TIMEOUT_S,
        description="Seconds the statement may run (PostgreSQL's statement_timeout); also "
        "the longest wait for a pooled connection.",
    )

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank: write one SQL statement")
        return value

    @model_serializer(mode="wrap")
    def _as_the_script_runs_it(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The script receives the compiled query: SQL with placeholders, and the
        expression behind each placeholder (see `compile_query`)."""
        data: dict[str, Any] = handler(self)
        if "query" in data:
            compiled = compile_query(self.query, tuple(self.params))
            data["query"] = {"sql": compiled.sql, "values": dict(compiled.values)}
        return data


@dataclass(frozen=True)
class Problem:
    message: str
    hint: str


@dataclass(frozen=True)
class CompiledQuery:
    """The query as psycopg takes it, and the expressions behind its placeholders."""

    # psycopg's query text: %(name)s placeholders, every other % doubled.
    sql: str
    # Placeholder name -> "{{ expression }}", evaluated by the script at run time.
    values: tuple[tuple[str, str], ...]
    problems: tuple[Problem, ...]


# What psycopg reads as placeholders: `%(name)s` (or b / t: binary / text format)
# and positional `%s`.
_NAMED = re.compile(r"%\((?P<name>[^)]*)\)[sbt]")
_POSITIONAL = re.compile(r"%[sbt](?![A-Za-z0-9_])")
_DOLLAR_QUOTE = re.compile(r"\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9\x80-\U0010ffff]*)?\$")
_IDENTIFIER_CHAR = re.compile(r"[A-Za-z0-9_$\x80-\U0010ffff]")
# Where an expression cannot stand: it would be part of the SQL text there.
_CONTEXTS = {
    "string": ("a quoted string", "put it outside the quotes and let SQL join the text: "
               "name LIKE '%' || {{ input.q }} || '%'"),
    "escape_string": ("an E'…' string", "put it outside the quotes: E'…' || {{ input.q }}"),
    "dollar": ("a dollar-quoted string", "put it outside the quotes: $$…$$ || {{ input.q }}"),
    "identifier": ('a quoted identifier ("…")', "table and column names cannot be values; "
                   "write the name out in the SQL"),
    "line_comment": ("a -- comment", "end the comment (a new line) before the expression"),
    "block_comment": ("a /* … */ comment", "close the comment before the expression"),
}


def _is_identifier_char(char: str) -> bool:
    return bool(char) and _IDENTIFIER_CHAR.match(char) is not None


class _SqlScanner:
    """Follows SQL's lexical context (strings, quoted identifiers, comments)
    through the text between expressions, and writes the text psycopg needs:
    `%(key)s` kept where `key` is a key of params, every other `%` doubled."""

    def __init__(self, params: Sequence[str]) -> None:
        self.params = frozenset(params)
        self.context = "code"
        self.dollar_tag = ""
        self.depth = 0
        # The last two characters read, across pieces (an E'…' prefix, a $tag$).
        self.tail = "  "
        self.unknown: list[str] = []
        self.positional: list[str] = []

    def feed(self, text: str) -> str:
        out: list[str] = []
        index = 0
        while index < len(text):
            token = self._token(text, index)
            if token is None:  # a placeholder of params, kept as it is
                named = _NAMED.match(text, index)
                assert named is not None
                token = named.group()
                out.append(token)
            else:
                out.append(token.replace("%", "%%"))
            self.tail = (self.tail + token)[-2:]
            index += len(token)
        return "".join(out)

    def expression(self) -> str | None:
        """An expression comes next: the context that makes it SQL text, if any."""
        self.tail = "  "  # a value, as far as what follows is concerned
        return None if self.context == "code" else self.context

    def _token(self, text: str, index: int) -> str | None:
        """The token at `index` (one character or a marker), context updated."""
        char = text[index]
        context = self.context
        if context == "code":
            return self._code(text, index)
        if (context == "string" and char == "'") or (context == "identifier" and char == '"'):
            self.context = "code"  # a doubled quote reopens at once: the same thing
        elif context == "escape_string":
            if char == "\\":
                return text[index:index + 2]
            if char == "'":
                self.context = "code"
        elif context == "line_comment" and char == "\n":
            self.context = "code"
        elif context == "block_comment":
            if text.startswith("/*", index):
                self.depth += 1
                return "/*"
            if text.startswith("*/", index):
                self.depth -= 1
                if self.depth == 0:
                    self.context = "code"
                return "*/"
        elif context == "dollar" and text.startswith(self.dollar_tag, index):
            self.context = "code"
            return self.dollar_tag
        return char

    def _code(self, text: str, index: int) -> str | None:
        char = text[index]
        if char == "%":
            named = _NAMED.match(text, index)
            if named and named["name"] in self.params:
                return None
            if named:
                self.unknown.append(named.group())
            elif _POSITIONAL.match(text, index):
                self.positional.append(text[index:index + 2])
        elif char == "'":
            prefix, before = self.tail[-1], self.tail[-2]
            escape = prefix in "eE" and not _is_identifier_char(before)
            self.context = "escape_string" if escape else "string"
        elif char == '"':
            self.context = "identifier"
        elif text.startswith("--", index):
            self.context = "line_comment"
            return "--"
        elif text.startswith("/*", index):
            self.context, self.depth = "block_comment", 1
            return "/*"
        elif char == "$" and not _is_identifier_char(self.tail[-1]):
            tag = _DOLLAR_QUOTE.match(text, index)
            if tag:
                self.context, self.dollar_tag = "dollar", tag.group()
                return tag.group()
        return char


_MARKERS = {"{%": "a {% … %} statement", "{#": "a {# … #} comment"}


@functools.lru_cache(maxsize=1024)
def compile_query(query: str, params: tuple[str, ...]) -> CompiledQuery:
    """Split the query into SQL and `{{ … }}` expressions: each expression
    becomes a `%(pN)s` placeholder (a name no key of params has), every other
    `%` is doubled. Nothing is evaluated. A query with problems compiles to
    something harmless; `check` reports the problems before any script is written."""
    problems: list[Problem] = []
    pieces = expressions.split_expressions(query)
    if pieces is None:
        problem = Problem("an expression in the query is not closed with }}",
                          "close every {{ with }}")
        return CompiledQuery(query.replace("%", "%%"), (), (problem,))
    scanner = _SqlScanner(params)
    sql: list[str] = []
    values: dict[str, str] = {}
    taken = set(params)
    has_sql = False
    for piece in pieces:
        if piece.kind == "text":
            for marker, what in _MARKERS.items():
                if marker in piece.source:
                    problems.append(Problem(
                        f"the query holds {what} ({marker}): only {{{{ … }}}} values may "
                        "appear in SQL, as bound parameters",
                        f"remove it; to send the characters {marker} as a value, write "
                        f"{{{{ '{marker}' }}}}"))
            has_sql = has_sql or bool(piece.source.strip())
            sql.append(scanner.feed(piece.source))
            continue
        source = piece.source.strip()
        shown = "{{ " + source + " }}"
        context = scanner.expression()
        if context is not None:
            where, hint = _CONTEXTS[context]
            problems.append(Problem(
                f"{shown} is inside {where}: there it would be SQL text, not a value", hint))
        if expressions.analyse(shown).syntax_error is not None:
            problems.append(Problem(f"cannot read {shown} as one expression",
                                    "write the value as {{ expression }}"))
        number = len(values) + 1
        while f"p{number}" in taken:
            number += 1
        name = f"p{number}"
        taken.add(name)
        values[name] = shown
        sql.append(f"%({name})s")
    if values and not has_sql:
        problems.append(Problem(
            "the query is only an expression: SQL cannot come from a value (that is SQL "
            "injection); write the statement out and use {{ … }} for the values in it",
            "SELECT * FROM users WHERE id = {{ input.userId }}"))
    for placeholder in dict.fromkeys(scanner.unknown):
        problems.append(Problem(
            f"{placeholder} in the query names no key of params",
            f"params keys: {listing(params) or 'none'}; or write the value as "
            "{{ expression }}"))
    if scanner.positional:
        problems.append(Problem(
            f"{scanner.positional[0]} in the query is a positional placeholder, which has "
            "no value here",
            "write {{ expression }}, or %(name)s with name a key of params"))
    text = "".join(sql)
    if not problems and expressions.is_template(text):
        problems.append(Problem(
            "the SQL would contain {{, {% or {# next to a placeholder",
            "put a space between a { and the {{ … }} after it"))
    return CompiledQuery(text, tuple(values.items()), tuple(problems))


def check(config: PostgresQueryConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    """What the generic checks do not see: how the query splits into SQL and values."""
    problems: list[Diagnostic] = []

    def report(code: str, message: str, pointer: str, hint: str) -> None:
        problems.append(Diagnostic(code, message, pointer, node_id=context.node_id, hint=hint))

    if "params" in context.written_keys and "params" not in config.model_fields_set:
        # An expression standing for the whole object: its keys, the query's
        # placeholders, would only be known at run time.
        report("expression-not-allowed", "params must be written out as an object; its "
               "values may be expressions", context.pointer("params"),
               'e.g. {"userId": "{{ input.userId }}"}')
        return problems  # which %(name)s are placeholders is not known without it
    for key in config.params:
        if not key or ")" in key:
            report("invalid-config", f"params key {key!r} cannot be a placeholder",
                   context.pointer("params") + json_pointer(key),
                   "use a name without ), e.g. userId (then %(userId)s or {{ userId }})")
    if expressions.analyse(config.query).syntax_error is not None:
        return problems  # reported already, with the parser's own words
    compiled = compile_query(config.query, tuple(config.params))
    for problem in compiled.problems:
        report("invalid-query", problem.message, context.pointer("query"), problem.hint)
    return problems


NODE_TYPES = (
    NodeType(
        type="postgresQuery",
        category="data",
        display_name="PostgreSQL query",
        description="Run one SQL statement on PostgreSQL; {{ … }} values are bound "
        "parameters, never SQL text.",
        icon="database",
        color="#336791",
        config_model=PostgresQueryConfig,
        template="postgres_query.jinja",
        inputs=(Port("input", "After", "any", "Optional: run after this node."),),
        outputs=(Port("output", "Result", "json", "{rows, rowcount, columns}"),),
        dependencies=("psycopg[binary]>=3.3,<4", "psycopg-pool>=3.3,<4"),
        imports=(
            "import datetime",
            "import decimal",
            "import hashlib",
            "import urllib.parse",
            "import psycopg",
            "import psycopg_pool",
            "from psycopg.rows import dict_row",
            "from psycopg.types.json import Jsonb",
        ),
        scope_field="params",
        check=check,
        output_description="{rows: [{column: value}], rowcount, columns}",
        output_schema=closed({
            "rows": array({"type": "object"}),
            "rowcount": INTEGER,
            "columns": array(STRING),
        }),
        example={
            "connection_string": DEFAULT_ENV,
            "query": "SELECT id, name FROM users WHERE id = {{ input.userId }}",
            "timeout": 30,
        },
    ),
)
