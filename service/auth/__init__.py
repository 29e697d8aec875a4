"""API tokens: made, stored hashed, checked in constant time, revoked; roles that nest.

A token is shown once, when it is issued; the store keeps only its sha256
(:class:`~service.store.models.ApiToken`) and a short prefix people can tell
tokens apart by. Roles nest: ``viewer`` reads, ``operator`` also starts runs
and edits scenarios and schedules, ``admin`` also manages tokens and deletes
scenarios.
"""

from service.auth.roles import ROLE_RANK, parse_role, role_allows
from service.auth.tokens import (
    TOKEN_PREFIX,
    TOUCH_EVERY,
    IssuedToken,
    TokenInfo,
    TokenNameTakenError,
    authenticate,
    find_token,
    generate_token,
    get_token,
    hash_token,
    issue_token,
    list_tokens,
    needs_touch,
    revoke_token,
    token_matches,
    touch_token,
)

__all__ = [
    "ROLE_RANK",
    "TOKEN_PREFIX",
    "TOUCH_EVERY",
    "IssuedToken",
    "TokenInfo",
    "TokenNameTakenError",
    "authenticate",
    "find_token",
    "generate_token",
    "get_token",
    "hash_token",
    "issue_token",
    "list_tokens",
    "needs_touch",
    "parse_role",
    "revoke_token",
    "role_allows",
    "token_matches",
    "touch_token",
]
