"""Reading Calico selector strings: a lexer and a recursive-descent parser.

The grammar (policy-semantics.md section 2)::

    expr    := and ('||' and)*
    and     := unary ('&&' unary)*
    unary   := '!'* primary
    primary := all() | global() | has(k) | '(' expr ')'
             | k == "v" | k != "v" | k contains "v" | k starts with "v"
             | k ends with "v" | k in {"a", "b"} | k not in {"a"}

accepted exactly as Calico's own tokenizer accepts it: blanks are spaces and
tabs only; strings take single or double quotes and have no escapes; an
operator after a label may be glued to what follows (``startswith``,
``notin``, ``in{...}``); a label is ``[A-Za-z0-9_./-]+``; a set may be empty
or end with a comma; an empty or blank selector is ``all()``; an even number
of ``!`` cancels out.

Every rejection is a :class:`SelectorSyntaxError` naming the 1-based
character position and what was expected there, e.g. ``selector 'a b': at
character 3: expected an operator (==, !=, in, not in, contains, starts with,
ends with) after label 'a', got 'b'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.errors import FieldPath, InvalidInput, Problem
from service.policy.calico.selector import (
    All,
    And,
    Compare,
    Global,
    Has,
    Membership,
    Node,
    Not,
    Op,
    Or,
    Selector,
)

__all__ = ["SelectorSyntaxError", "parse_selector"]

_ROOT = FieldPath()
_BLANKS = " \t"
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_PRIMARY = "a label name, has(), all(), global(), '!' or '('"
_OPERATORS = "an operator (==, !=, in, not in, contains, starts with, ends with)"


class SelectorSyntaxError(InvalidInput):
    """A selector Calico would reject; ``position`` is 1-based, ``expected`` says what fits."""

    def __init__(self, text: str, position: int, expected: str, found: str, path: FieldPath):
        self.text = text
        self.position = position
        self.expected = expected
        self.found = found
        message = f"selector {text!r}: at character {position}: expected {expected}, got {found}"
        super().__init__(Problem(message, path=path))


class _Kind(StrEnum):
    LABEL = "label"
    STRING = "string"
    LBRACE = "'{'"
    RBRACE = "'}'"
    COMMA = "','"
    EQ = "'=='"
    NE = "'!='"
    NOT = "'!'"
    IN = "'in'"
    NOT_IN = "'not in'"
    CONTAINS = "'contains'"
    STARTS_WITH = "'starts with'"
    ENDS_WITH = "'ends with'"
    ALL = "all()"
    GLOBAL = "global()"
    HAS = "has()"
    LPAREN = "'('"
    RPAREN = "')'"
    AND = "'&&'"
    OR = "'||'"
    EOF = "the end of the selector"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    start: int  # 0-based offset into the text
    value: str = ""

    def describe(self) -> str:
        if self.kind is _Kind.LABEL:
            return f"label {self.value!r}"
        if self.kind is _Kind.STRING:
            return f"string {self.value!r}"
        if self.kind is _Kind.HAS:
            return f"has({self.value})"
        return self.kind.value


_COMPARISONS = {
    _Kind.EQ: Op.EQ,
    _Kind.NE: Op.NE,
    _Kind.CONTAINS: Op.CONTAINS,
    _Kind.STARTS_WITH: Op.STARTS_WITH,
    _Kind.ENDS_WITH: Op.ENDS_WITH,
}
_SIMPLE = {"(": _Kind.LPAREN, ")": _Kind.RPAREN, "{": _Kind.LBRACE, "}": _Kind.RBRACE}
_SIMPLE[","] = _Kind.COMMA


class _Lexer:
    def __init__(self, text: str, path: FieldPath) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.tokens: list[_Token] = []

    def fail(self, at: int, expected: str, found: str | None = None) -> SelectorSyntaxError:
        if found is None:
            found = repr(self.text[at]) if at < len(self.text) else "the end of the selector"
        return SelectorSyntaxError(self.text, at + 1, expected, found, self.path)

    def skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _BLANKS:
            self.pos += 1

    def label_at(self, at: int) -> str:
        end = at
        while end < len(self.text) and self.text[end] in _LABEL_CHARS:
            end += 1
        return self.text[at:end]

    def emit(self, kind: _Kind, start: int, value: str = "") -> None:
        self.tokens.append(_Token(kind, start, value))

    def run(self) -> list[_Token]:
        text = self.text
        while True:
            self.skip_blanks()
            start = self.pos
            if start >= len(text):
                self.emit(_Kind.EOF, start)
                return self.tokens
            char = text[start]
            after_label = bool(self.tokens) and self.tokens[-1].kind is _Kind.LABEL
            if char in _SIMPLE:
                self.emit(_SIMPLE[char], start)
                self.pos += 1
            elif char in "\"'":
                end = text.find(char, start + 1)
                if end < 0:
                    raise self.fail(
                        len(text),
                        f"a closing {char} for the string opened at character "
                        f"{start + 1} (strings have no escapes)",
                    )
                self.emit(_Kind.STRING, start, text[start + 1 : end])
                self.pos = end + 1
            elif char in "=&|":
                self.pair(char)
            elif char == "!":
                if text.startswith("!=", start):
                    self.emit(_Kind.NE, start)
                    self.pos += 2
                else:
                    self.emit(_Kind.NOT, start)
                    self.pos += 1
            elif after_label:
                self.operator(start)
            else:
                self.word(start)

    def pair(self, char: str) -> None:
        start = self.pos
        if not self.text.startswith(char * 2, start):
            raise self.fail(start, f"'{char * 2}'", found=repr(char))
        self.emit({"=": _Kind.EQ, "&": _Kind.AND, "|": _Kind.OR}[char], start)
        self.pos += 2

    def operator(self, start: int) -> None:
        """The operator after a label; Calico matches these as prefixes, not whole words."""
        text = self.text
        if text.startswith("contains", start):
            self.emit(_Kind.CONTAINS, start)
            self.pos = start + len("contains")
            return
        for first, second, kind in (
            ("starts", "with", _Kind.STARTS_WITH),
            ("ends", "with", _Kind.ENDS_WITH),
            ("not", "in", _Kind.NOT_IN),
        ):
            if text.startswith(first, start):
                self.pos = start + len(first)
                self.skip_blanks()
                if not text.startswith(second, self.pos):
                    raise self.fail(self.pos, f"'{second}' after '{first}'")
                self.emit(kind, start)
                self.pos += len(second)
                return
        if text.startswith("in", start):
            self.emit(_Kind.IN, start)
            self.pos = start + 2
            return
        label = self.tokens[-1].value
        raise self.fail(start, f"{_OPERATORS} after label {label!r}", found=self.found(start))

    def found(self, at: int) -> str:
        word = self.label_at(at)
        return repr(word) if word else repr(self.text[at])

    def word(self, start: int) -> None:
        text = self.text
        for name, kind in (("all(", _Kind.ALL), ("global(", _Kind.GLOBAL)):
            if text.startswith(name, start):
                self.pos = start + len(name)
                self.skip_blanks()
                if not text.startswith(")", self.pos):
                    raise self.fail(self.pos, f"')' to close {name}")
                self.emit(kind, start)
                self.pos += 1
                return
        if text.startswith("has(", start):
            self.pos = start + len("has(")
            self.skip_blanks()
            key = self.label_at(self.pos)
            if not key:
                raise self.fail(self.pos, "a label name inside has(")
            self.pos += len(key)
            self.skip_blanks()
            if not text.startswith(")", self.pos):
                raise self.fail(self.pos, f"')' to close has({key}")
            self.emit(_Kind.HAS, start, key)
            self.pos += 1
            return
        label = self.label_at(start)
        if not label:
            if text[start] in "\r\n":
                raise self.fail(start, "a space or a tab (a selector is one line)")
            raise self.fail(start, _PRIMARY)
        self.emit(_Kind.LABEL, start, label)
        self.pos = start + len(label)


class _Parser:
    def __init__(self, text: str, tokens: list[_Token], path: FieldPath) -> None:
        self.text = text
        self.tokens = tokens
        self.path = path
        self.at = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def kind(self) -> _Kind:
        # A call, not an attribute: each check re-reads the token after the parser moved on.
        return self.tokens[self.at].kind

    def fail(self, expected: str) -> SelectorSyntaxError:
        token = self.token
        return SelectorSyntaxError(
            self.text, token.start + 1, expected, token.describe(), self.path
        )

    def expect(self, kind: _Kind, expected: str) -> _Token:
        token = self.token
        if token.kind is not kind:
            raise self.fail(expected)
        self.at += 1
        return token

    def parse(self) -> Node:
        if self.kind() is _Kind.EOF:
            return All()
        node = self.disjunction()
        if self.kind() is not _Kind.EOF:
            raise self.fail("'&&', '||' or the end of the selector")
        return node

    def disjunction(self) -> Node:
        operands = [self.conjunction()]
        while self.kind() is _Kind.OR:
            self.at += 1
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self) -> Node:
        operands = [self.unary()]
        while self.kind() is _Kind.AND:
            self.at += 1
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self) -> Node:
        negated = False
        while self.kind() is _Kind.NOT:
            negated = not negated
            self.at += 1
        node = self.primary()
        return Not(node) if negated else node

    def primary(self) -> Node:
        token = self.token
        match token.kind:
            case _Kind.ALL:
                self.at += 1
                return All()
            case _Kind.GLOBAL:
                self.at += 1
                return Global()
            case _Kind.HAS:
                self.at += 1
                return Has(token.value)
            case _Kind.LPAREN:
                self.at += 1
                node = self.disjunction()
                self.expect(_Kind.RPAREN, f"')' to close the '(' at character {token.start + 1}")
                return node
            case _Kind.LABEL:
                self.at += 1
                return self.comparison(token.value)
            case _:
                raise self.fail(_PRIMARY)

    def comparison(self, key: str) -> Node:
        token = self.token
        if token.kind in _COMPARISONS:
            self.at += 1
            value = self.expect(_Kind.STRING, f"a quoted string after {token.describe()}")
            return Compare(key, _COMPARISONS[token.kind], value.value)
        if token.kind in (_Kind.IN, _Kind.NOT_IN):
            self.at += 1
            self.expect(_Kind.LBRACE, f'a set such as {{"a", "b"}} after {token.describe()}')
            values: set[str] = set()
            while self.kind() is _Kind.STRING:
                values.add(self.token.value)
                self.at += 1
                if self.kind() is not _Kind.COMMA:
                    break
                self.at += 1
            self.expect(_Kind.RBRACE, "a quoted string, ',' or '}' in the set")
            return Membership(key, tuple(sorted(values)), inverted=token.kind is _Kind.NOT_IN)
        raise self.fail(f"{_OPERATORS} after label {key!r}")


def parse_selector(text: str, path: FieldPath = _ROOT) -> Selector:
    """The selector ``text`` means; raises :class:`SelectorSyntaxError` located at ``path``."""
    tokens = _Lexer(text, path).run()
    return Selector.of(_Parser(text, tokens, path).parse())
