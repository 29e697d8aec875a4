"""Reading YAML and JSON files into plain Python data that remembers its line numbers.

Every document becomes a :class:`Document`: its plain data (dicts, lists, str,
int, float, bool, None) plus a parallel tree of line numbers, so a problem found
later by a parser that only knows a field path (``spec.ingress[0].ports``) can
be pointed at ``file:line`` with :func:`locate`.

The reader is deliberately strict and bounded, because it reads files users hand
us: a file over ``max_bytes`` is refused before parsing, alias expansion is
budgeted (a "billion laughs" file is refused, not expanded), nesting depth is
bounded, keys must be strings and unique, and only the plain YAML tags are
accepted (no ``!!python/...``, no custom tags): we compose the node graph with
libyaml when available and build the values ourselves, never ``yaml.load``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from service.errors import FieldPath, InvalidInput, Problem

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "Document",
    "locate",
    "parse_documents",
    "read_documents",
]

MAX_FILE_BYTES = 5 * 1024 * 1024
# Nodes reached through aliases, per file. Real manifests reuse a few small
# anchors; an alias bomb needs millions, so this separates them cleanly.
MAX_ALIAS_NODES = 100_000
# Deeper than any Kubernetes object; keeps our recursive walk far from Python's limit.
MAX_DEPTH = 200

_YAML = "tag:yaml.org,2002:"
_MERGE_TAG = _YAML + "merge"

# Prefer libyaml for speed; the pure-Python loader behaves the same, only slower.
_Loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]
try:
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class _Lines:
    """Line numbers of one node and its children (1-based).

    ``fields`` maps a mapping's keys to (line of the key, child); ``items`` holds
    a sequence's children. Scalars have neither.
    """

    line: int
    fields: Mapping[str, tuple[int, _Lines]] | None = None
    items: Sequence[_Lines] | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """One non-empty document of a YAML or JSON file."""

    file: str
    index: int
    data: object
    line: int
    # None when no per-node lines are known (JSON that only the JSON parser accepted).
    positions: _Lines | None = field(default=None, compare=False, repr=False)

    def line_of(self, path: FieldPath) -> int | None:
        """The line of the deepest node reached along ``path``.

        A mapping entry is reported at its key's line, a list item at the item's
        first line; a path that leaves the document (a missing field) stops at
        the last node that exists, which is where the user would add it.
        """
        node = self.positions
        if node is None:
            return None
        line = node.line
        for part in path.parts:
            if isinstance(part, str):
                if node.fields is None or part not in node.fields:
                    break
                line, node = node.fields[part]
            else:
                if node.items is None or not 0 <= part < len(node.items):
                    break
                node = node.items[part]
                line = node.line
        return line


def locate(err: InvalidInput, document: Document) -> InvalidInput:
    """``err`` with each problem's file, document and line filled in from its field path.

    Problems that already carry a file are left as they are.
    """
    located = []
    for problem in err.problems:
        if problem.file is not None:
            located.append(problem)
            continue
        line = document.line_of(problem.path) if problem.line is None else problem.line
        located.append(problem.located(file=document.file, document=document.index, line=line))
    return InvalidInput(located)


def read_documents(
    path: Path, *, display_name: str | None = None, max_bytes: int = MAX_FILE_BYTES
) -> list[Document]:
    """The non-empty documents of the YAML or JSON file at ``path``."""
    name = display_name if display_name is not None else str(path)
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit instead of trusting stat(): the file may grow.
            raw = handle.read(max_bytes + 1)
            if len(raw) > max_bytes:
                handle.seek(0, 2)
                size = handle.tell()
                raise InvalidInput(
                    Problem(
                        f"file is {_size(size)}, over the limit of {_size(max_bytes)}",
                        file=name,
                    )
                )
    except OSError as err:
        raise InvalidInput(
            Problem(f"cannot read the file: {err.strerror or err}", file=name)
        ) from err
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InvalidInput(
            Problem(
                f"the file is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})",
                file=name,
                line=line,
            )
        ) from err
    return parse_documents(text, file=name)


def parse_documents(text: str, *, file: str) -> list[Document]:
    """The non-empty documents of a YAML stream or a JSON text.

    JSON goes through the YAML parser too (JSON is nearly YAML) so it gets line
    numbers; its values are then taken from the JSON parser, because YAML 1.1
    reads some JSON numbers (``1e5``) as strings. When the YAML parser rejects a
    valid JSON text, the JSON parser's values are used without per-field lines.

    A YAML alias yields the same Python object at every use: treat the data as
    read-only.
    """
    looks_like_json = text.lstrip()[:1] in ("{", "[")
    try:
        documents = _Composer(text, file).documents()
    except _SyntaxError as err:
        if not looks_like_json:
            raise err.invalid from err
        syntax_error: _SyntaxError | None = err
        documents = []
    else:
        syntax_error = None
    if not looks_like_json:
        return documents
    try:
        data = json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as err:
        if syntax_error is None:
            return documents  # YAML flow syntax that is not JSON, such as {a: 1}
        raise InvalidInput(
            Problem(f"invalid JSON: {err.msg}", file=file, line=err.lineno, column=err.colno)
        ) from err
    except _DuplicateJsonKeyError as err:  # only reached when YAML could not say where
        raise InvalidInput(Problem(str(err), file=file)) from err
    except RecursionError as err:
        raise InvalidInput(Problem("JSON nested too deeply", file=file)) from err
    if data is None:
        return []
    if syntax_error is None and len(documents) == 1:
        return [replace(documents[0], data=data)]
    return [Document(file=file, index=0, data=data, line=1)]


class _SyntaxError(Exception):
    """The YAML parser rejected the text; ``invalid`` is the located problem to raise."""

    def __init__(self, invalid: InvalidInput) -> None:
        super().__init__(str(invalid))
        self.invalid = invalid


class _DuplicateJsonKeyError(Exception):
    pass


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateJsonKeyError(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MiB ({count} bytes)"
    if count >= 1024:
        return f"{count / 1024:.1f} KiB ({count} bytes)"
    return f"{count} bytes"


def _tag(node: yaml.Node) -> str:
    tag = str(node.tag)
    return "!!" + tag.removeprefix(_YAML) if tag.startswith(_YAML) else tag


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


_Built = tuple[object, _Lines, int]  # value, its lines, how many nodes it expands to


class _Composer:
    """Builds plain data and line trees from libyaml's node graph, with safety budgets.

    Alias targets are built once and shared (the graph is a DAG), but every reuse
    is charged its full expanded size against ``MAX_ALIAS_NODES``, so a bomb is
    refused after a few thousand steps of work instead of being expanded.
    """

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.loader = _Loader(text)
        self.problems: list[Problem] = []
        self.built: dict[int, _Built] = {}
        self.in_progress: set[int] = set()
        self.alias_nodes = 0
        self.scalar_builders: dict[str, Callable[[yaml.ScalarNode], object]] = {
            _YAML + "str": lambda node: str(node.value),
            _YAML + "null": lambda node: None,
            _YAML + "bool": self.loader.construct_yaml_bool,
            _YAML + "int": self.loader.construct_yaml_int,
            _YAML + "float": self.loader.construct_yaml_float,
            # Kept as written: Kubernetes fields are strings, never YAML timestamps.
            _YAML + "timestamp": lambda node: str(node.value),
        }

    def documents(self) -> list[Document]:
        documents: list[Document] = []
        index = 0
        try:
            while self.loader.check_node():
                root = self.loader.get_node()
                if root is None:
                    break
                self.built.clear()
                value, lines, _ = self.build(root, FieldPath(), depth=0, ref_line=_line(root))
                if value is not None:
                    documents.append(
                        Document(
                            file=self.file,
                            index=index,
                            data=value,
                            line=lines.line,
                            positions=lines,
                        )
                    )
                index += 1
        except _RefusedError as err:
            problem = Problem(
                err.message, path=err.path, file=self.file, document=index, line=err.line
            )
            raise InvalidInput(problem) from err
        except yaml.MarkedYAMLError as err:
            raise _SyntaxError(self.syntax_problem(err, index)) from err
        except yaml.YAMLError as err:  # pragma: no cover - libyaml always marks its errors
            raise _SyntaxError(
                InvalidInput(Problem(f"invalid YAML: {err}", file=self.file))
            ) from err
        finally:
            self.loader.dispose()
        InvalidInput.collect(self.problems)
        return documents

    def syntax_problem(self, err: yaml.MarkedYAMLError, index: int) -> InvalidInput:
        mark = err.problem_mark or err.context_mark
        message = err.problem or "invalid YAML"
        if err.context:
            context_line = f" at line {err.context_mark.line + 1}" if err.context_mark else ""
            message = f"{message} ({err.context}{context_line})"
        if mark is None:
            return InvalidInput(Problem(f"invalid YAML: {message}", file=self.file, document=index))
        return InvalidInput(
            Problem(
                f"invalid YAML: {message}",
                file=self.file,
                document=index,
                line=mark.line + 1,
                column=mark.column + 1,
            )
        )

    def problem(self, message: str, path: FieldPath, line: int) -> None:
        self.problems.append(Problem(message, path=path, file=self.file, line=line))

    def build(self, node: yaml.Node, path: FieldPath, *, depth: int, ref_line: int) -> _Built:
        """The value of ``node``; ``ref_line`` is where it is referred to (for alias errors)."""
        key = id(node)
        if key in self.in_progress:
            self.problem("an alias refers to a node that contains it", path, ref_line)
            return None, _Lines(ref_line), 1
        done = self.built.get(key)
        if done is not None:
            self.alias_nodes += done[2]
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise _RefusedError(
                    f"aliases expand to more than {MAX_ALIAS_NODES} nodes; refusing what looks"
                    " like an alias bomb",
                    path,
                    ref_line,
                )
            return done
        if depth > MAX_DEPTH:
            # The path itself would be unreadably long; the line says where.
            raise _RefusedError(f"nested deeper than {MAX_DEPTH} levels", FieldPath(), _line(node))
        self.in_progress.add(key)
        try:
            if isinstance(node, yaml.MappingNode):
                result = self.build_mapping(node, path, depth=depth)
            elif isinstance(node, yaml.SequenceNode):
                result = self.build_sequence(node, path, depth=depth)
            else:
                result = self.build_scalar(node, path)
        finally:
            self.in_progress.discard(key)
        self.built[key] = result
        return result

    def build_scalar(self, node: yaml.Node, path: FieldPath) -> _Built:
        line = _line(node)
        builder = self.scalar_builders.get(node.tag)
        if builder is None or not isinstance(node, yaml.ScalarNode):
            self.problem(
                f"unsupported YAML tag {_tag(node)}: only plain data is accepted", path, line
            )
            return None, _Lines(line), 1
        try:
            value = builder(node)
        except (ValueError, yaml.YAMLError) as err:
            self.problem(f"cannot read {node.value!r}: {err}", path, line)
            return None, _Lines(line), 1
        return value, _Lines(line), 1

    def build_sequence(self, node: yaml.SequenceNode, path: FieldPath, *, depth: int) -> _Built:
        if node.tag != _YAML + "seq":
            self.problem(
                f"unsupported YAML tag {_tag(node)}: only plain data is accepted", path, _line(node)
            )
        values: list[object] = []
        items: list[_Lines] = []
        size = 1
        for index, child in enumerate(node.value):
            value, lines, count = self.build(
                child, path / index, depth=depth + 1, ref_line=_line(node)
            )
            values.append(value)
            items.append(lines)
            size += count
        return values, _Lines(_line(node), items=items), size

    def build_mapping(self, node: yaml.MappingNode, path: FieldPath, *, depth: int) -> _Built:
        if node.tag != _YAML + "map":
            self.problem(
                f"unsupported YAML tag {_tag(node)}: only plain data is accepted", path, _line(node)
            )
        values: dict[str, object] = {}
        fields: dict[str, tuple[int, _Lines]] = {}
        merged_values: dict[str, object] = {}
        merged_fields: dict[str, tuple[int, _Lines]] = {}
        size = 1
        for key_node, value_node in node.value:
            key_line = _line(key_node)
            if key_node.tag == _MERGE_TAG:
                mvalues, mfields, count = self.build_merge(
                    value_node, path, depth=depth, line=key_line
                )
                # Earlier merge keys win over later ones, as in the YAML merge spec.
                merged_values = {**mvalues, **merged_values}
                merged_fields = {**mfields, **merged_fields}
                size += count
                continue
            key = self.mapping_key(key_node, path)
            if key is None:
                continue
            if key in fields:
                self.problem(
                    f"duplicate key {key!r} (first at line {fields[key][0]},"
                    f" again at line {key_line})",
                    path / key,
                    key_line,
                )
                continue
            value, lines, count = self.build(
                value_node, path / key, depth=depth + 1, ref_line=key_line
            )
            values[key] = value
            fields[key] = (key_line, lines)
            size += count
        # Keys written in the mapping override merged ones.
        return (
            {**merged_values, **values},
            _Lines(_line(node), fields={**merged_fields, **fields}),
            size,
        )

    def build_merge(
        self, node: yaml.Node, path: FieldPath, *, depth: int, line: int
    ) -> tuple[dict[str, object], dict[str, tuple[int, _Lines]], int]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        values: dict[str, object] = {}
        fields: dict[str, tuple[int, _Lines]] = {}
        size = 0
        for source in reversed(sources):
            if not isinstance(source, yaml.MappingNode):
                self.problem("a merge key '<<' needs a mapping or a list of mappings", path, line)
                continue
            value, lines, count = self.build(source, path, depth=depth, ref_line=line)
            if not isinstance(value, dict) or lines.fields is None:
                continue  # a recursive alias, already reported
            values.update(value)
            fields.update(lines.fields)
            size += count
        return values, fields, size

    def mapping_key(self, node: yaml.Node, path: FieldPath) -> str | None:
        line = _line(node)
        if isinstance(node, yaml.ScalarNode) and node.tag == _YAML + "str":
            return str(node.value)
        if isinstance(node, yaml.ScalarNode):
            kind = node.tag.removeprefix(_YAML)
            self.problem(
                f"keys must be strings, got {node.value!r} (a YAML {kind}); quote it", path, line
            )
        else:
            self.problem("keys must be strings, got a list or mapping", path, line)
        return None


class _RefusedError(Exception):
    """Stops the walk at once: going on would do the work we are refusing to do."""

    def __init__(self, message: str, path: FieldPath, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
