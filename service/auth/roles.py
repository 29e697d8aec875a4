"""Roles nest: each includes the rights of the ones before it."""

from __future__ import annotations

from typing import Final

from service.errors import FieldPath, InvalidInput, Problem
from service.store.enums import TokenRole

__all__ = ["ROLE_RANK", "parse_role", "role_allows"]

ROLE_RANK: Final[dict[TokenRole, int]] = {
    TokenRole.VIEWER: 0,
    TokenRole.OPERATOR: 1,
    TokenRole.ADMIN: 2,
}


def role_allows(have: TokenRole, need: TokenRole) -> bool:
    """Whether a token of role ``have`` may do what needs ``need``."""
    return ROLE_RANK[have] >= ROLE_RANK[need]


_ROLE_PATH: Final = FieldPath(("role",))


def parse_role(text: str, *, path: FieldPath = _ROLE_PATH) -> TokenRole:
    """The role named ``text`` (case-insensitive); InvalidInput naming ``path`` otherwise."""
    try:
        return TokenRole(text.strip().lower())
    except ValueError as err:
        roles = ", ".join(role.value for role in TokenRole)
        raise InvalidInput(
            Problem(f"unknown role {text!r}; expected one of: {roles}", path=path)
        ) from err
