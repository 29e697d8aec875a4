"""Who is asking: bearer tokens and roles, per operation.

An operation names the role it needs (None: public). No Authorization header
is a 401 unless the operation is public, or reading is open to anonymous
clients by configuration and the operation only needs ``viewer``. A header
that is not ``Bearer <token>``, or a token that is unknown or revoked, is a
401 whatever the operation; a token whose role is too weak is a 403.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Final

from flask import g, request
from sqlalchemy.exc import OperationalError

from service.api.context import db, services
from service.api.problems import ApiError
from service.auth import (
    TokenInfo,
    authenticate,
    hash_token,
    needs_touch,
    role_allows,
    touch_token,
)
from service.runs.transactions import writing
from service.store.base import utc_now
from service.store.enums import TokenRole

__all__ = ["Principal", "authorize", "current_principal", "touch_if_used"]

log = logging.getLogger(__name__)

_REALM: Final = 'Bearer realm="netpol-drift"'


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a token, or anonymous (``token`` None)."""

    token: TokenInfo | None

    @property
    def role(self) -> TokenRole | None:
        return self.token.role if self.token is not None else None

    @property
    def name(self) -> str:
        return self.token.name if self.token is not None else "anonymous"


_ANONYMOUS: Final = Principal(None)


def _unauthorized(detail: str, error: str | None = None) -> ApiError:
    challenge = _REALM if error is None else f'{_REALM}, error="{error}"'
    return ApiError(401, detail, headers={"WWW-Authenticate": challenge})


def authorize(need: TokenRole | None, *, write: bool = False) -> Principal:
    """The caller if allowed to do what needs ``need``; raises ApiError 401 or 403."""
    if need is None:
        g.principal = _ANONYMOUS
        return _ANONYMOUS
    header = request.headers.get("Authorization")
    if header is None:
        if need is TokenRole.VIEWER and services().config.anonymous_read:
            g.principal = _ANONYMOUS
            return _ANONYMOUS
        raise _unauthorized("a bearer token is required: Authorization: Bearer <token>")
    scheme, _, raw = header.strip().partition(" ")
    token = raw.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("expected Authorization: Bearer <token>", "invalid_request")
    key = hash_token(token)
    info = _authenticate(token, key, write=write)
    if info is None:
        raise _unauthorized("the token is not valid (unknown or revoked)", "invalid_token")
    if not role_allows(info.role, need):
        raise ApiError(
            403,
            f"this needs the {need.value} role; the token {info.name!r} is {info.role.value}",
        )
    if needs_touch(info):
        # Written when the request is over (see touch_if_used): on SQLite the request's
        # own write transaction holds the lock until then. The cached copy learns the
        # time now, so the next requests do not write it again.
        g.touch_token = info.id
        info = replace(info, last_used_at=utc_now())
        services().tokens.put(key, info)
    principal = Principal(info)
    g.principal = principal
    return principal


def _authenticate(token: str, key: str, *, write: bool) -> TokenInfo | None:
    """The token's info, from the cache (by ``key``, the token's hash) or the database."""
    cache = services().tokens
    found = cache.get(key)
    if found is None:
        found = authenticate(db(write=write), token)
        if found is not None:
            cache.put(key, found)
    return found


def touch_if_used(_exc: BaseException | None = None) -> None:
    """Note the last use of the request's token, if due; after the request's session closed.

    Bookkeeping in its own short transaction, best effort: a busy database must
    not fail a request over a last-used time.
    """
    token_id = g.pop("touch_token", None)
    if not isinstance(token_id, int):
        return
    try:
        with writing(services().sessions) as session:
            touch_token(session, token_id)
    except OperationalError as err:
        log.info("could not note the use of token %s: %s", token_id, err.orig)


def current_principal() -> Principal:
    found = g.get("principal")
    return found if isinstance(found, Principal) else _ANONYMOUS
