"""The YAML/JSON reader: documents, line numbers, and refusing unsafe or malformed input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import FieldPath, InvalidInput, Problem
from service.manifests.source import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    Document,
    locate,
    parse_documents,
    read_documents,
)

MULTI = """\
# leading comment
apiVersion: v1
kind: Pod
metadata:
  name: first
---
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: second
spec:
  podSelector: {}
  ingress:
    - from:
        - podSelector:
            matchLabels:
              app: web
        - namespaceSelector: {}
      ports:
        - port: 80
"""


def _path(*parts: str | int) -> FieldPath:
    return FieldPath(parts)


def _problems(err: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return [str(p) for p in err.value.problems]


def test_empty_documents_are_skipped_and_indexes_count_them() -> None:
    docs = parse_documents(MULTI, file="m.yaml")
    assert [(d.index, d.line) for d in docs] == [(0, 2), (2, 8)]
    assert docs[0].data == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "first"}}


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ((), 8),
        (("kind",), 9),
        (("spec", "podSelector"), 13),
        (("spec", "ingress", 0), 15),
        (("spec", "ingress", 0, "from", 1), 19),
        (("spec", "ingress", 0, "from", 0, "podSelector", "matchLabels", "app"), 18),
        (("spec", "ingress", 0, "ports", 0, "port"), 21),
        # A field that is not there is located at its nearest existing parent.
        (("spec", "egress", 0, "to"), 12),
        (("spec", "ingress", 0, "from", 7, "ipBlock"), 15),
        (("metadata", "namespace"), 10),
    ],
)
def test_line_of_a_nested_field_in_a_later_document(path: tuple[str | int, ...], line: int) -> None:
    second = parse_documents(MULTI, file="m.yaml")[1]
    assert second.line_of(FieldPath(path)) == line


def test_locate_fills_file_document_and_line_and_keeps_located_problems() -> None:
    second = parse_documents(MULTI, file="m.yaml")[1]
    err = InvalidInput(
        [
            Problem("bad port", path=_path("spec", "ingress", 0, "ports", 0, "port")),
            Problem("elsewhere", file="other.yaml", line=3),
        ]
    )
    located = locate(err, second).problems
    assert located[0] == Problem(
        "bad port",
        path=_path("spec", "ingress", 0, "ports", 0, "port"),
        file="m.yaml",
        document=2,
        line=21,
    )
    assert str(located[0]) == "m.yaml:21: spec.ingress[0].ports[0].port: bad port"
    assert located[1] == Problem("elsewhere", file="other.yaml", line=3)


def test_json_gets_lines_from_the_yaml_parser_and_values_from_json() -> None:
    text = '{\n  "kind": "Pod",\n  "spec": {\n    "ratio": 1e5,\n    "items": [1, 2]\n  }\n}\n'
    [doc] = parse_documents(text, file="p.json")
    # YAML 1.1 would read 1e5 as a string; JSON says it is a number.
    assert doc.data == {"kind": "Pod", "spec": {"ratio": 100000.0, "items": [1, 2]}}
    assert doc.line_of(_path("spec", "ratio")) == 4
    assert doc.line_of(_path("spec", "items", 1)) == 5


def test_valid_json_that_yaml_rejects_is_read_by_the_json_parser() -> None:
    # A surrogate pair escape: valid JSON, refused by PyYAML.
    text = '{"kind": "ConfigMap", "data": {"smile": "\\ud83d\\ude00"}}'
    [doc] = parse_documents(text, file="c.json")
    assert doc.data == {"kind": "ConfigMap", "data": {"smile": "\U0001f600"}}
    assert doc.line_of(_path("data", "smile")) is None


def test_invalid_json_reports_the_json_parsers_line_and_column() -> None:
    text = '{\n  "kind": "Pod",\n  "bad": "\\ud83d\\ude00" "x"\n}\n'
    with pytest.raises(InvalidInput) as err:
        parse_documents(text, file="bad.json")
    assert _problems(err) == ["bad.json:3:25: invalid JSON: Expecting ',' delimiter"]


def test_flow_yaml_that_is_not_json_is_read_as_yaml() -> None:
    [doc] = parse_documents("{kind: Pod, spec: {a: 1}}", file="f.yaml")
    assert doc.data == {"kind": "Pod", "spec": {"a": 1}}


def test_duplicate_keys_name_the_key_and_both_lines() -> None:
    text = "metadata:\n  name: a\n  labels:\n    app: x\n    tier: y\n    app: z\n"
    with pytest.raises(InvalidInput) as err:
        parse_documents(text, file="d.yaml")
    assert _problems(err) == [
        "d.yaml:6: metadata.labels.app: duplicate key 'app' (first at line 4, again at line 6)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80: http\n", "p.yaml:1: keys must be strings, got '80' (a YAML int); quote it"),
        (
            "labels:\n  yes: x\n",
            "p.yaml:2: labels: keys must be strings, got 'yes' (a YAML bool); quote it",
        ),
        ("~: x\n", "p.yaml:1: keys must be strings, got '~' (a YAML null); quote it"),
        ("? [a, b]\n: x\n", "p.yaml:1: keys must be strings, got a list or mapping"),
    ],
)
def test_non_string_keys_are_rejected(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_documents(text, file="p.yaml")
    assert _problems(err) == [expected]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("a: 1\nb: c: d\n", 2, 5, "mapping values are not allowed in this context"),
        ("a:\n  - x\n  y: 1\n", 3, 3, "did not find expected '-' indicator"),
        ('a: "unterminated\n', 2, 1, "found unexpected end of stream"),
        (
            "a: [1, 2\nb: 3\n",
            2,
            2,
            "did not find expected ',' or ']' (while parsing a flow sequence at line 1)",
        ),
    ],
)
def test_malformed_yaml_reports_line_column_and_the_parsers_message(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_documents(text, file="m.yaml")
    [problem] = err.value.problems
    assert (problem.file, problem.line, problem.column) == ("m.yaml", line, column)
    assert problem.message.startswith(f"invalid YAML: {message}")
    assert str(problem).startswith(f"m.yaml:{line}:{column}: invalid YAML: {message}")


def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_with_its_line() -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as err:
        parse_documents(_alias_bomb(10), file="bomb.yaml")
    elapsed = time.perf_counter() - started
    [problem] = err.value.problems
    assert problem.message == (
        f"aliases expand to more than {MAX_ALIAS_NODES} nodes;"
        " refusing what looks like an alias bomb"
    )
    # 9**6 = 531441 > limit, first crossed at the level holding 9**5 expansions per alias.
    assert (problem.file, problem.line) == ("bomb.yaml", 6)
    assert elapsed < 1.0  # refused without expanding 9**10 nodes


def test_aliases_and_merge_keys_within_budget_are_expanded() -> None:
    text = """\
