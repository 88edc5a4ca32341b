"""Expressions: what analyse() finds, the single-expression rule and where templates sit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import nodes as jinja_nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from catalyst.expressions import (
    Piece,
    Reference,
    analyse,
    as_expression,
    is_template,
    single_expression,
    split_expressions,
    template_strings,
)

# -- analyse ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "reference"), [
    ("{{ input.text }}", Reference("input", "text")),
    ("{{ input['text'] }}", Reference("input", "text")),
    ('{{ input["text"] | upper }}', Reference("input", "text")),
    ("{{ global.DEFAULT_MODEL }}", Reference("global", "DEFAULT_MODEL")),
    ("{{ global['MAX_TOKENS'] + 1 }}", Reference("global", "MAX_TOKENS")),
    ("{{ nodes.classify.output.text }}", Reference("nodes", "classify")),
    ("{{ nodes['key-points'].output.text }}", Reference("nodes", "key-points")),
    ("{{ input }}", Reference("input", None)),
])
def test_analyse_finds_one_reference(source: str, reference: Reference) -> None:
    analysis = analyse(source)

    assert analysis.references == (reference,)
    assert analysis.unknown_names == ()
    assert analysis.syntax_error is None


def test_only_the_key_right_after_the_root_is_recorded() -> None:
    assert analyse("{{ input.order.customer.name }}").references == (Reference("input", "order"),)


def test_references_in_mixed_text_and_statements() -> None:
    source = ("Hi {{ input.name }}, {% for p in nodes.search.output.items %}{{ p }}{% endfor %}"
              " from {{ global.TEAM }}")

    assert analyse(source).references == (
        Reference("input", "name"), Reference("nodes", "search"), Reference("global", "TEAM"))


def test_computed_key_is_a_reference_without_key_and_its_name_unknown() -> None:
    analysis = analyse("{{ nodes[which].output }}")

    assert analysis.references == (Reference("nodes", None),)
    assert analysis.unknown_names == ("which",)


def test_unknown_names_are_sorted_and_exclude_roots_and_jinja_globals() -> None:
    analysis = analyse("{{ zeta }} {{ alpha.x }} {{ range(3) | list }} {{ input.a }}")

    assert analysis.unknown_names == ("alpha", "zeta")


def test_names_bound_inside_the_template_are_not_unknown() -> None:
    assert analyse("{% set n = 2 %}{% for i in range(n) %}{{ i }}{% endfor %}").unknown_names == ()


def test_a_for_block_binds_loop() -> None:
    source = "{% for hit in input.hits %}[{{ loop.index }}] {{ hit }}{% endfor %}"
    assert analyse(source).unknown_names == ()


def test_text_without_expressions_has_no_references() -> None:
    assert analyse("plain text").references == ()


@pytest.mark.parametrize("source", ["{{ input.text ", "{{ }}", "{% if x %}", "{{ 1 + }}"])
def test_syntax_errors_are_reported_not_raised(source: str) -> None:
    analysis = analyse(source)

    assert analysis.syntax_error
    assert analysis.references == ()


def test_syntax_error_on_a_later_line_names_the_line() -> None:
    error = analyse("line one {{ input.a }}\nline two {{ input.b ").syntax_error

    assert error is not None
    assert "(line 2)" in error


# -- the single-expression rule ------------------------------------------------------------


@pytest.mark.parametrize(("text", "expression"), [
    ("{{ input.count }}", " input.count "),
    ("{{input.count}}", "input.count"),
    ("  {{ input.count }}\n", " input.count "),
    ("{{ nodes['a'].output.usage.total_tokens }}", " nodes['a'].output.usage.total_tokens "),
    ("{{ 'multi\nline' }}", " 'multi\nline' "),
])
def test_exactly_one_expression_is_an_expression(text: str, expression: str) -> None:
    assert single_expression(text) == expression


@pytest.mark.parametrize("text", [
    "Summarise: {{ input.text }}",
    "{{ input.text }}!",
    "{{ a }} {{ b }}",
    "{{ a }}{{ b }}",
    "{% if a %}x{% endif %}",
    "no braces",
    "",
])
def test_anything_else_is_not_a_single_expression(text: str) -> None:
    assert single_expression(text) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("input.a == 'x'", "{{ input.a == 'x' }}"),
    ("{{ input.a }}", "{{ input.a }}"),
    ("prefix {{ input.a }}", "prefix {{ input.a }}"),
    ("{% if input.a %}yes{% endif %}", "{% if input.a %}yes{% endif %}"),
])
def test_as_expression_wraps_only_bare_expressions(text: str, expected: str) -> None:
    assert as_expression(text) == expected


def test_a_wrapped_bare_expression_is_a_single_expression() -> None:
    assert single_expression(as_expression("nodes.c.output.text | lower")) == (
        " nodes.c.output.text | lower ")


@pytest.mark.parametrize(("text", "expected"), [
    ("{{ x }}", True), ("{% x %}", True), ("{# note #}", True),
    ("{ x }", False), ("}} {{", True), ("", False),
])
def test_is_template(text: str, expected: bool) -> None:
    assert is_template(text) is expected


# -- where templates sit in a config ---------------------------------------------------------


def test_template_strings_yields_paths_of_templates_only() -> None:
    config = {
        "model": "openai/gpt-oss-20b",
        "prompt": "Q: {{ input.q }}",
        "messages": [
            {"role": "user", "content": "no template"},
            {"role": "user", "content": "{{ nodes.a.output }}"},
        ],
        "fields": {"nested": {"deep": ["x", "{{ global.G }}"]}},
        "temperature": 0.2,
        "stream": True,
        "nothing": None,
    }

    assert list(template_strings(config)) == [
        (("prompt",), "Q: {{ input.q }}"),
        (("messages", 1, "content"), "{{ nodes.a.output }}"),
        (("fields", "nested", "deep", 1), "{{ global.G }}"),
    ]


def test_template_strings_of_a_plain_string() -> None:
    assert list(template_strings("{{ a }}")) == [((), "{{ a }}")]
    assert list(template_strings("a")) == []


# -- split_expressions: where each {{ … }} starts and ends, as Jinja's lexer sees it ----------

_TEXT = st.text(alphabet="ab '\"%{}()$-\\\n", max_size=8).filter(
    lambda text: "{{" not in text and "{%" not in text and "{#" not in text
    and not text.endswith("{"))
_EXPRESSION = st.sampled_from([
    "x", " input.a ", "'}}'", '"a\\"}}"', "{'k': 1}['k']", "[1, 2][0]", "(1 + 2)",
    " {'a': {'b': '}}'}} ", "'{{'", "f(')')",
])


@given(st.lists(st.tuples(_TEXT, _EXPRESSION), max_size=4), _TEXT)
def test_split_expressions_agrees_with_jinja(parts: list[tuple[str, str]], tail: str) -> None:
    source = "".join(text + "{{" + expression + "}}" for text, expression in parts) + tail
    pieces = split_expressions(source)
    assert pieces is not None
    assert [p.source for p in pieces if p.kind == "expression"] == [e for _, e in parts]
    assert "".join(p.source if p.kind == "text" else "{{" + p.source + "}}"
                   for p in pieces) == source
    (output,) = ImmutableSandboxedEnvironment(keep_trailing_newline=True).parse(source).body \
        if parts else (jinja_nodes.Output([]),)
    expressions_in_jinja = [n for n in output.nodes if not isinstance(n, jinja_nodes.TemplateData)]
    assert len(expressions_in_jinja) == len(parts)


def test_split_expressions_edges() -> None:
    assert split_expressions("a {{- x -}} b {{+ y }}") == [
        Piece("text", "a "), Piece("expression", " x "), Piece("text", " b "),
        Piece("expression", " y ")]
    assert split_expressions("{{ x") is None
    assert split_expressions("{{ 'unclosed }}") is None
    assert split_expressions("") == []
