"""Calico's selector language: grammar, evaluation against label sets, errors, canonical form.

The table below is the grammar of policy-semantics.md section 2, one row per
construct and edge (absent labels, alternate spellings, precedence, glued
operators, quoting), each checked against several label sets.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import FieldPath
from service.policy.calico.selector import (
    And,
    Node,
    Not,
    Or,
    Selector,
    for_namespaces,
    prefixed,
)
from service.policy.calico.selector_parse import SelectorSyntaxError, parse_selector
from tests.policy.calico.strategies import selector_leaves

EMPTY: dict[str, str] = {}
WEB = {"app": "web", "tier": "frontend", "env": "prod"}
DB = {"app": "db", "tier": "backend", "version": ""}
ODD = {"app": "it's", "k8s.io/name": 'say "hi"', "a": "b"}

# (selector, labels, expected)
TABLE: list[tuple[str, dict[str, str], bool]] = [
    ("", WEB, True),
    ("   ", EMPTY, True),
    ("\t", DB, True),
    ("all()", EMPTY, True),
    ("all( )", WEB, True),
    ("global()", WEB, True),
    ("has(app)", WEB, True),
    ("has(app)", EMPTY, False),
    ("has( app )", DB, True),
    ("!has(app)", EMPTY, True),
    ("!has(app)", WEB, False),
    ("!!has(app)", WEB, True),
    ("!!!has(app)", WEB, False),
    ("has(version)", DB, True),  # present with an empty value
    ("app == 'web'", WEB, True),
    ('app == "web"', WEB, True),
    ("app == 'web'", DB, False),
    ("app == 'web'", EMPTY, False),  # absent: == is false
    ("version == ''", DB, True),
    ("app != 'web'", WEB, False),
    ("app != 'web'", DB, True),
    ("app != 'web'", EMPTY, True),  # absent: != is true
    ("app contains 'e'", WEB, True),
    ("app contains 'x'", WEB, False),
    ("app contains ''", WEB, True),
    ("app contains 'e'", EMPTY, False),  # absent: contains is false
    ("app starts with 'w'", WEB, True),
    ("app startswith 'w'", WEB, True),  # alternate spelling
    ("app starts   with 'd'", WEB, False),
    ("app starts with 'w'", EMPTY, False),
    ("app ends with 'b'", WEB, True),
    ("app endswith 'b'", DB, True),
    ("app ends with 'b'", EMPTY, False),
    ("app in {'web', 'db'}", WEB, True),
    ("app in {'web', 'db'}", DB, True),
    ("app in {'api'}", WEB, False),
    ("app in {'web'}", EMPTY, False),  # absent: in is false
    ("app in {}", WEB, False),
    ("app in {'web',}", WEB, True),  # a trailing comma is accepted
    ("app in{'web'}", WEB, True),  # operators may be glued to what follows
    ("app not in {'web'}", WEB, False),
    ("app not in {'web'}", DB, True),
    ("app notin {'web'}", DB, True),  # alternate spelling
    ("app not in {'web'}", EMPTY, True),  # absent: not in is true
    ("app not in {}", EMPTY, True),
    ("app == 'web' && tier == 'frontend'", WEB, True),
    ("app == 'web' && tier == 'backend'", WEB, False),
    ("app == 'web' || app == 'db'", DB, True),
    ("app == 'x' || app == 'y'", DB, False),
    ("app == 'db' || app == 'web' && tier == 'backend'", DB, True),  # && binds tighter
    ("app == 'db' || app == 'web' && tier == 'backend'", WEB, False),
    ("(app == 'db' || app == 'web') && tier == 'backend'", WEB, False),
    ("(app == 'db' || app == 'web') && tier == 'frontend'", WEB, True),
    ("!(app == 'web' || app == 'db')", EMPTY, True),
    ("!(app == 'web' || app == 'db')", DB, False),
    ("!app == 'web'", WEB, False),
    ("!app == 'web'", EMPTY, True),
    ("((has(app)))", WEB, True),
    ("app=='web'&&tier=='frontend'", WEB, True),  # blanks are optional
    ("k8s.io/name == 'say \"hi\"'", ODD, True),  # label keys with . and /
    ('app == "it\'s"', ODD, True),  # the other quote inside a string
    ("a == 'b' && has(k8s.io/name) && !has(env)", ODD, True),
    ("in == 'x'", {"in": "x"}, True),  # a keyword-looking label is a label
    ("has(app) && app != 'db' && env in {'prod', 'staging'}", WEB, True),
    ("env not in {'prod'} || tier contains 'front'", WEB, True),
    ("tier ends with 'end' && tier starts with 'back'", DB, True),
    ("all() && !has(app)", DB, False),
    ("global() || has(nothing)", EMPTY, True),
]


def test_the_table_has_at_least_fifty_expressions() -> None:
    assert len({s for s, _, _ in TABLE}) >= 50


@pytest.mark.parametrize(("text", "labels", "expected"), TABLE)
def test_selector_grammar_and_absent_label_semantics(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    assert parse_selector(text).matches(labels) is expected


# (selector, 1-based position, what was expected there)
INVALID: list[tuple[str, int, str]] = [
    ("b == b", 6, "a quoted string after '=='"),
    ("'b1' == b", 1, "a label name, has(), all(), global(), '!' or '('"),
    ("b", 2, "an operator"),
    ("a b", 3, "an operator"),
    ("!", 2, "a label name, has(), all(), global(), '!' or '('"),
    ("a == 'x' &", 10, "'&&'"),
    ("a == 'x' |", 10, "'||'"),
    ("a == 'x' &&", 12, "a label name"),
    ("a == 'x' ||", 12, "a label name"),
    ("a == 'x", 8, "a closing '"),
    ('a == "x', 8, 'a closing "'),
    ("(a == 'x'", 10, "')' to close the '(' at character 1"),
    ("()", 2, "a label name"),
    ("%", 1, "a label name"),
    ("a = 'x'", 3, "'=='"),
    ("has(a", 6, "')' to close has(a"),
    ("has()", 5, "a label name inside has("),
    ("all(x)", 5, "')' to close all("),
    ("a in 'x'", 6, "a set such as"),
    ("a in {'x' 'y'}", 11, "a quoted string, ',' or '}' in the set"),
    ("a in {,}", 7, "a quoted string, ',' or '}' in the set"),
    ("a starts 'x'", 10, "'with' after 'starts'"),
    ("a not 'x'", 7, "'in' after 'not'"),
    ("a == 'x' b == 'y'", 10, "'&&', '||' or the end of the selector"),
    ("a == 'x')", 9, "'&&', '||' or the end of the selector"),
    ("a == 'x'\n", 9, "a space or a tab (a selector is one line)"),
]


@pytest.mark.parametrize(("text", "position", "expected"), INVALID)
def test_bad_selectors_are_rejected_with_position_and_expectation(
    text: str, position: int, expected: str
) -> None:
    path = FieldPath(("spec", "selector"))
    with pytest.raises(SelectorSyntaxError) as caught:
        parse_selector(text, path)
    err = caught.value
    assert err.position == position
    assert expected in err.expected
    (problem,) = err.problems
    assert problem.path == path
    assert f"at character {position}: expected " in problem.message


CANONICAL = [
    ("app=='web'", 'app == "web"'),
    ("a == 'x' && b == 'y' && c == 'z'", '(a == "x" && b == "y" && c == "z")'),
    ("a == 'x' || b == 'y' && c == 'z'", '(a == "x" || (b == "y" && c == "z"))'),
    ("!(a == 'x')", '!a == "x"'),
    ("!!(a == 'x' && has(b))", '(a == "x" && has(b))'),
    ("a in {'z', 'a', 'z'}", 'a in {"a", "z"}'),
    ("a notin{'q'}", 'a not in {"q"}'),
    ("a startswith 'x'", 'a starts with "x"'),
    ("a == 'say \"hi\"'", "a == 'say \"hi\"'"),
    ("", "all()"),
    ("  all ( ) ", None),  # "all (" is not "all(": a label, then a '('
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_canonical_form_is_calicos_and_is_a_fixed_point(text: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(SelectorSyntaxError):
            parse_selector(text)
        return
    parsed = parse_selector(text)
    assert str(parsed) == canonical
    assert parse_selector(str(parsed)) == parsed
    assert str(parse_selector(str(parsed))) == canonical


def test_two_spellings_of_one_selector_are_one_value() -> None:
    assert parse_selector("a in {'x','y'}") == parse_selector('a in {"y", "x"}')
    assert hash(parse_selector("!!has(a)")) == hash(parse_selector("has(a)"))


def test_namespace_selector_all_means_any_namespaced_thing_and_global_the_others() -> None:
    namespaced = {"projectcalico.org/namespace": "dev", "pcns.team": "a"}
    global_set = {"role": "partner"}
    assert for_namespaces(parse_selector("all()")).matches(namespaced)
    assert not for_namespaces(parse_selector("all()")).matches(global_set)
    assert for_namespaces(parse_selector("global()")).matches(global_set)
    assert not for_namespaces(parse_selector("global()")).matches(namespaced)
    assert for_namespaces(parse_selector("team == 'a'")).matches(namespaced)
    assert str(prefixed(parse_selector("has(a) && b == 'c'"), "pcsa.")) == (
        '(has(pcsa.a) && pcsa.b == "c")'
    )


# --- round trips of generated selectors --------------------------------------------------------

KEYS = st.sampled_from(["app", "tier", "k8s.io/name", "a-b_c.d", "x"])
VALUES = st.sampled_from(["", "web", "it's", 'say "hi"', "a b", "x"])


NODES: st.SearchStrategy[Node] = st.recursive(
    selector_leaves(KEYS, VALUES, max_values=3),
    lambda inner: st.one_of(
        st.builds(Not, inner.filter(lambda n: not isinstance(n, Not))),
        st.builds(lambda ops: And(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda ops: Or(tuple(ops)), st.lists(inner, min_size=2, max_size=3)),
    ),
    max_leaves=8,
)
LABEL_SETS = st.dictionaries(KEYS, VALUES, max_size=4)


@settings(max_examples=150, deadline=None)
@given(NODES, LABEL_SETS)
def test_printing_then_parsing_keeps_the_meaning(node: Node, labels: dict[str, str]) -> None:
    original = Selector.of(node)
    again = parse_selector(str(original))
    assert str(again) == str(original)
    assert again.matches(labels) == original.matches(labels)