base: &labels
  app: web
  tier: front
pod:
  <<: *labels
  tier: back
again: *labels
"""
    [doc] = parse_documents(text, file="a.yaml")
    assert doc.data == {
        "base": {"app": "web", "tier": "front"},
        "pod": {"app": "web", "tier": "back"},
        "again": {"app": "web", "tier": "front"},
    }
    assert doc.line_of(_path("pod", "tier")) == 6
    assert doc.line_of(_path("pod", "app")) == 2  # where the merged value is written


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_documents("a: &x [1, *x]\n", file="r.yaml")
    assert _problems(err) == ["r.yaml:1: a[1]: an alias refers to a node that contains it"]


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(InvalidInput) as err:
        parse_documents(text, file="deep.yaml")
    assert _problems(err) == [f"deep.yaml:1: nested deeper than {MAX_DEPTH} levels"]


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!python/object/apply:os.system [ls]\n", "!!python/object/apply:os.system"),
        ("a: !custom x\n", "!custom"),
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !!set {x, y}\n", "!!set"),
    ],
)
def test_only_plain_data_tags_are_accepted(text: str, tag: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_documents(text, file="t.yaml")
    assert _problems(err) == [
        f"t.yaml:1: a: unsupported YAML tag {tag}: only plain data is accepted"
    ]


def test_scalars_keep_their_yaml_types_and_timestamps_stay_text() -> None:
    text = "i: 0x1F\nf: 1.5\nb: true\nn: null\ns: '80'\nwhen: 2024-01-02\n"
    [doc] = parse_documents(text, file="s.yaml")
    assert doc.data == {"i": 31, "f": 1.5, "b": True, "n": None, "s": "80", "when": "2024-01-02"}


def test_a_file_over_the_limit_is_refused_with_its_size_and_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 3000 + "\n")
    with pytest.raises(InvalidInput) as err:
        read_documents(path, display_name="big.yaml", max_bytes=2048)
    assert _problems(err) == [
        "big.yaml: file is 2.9 KiB (3004 bytes), over the limit of 2.0 KiB (2048 bytes)"
    ]


def test_the_default_size_limit_is_five_mebibytes(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("w") as handle:
        handle.write("a: |\n")
        line = "  " + "x" * 1022 + "\n"
        for _ in range(MAX_FILE_BYTES // len(line) + 1):
            handle.write(line)
    with pytest.raises(InvalidInput) as err:
        read_documents(path)
    assert "over the limit of 5.0 MiB (5242880 bytes)" in err.value.problems[0].message


def test_a_file_within_the_limit_is_read_with_its_display_name(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_bytes(b"\xef\xbb\xbfkind: Pod\n")  # a UTF-8 byte order mark is tolerated
    assert read_documents(path, display_name="ok.yaml") == [
        Document(file="ok.yaml", index=0, data={"kind": "Pod"}, line=1)
    ]


def test_a_file_that_is_not_utf8_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(InvalidInput) as err:
        read_documents(path, display_name="latin1.yaml")
    assert _problems(err) == ["latin1.yaml:2: the file is not UTF-8 text (byte 0xe9 at offset 11)"]


def test_an_unreadable_path_is_reported_with_its_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        read_documents(tmp_path / "missing.yaml", display_name="missing.yaml")
    assert _problems(err) == ["missing.yaml: cannot read the file: No such file or directory"]


def test_duplicate_keys_in_json_that_yaml_rejects_are_still_refused() -> None:
    text = '{"a": "\\ud83d\\ude00", "a": 2}'
    with pytest.raises(InvalidInput) as err:
        parse_documents(text, file="d.json")
    assert _problems(err) == ["d.json: duplicate key 'a' in a JSON object"]


_KEYS = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-1000, 1000), st.text("xyz ", max_size=5)
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4),
        st.dictionaries(_KEYS, children, min_size=1, max_size=4),
    ),
    max_leaves=25,
)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in [(*prefix, k), *_paths(v, (*prefix, k))]]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in [(*prefix, i), *_paths(v, (*prefix, i))]]
    return []


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(_KEYS, _TREES, min_size=1, max_size=4))
def test_dumped_data_reads_back_equal_with_each_key_on_its_line(data: dict[str, object]) -> None:
    text = yaml.safe_dump(data, default_flow_style=False, sort_keys=False)
    [doc] = parse_documents(text, file="gen.yaml")
    assert doc.data == data
    lines = text.splitlines()
    for path in _paths(data):
        line = doc.line_of(FieldPath(path))
        assert line is not None
        last = path[-1]
        if isinstance(last, str):
            assert f"{last}:" in lines[line - 1]
        else:
            assert lines[line - 1].lstrip().startswith("-")
