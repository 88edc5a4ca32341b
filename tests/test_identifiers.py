"""The identifier resolver: any text in, a valid, unique, readable Python name out."""

from __future__ import annotations

import builtins
import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalyst.identifiers import IdentifierResolver, snake_case

names_text = st.text() | st.sampled_from(
    ["class", "def", "match", "_", "type", "print", "None", "1st", "a-b", "a_b", "日本", "",
     "résumé", "node", "node_2", "x_2", "__init__"]
)
SETTINGS = settings(max_examples=150, deadline=None)


def is_valid_name(name: str) -> bool:
    return (
        name.isidentifier()
        and name.isascii()
        and not keyword.iskeyword(name)
        and not keyword.issoftkeyword(name)
        and not hasattr(builtins, name)
    )


@pytest.mark.parametrize(("text", "expected"), [
    ("groqCompletion", "groq_completion"),
    ("Build prompt!", "build_prompt"),
    ("key-points", "key_points"),
    ("  spaced  out ", "spaced_out"),
    ("résumé", "resume"),
    ("日本", ""),
    ("__dunder__", "dunder"),
])
def test_snake_case(text: str, expected: str) -> None:
    assert snake_case(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("summarize", "summarize"),
    ("class", "class_2"),
    ("match", "match_2"),
    ("print", "print_2"),
    ("1st", "_1st"),
    ("", "node"),
    ("日本", "node"),
    ("Key Points", "key_points"),
])
def test_resolve_one_name(text: str, expected: str) -> None:
    assert IdentifierResolver().resolve(text) == expected


def test_colliding_texts_get_numbered_names() -> None:
    resolver = IdentifierResolver()

    assert [resolver.resolve(t) for t in ["a-b", "a_b", "A B", "a b"]] == [
        "a_b", "a_b_2", "a_b_3", "a_b_4"]


def test_numbered_name_skips_names_already_given() -> None:
    resolver = IdentifierResolver()

    assert [resolver.resolve(t) for t in ["x_2", "x", "x"]] == ["x_2", "x", "x_3"]


def test_prefix_and_fallback() -> None:
    resolver = IdentifierResolver()

    assert resolver.resolve("class", prefix="node_") == "node_class"
    assert resolver.resolve("1st", prefix="node_") == "node_1st"
    assert resolver.resolve("🙂", prefix="node_", fallback="step") == "node_step"


def test_taken_and_reserved_names_are_avoided() -> None:
    resolver = IdentifierResolver(taken={"run_workflow"})
    resolver.reserve(["main"])

    assert resolver.resolve("run workflow") == "run_workflow_2"
    assert resolver.resolve("main") == "main_2"


@SETTINGS
@given(st.lists(names_text, max_size=25))
def test_resolved_names_are_valid_and_never_repeat(texts: list[str]) -> None:
    resolver = IdentifierResolver()

    names = [resolver.resolve(text) for text in texts]

    assert all(is_valid_name(name) for name in names), names
    assert len(set(names)) == len(names)


@SETTINGS
@given(st.lists(names_text, max_size=25), st.sampled_from(["", "node_", "_", "step"]))
def test_resolved_names_with_a_prefix_are_valid_and_unique(texts: list[str], prefix: str) -> None:
    resolver = IdentifierResolver()

    names = [resolver.resolve(text, prefix=prefix) for text in texts]

    assert all(name.isidentifier() and name.isascii() for name in names)
    assert not [name for name in names if keyword.iskeyword(name)]
    assert len(set(names)) == len(names)


@SETTINGS
@given(st.lists(names_text, max_size=15))
def test_resolution_is_deterministic(texts: list[str]) -> None:
    first, second = IdentifierResolver(), IdentifierResolver()

    assert [first.resolve(t) for t in texts] == [second.resolve(t) for t in texts]


@SETTINGS
@given(names_text)
def test_snake_case_is_ascii_name_material(text: str) -> None:
    result = snake_case(text)

    assert result.isascii()
    assert all(char.isalnum() or char == "_" for char in result)
    assert not result.startswith("_") and not result.endswith("_")
