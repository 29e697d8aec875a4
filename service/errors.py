"""The one exception hierarchy of netpol-drift.

Every error the service raises on purpose derives from :class:`NetpolDriftError`,
so callers (the CLI, the API, the workers) can tell a known failure from a bug:

``NetpolDriftError``
    ``InvalidInput``
        The user gave us something we cannot accept: a manifest, a scenario, a
        command-line argument. It carries one or more :class:`Problem` s, each
        naming the file, document, line and field, and what was expected. The
        CLI exits with status 2 on it; the API answers 400/422.
    ``ClusterError``
        A cluster backend could not do what a run needs (pods never became
        ready, an exec failed, the API refused). Cells touched by it become
        ``error`` verdicts, never ``blocked``.

Code raising these always chains the cause (``raise ... from err``) so the
original traceback survives for operators.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

__all__ = [
    "ClusterError",
    "FieldPath",
    "InvalidInput",
    "NetpolDriftError",
    "Problem",
]


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A path into a document, printed the way kubectl prints it: ``spec.ingress[0].from``."""

    parts: tuple[str | int, ...] = ()

    def __truediv__(self, part: str | int) -> FieldPath:
        return FieldPath((*self.parts, part))

    def __str__(self) -> str:
        out = ""
        for part in self.parts:
            if isinstance(part, int):
                out += f"[{part}]"
            elif out:
                out += f".{part}"
            else:
                out = part
        return out


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one piece of input.

    ``file``, ``document`` (0-based index in a multi-document file) and ``line``
    (1-based) are filled in by the layer that knows them: the policy parser only
    knows the field path; the manifest reader adds where the document came from.
    """

    message: str
    path: FieldPath = field(default_factory=FieldPath)
    file: str | None = None
    document: int | None = None
    line: int | None = None
    column: int | None = None

    def located(
        self, *, file: str | None, document: int | None = None, line: int | None = None
    ) -> Problem:
        return replace(
            self,
            file=self.file if self.file is not None else file,
            document=self.document if self.document is not None else document,
            line=self.line if self.line is not None else line,
        )

    def under(self, prefix: FieldPath) -> Problem:
        """The same problem seen from a containing document (``prefix`` goes first)."""
        return replace(self, path=FieldPath((*prefix.parts, *self.path.parts)))

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            elif self.document is not None:
                where += f" (document {self.document + 1})"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        field_part = f"{self.path}: " if self.path.parts else ""
        return f"{where}{field_part}{self.message}"


class NetpolDriftError(Exception):
    """Base of every error netpol-drift raises on purpose."""


class InvalidInput(NetpolDriftError):  # noqa: N818 - the domain word reads better than *Error
    """Input was rejected; ``problems`` says every reason found, each with its location."""

    def __init__(self, problems: Sequence[Problem] | Problem) -> None:
        self.problems: tuple[Problem, ...] = (
            (problems,) if isinstance(problems, Problem) else tuple(problems)
        )
        if not self.problems:
            raise ValueError("InvalidInput needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def collect(cls, problems: Iterable[Problem]) -> None:
        """Raise if ``problems`` is not empty; a helper for validators that gather all errors."""
        found = list(problems)
        if found:
            raise cls(found)

    def located(
        self, *, file: str | None, document: int | None = None, line: int | None = None
    ) -> InvalidInput:
        return InvalidInput(
            [p.located(file=file, document=document, line=line) for p in self.problems]
        )


class ClusterError(NetpolDriftError):
    """A cluster backend failed; the affected cells are errors, not verdicts."""
