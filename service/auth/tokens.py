"""Issuing, listing, revoking and checking bearer tokens.

A token is ``npd_`` followed by 43 URL-safe characters (32 random bytes): long
enough that a plain sha256 is the right hash (there is nothing to brute-force,
unlike a password, so no slow hash is needed, and a lookup by hash stays one
index probe). The hash found by the lookup is compared again with
:func:`hmac.compare_digest`, so the check itself takes the same time for
every token.

Every function here runs in the caller's session and transaction; the caller
commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.errors import FieldPath, InvalidInput, NetpolDriftError, Problem
from service.store.base import utc_now
from service.store.enums import TokenRole
from service.store.models import ApiToken

__all__ = [
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
    "revoke_token",
    "token_matches",
    "touch_token",
]

TOKEN_PREFIX: Final = "npd_"
# Characters of the token kept in clear (the "npd_" prefix and 8 random ones).
_SHOWN: Final = len(TOKEN_PREFIX) + 8
_NAME_MAX: Final = 253
# last_used_at is written at most this often per token: a busy client must not
# turn every read into a write.
TOUCH_EVERY: Final = timedelta(minutes=1)


class TokenNameTakenError(NetpolDriftError):
    """Another token already has this name (names are unique)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a token named {name!r} exists already")
        self.name = name


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as it may be shown: never the token itself."""

    id: int
    name: str
    role: TokenRole
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "prefix": self.prefix,
            "created_at": _iso(self.created_at),
            "last_used_at": _iso(self.last_used_at),
            "revoked_at": _iso(self.revoked_at),
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``token`` is the secret, shown to its owner once and never stored."""

    info: TokenInfo
    token: str


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    """Whether ``token`` hashes to ``token_hash``, compared in constant time."""
    return hmac.compare_digest(hash_token(token), token_hash)


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        role=row.role,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


def _check_name(name: str) -> str:
    cleaned = name.strip()
    problems = []
    if not cleaned:
        problems.append("expected a non-empty name")
    elif len(cleaned) > _NAME_MAX:
        problems.append(f"expected at most {_NAME_MAX} characters, got {len(cleaned)}")
    elif any(not ch.isprintable() for ch in cleaned):
        problems.append("expected printable characters only")
    InvalidInput.collect(Problem(p, path=FieldPath(("name",))) for p in problems)
    return cleaned


def issue_token(
    session: Session, *, name: str, role: TokenRole, now: datetime | None = None
) -> IssuedToken:
    """Add a token to the caller's transaction; raises TokenNameTakenError or InvalidInput."""
    cleaned = _check_name(name)
    if session.scalar(select(ApiToken.id).where(ApiToken.name == cleaned)) is not None:
        raise TokenNameTakenError(cleaned)
    token = generate_token()
    row = ApiToken(
        name=cleaned,
        role=role,
        token_hash=hash_token(token),
        prefix=token[:_SHOWN],
        created_at=now if now is not None else utc_now(),
    )
    try:
        # A savepoint: losing a race on the name must not undo the caller's transaction.
        with session.begin_nested():
            session.add(row)
    except IntegrityError as err:
        raise TokenNameTakenError(cleaned) from err
    return IssuedToken(info=_info(row), token=token)


def list_tokens(
    session: Session, *, after_id: int | None = None, limit: int = 100
) -> list[TokenInfo]:
    """Tokens by id (revoked ones too), after ``after_id``."""
    query = select(ApiToken).order_by(ApiToken.id).limit(limit)
    if after_id is not None:
        query = query.where(ApiToken.id > after_id)
    return [_info(row) for row in session.scalars(query)]


def get_token(session: Session, token_id: int) -> TokenInfo | None:
    row = session.get(ApiToken, token_id)
    return _info(row) if row is not None else None


def find_token(session: Session, name: str) -> TokenInfo | None:
    row = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
    return _info(row) if row is not None else None


def revoke_token(
    session: Session, token_id: int, *, now: datetime | None = None
) -> TokenInfo | None:
    """Revoke a token (idempotent: a revoked token keeps its first revocation time).

    None when there is no such token.
    """
    row = session.get(ApiToken, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = now if now is not None else utc_now()
        session.flush()
    return _info(row)


def authenticate(session: Session, token: str) -> TokenInfo | None:
    """The active token ``token`` is, or None (unknown, malformed or revoked). Reads only."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 256:
        return None
    digest = hash_token(token)
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked_at is not None:
        return None
    return _info(row)


def needs_touch(info: TokenInfo, *, now: datetime | None = None) -> bool:
    """Whether the token's last use is old enough to be written again."""
    at = now if now is not None else utc_now()
    return info.last_used_at is None or at - info.last_used_at >= TOUCH_EVERY


def touch_token(session: Session, token_id: int, *, now: datetime | None = None) -> None:
    """Note that the token was used now (in the caller's transaction)."""
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(last_used_at=now if now is not None else utc_now())
        .execution_options(synchronize_session=False)
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None
