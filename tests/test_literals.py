"""py_literal and comment_text: every user value reaches generated code through them."""

from __future__ import annotations

import ast
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalyst.formatting import format_source
from catalyst.literals import Code, comment_text, py_literal

# Characters that have broken hand-written escaping elsewhere: quotes, backslashes,
# every kind of line break Python or Unicode knows, NUL and lone surrogates.
AWKWARD = ['"""', "'''", '"', "'", "\\", "\\n", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c",
           "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\ud800", "\udfff", "\ufeff",
           "{{", "}}", "#", "\t", "\u200b", "é", "日本", "🙂"]

awkward_text = st.lists(st.sampled_from(AWKWARD) | st.text(max_size=5), max_size=12).map("".join)
surrogate_text = st.text(st.characters() | st.characters(categories=["Cs"]))
any_text = st.text() | awkward_text | surrogate_text

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # nan and both infinities included
    | any_text
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(any_text, children, max_size=4),
    max_leaves=20,
)

FAST = settings(max_examples=100, deadline=None)


def same(left: Any, right: Any) -> bool:
    """Equality that treats nan as equal to nan and tells bool from int."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or (
            left == right and math.copysign(1, left) == math.copysign(1, right))
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    return bool(left == right)


def round_trip(value: Any) -> Any:
    return eval(py_literal(value), {"__builtins__": {"float": float}})


# -- unit cases ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 10**30, 0.1, -0.0, 1e308, 5e-324, "", "plain",
    'say "hi"', "it's", "back\\slash", '"""triple"""', "'''", "line\nbreak", "\r\n", "\x00",
    "\u2028", "\x0c", "\ud800", "{{ input.x }}", [], {}, [1, [2, [3]]], {"a": {"b": [None]}},
    {"": "", "'": '"'},
])
def test_literal_round_trips(value: Any) -> None:
    assert same(round_trip(value), value)


@pytest.mark.parametrize(("value", "source"), [
    (float("nan"), 'float("nan")'),
    (float("inf"), 'float("inf")'),
    (float("-inf"), 'float("-inf")'),
    (True, "True"),
    (None, "None"),
])
def test_special_values_have_readable_literals(value: float, source: str) -> None:
    assert py_literal(value) == source


def test_nan_round_trips() -> None:
    assert math.isnan(round_trip(float("nan")))


def test_literal_is_code() -> None:
    assert isinstance(py_literal("x"), Code)


def test_tuples_become_lists() -> None:
    assert round_trip(("a", 1)) == ["a", 1]


def test_long_multiline_text_becomes_one_literal_per_line() -> None:
    text = "First line of a long prompt that goes on.\nSecond line, also long.\r\nThird\u2028."

    source = py_literal(text)

    assert source.startswith("(") and source.endswith(")")
    assert source.count("\n") == 0
    assert round_trip(text) == text


def test_short_multiline_text_stays_one_literal() -> None:
    assert py_literal("a\nb") == repr("a\nb")


@pytest.mark.parametrize("value", [{1: "a"}, {None: 1}, {("a",): 1}])
def test_non_string_keys_are_refused(value: Any) -> None:
    with pytest.raises(TypeError, match="keys must be strings"):
        py_literal(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", 1j])
def test_values_outside_json_are_refused(value: Any) -> None:
    with pytest.raises(TypeError):
        py_literal(value)


@pytest.mark.parametrize("text", ["plain", "two\nlines", "cr\rhere", "\u2028", "\x0c", "\x85",
                                  "end\\", '"""', "\x00", "\ud800", "# already"])
def test_comment_text_cannot_end_the_comment(text: str) -> None:
    namespace: dict[str, Any] = {}

    exec(compile("# " + comment_text(text) + "\nx = 1\n", "<comment>", "exec"), namespace)

    assert set(namespace) - {"__builtins__"} == {"x"}


# -- properties ------------------------------------------------------------------------------


@FAST
@given(json_values)
def test_eval_of_literal_is_the_value(value: Any) -> None:
    assert same(round_trip(value), value)


@FAST
@given(json_values)
def test_literal_parses_as_an_assignment_and_encodes(value: Any) -> None:
    source = f"x = {py_literal(value)}\n"

    tree = ast.parse(source)

    assert len(tree.body) == 1
    source.encode("utf-8")  # lone surrogates must arrive escaped


@FAST
@given(awkward_text)
def test_awkward_text_round_trips(text: str) -> None:
    assert round_trip(text) == text


@settings(max_examples=40, deadline=None)
@given(json_values)
def test_black_keeps_the_value(value: Any) -> None:
    formatted = format_source(f"x = {py_literal(value)}\n")
    namespace: dict[str, Any] = {"__builtins__": {"float": float}}

    exec(formatted, namespace)

    assert same(namespace["x"], value)


@FAST
@given(any_text)
def test_comment_text_stays_on_its_line(text: str) -> None:
    source = "# " + comment_text(text) + "\nx = 1\n"
    namespace: dict[str, Any] = {}

    exec(compile(source, "<comment>", "exec"), namespace)

    assert set(namespace) - {"__builtins__"} == {"x"}
    assert len(source.splitlines()) == 2
    source.encode("utf-8")
