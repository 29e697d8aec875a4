"""API tokens (admin): issue one (shown once), list, get, revoke."""

from __future__ import annotations

from typing import Final

from flask import Blueprint, Response

from service.api.context import commit, db, services
from service.api.models.common import Page
from service.api.models.requests import PageQuery, TokenCreate
from service.api.models.responses import TokenIssued, TokenView
from service.api.problems import not_found
from service.api.registry import PREFIX, BodySpec, Reply, json_response, operation
from service.api.routes.common import CREATED
from service.auth import get_token, issue_token, list_tokens, revoke_token
from service.queries.paging import decode_cursor, encode_cursor
from service.store.enums import TokenRole

__all__ = ["blueprint"]

blueprint = Blueprint("tokens", __name__)

TAG: Final = "tokens"


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/tokens",
    id="listTokens",
    summary="List tokens (never the tokens themselves), revoked ones too",
    tag=TAG,
    role=TokenRole.ADMIN,
    query=PageQuery,
    replies=(Reply(200, "A page of tokens.", Page[TokenView]),),
)
def list_view(query: PageQuery) -> Response:
    after = None
    if query.cursor is not None:
        (after,) = decode_cursor(query.cursor, "tokens", (int,))
    found = list_tokens(
        db(), after_id=int(after) if after is not None else None, limit=query.limit + 1
    )
    more = len(found) > query.limit
    items = found[: query.limit]
    return json_response(
        {
            "items": [t.to_json() for t in items],
            "next_cursor": encode_cursor("tokens", [items[-1].id]) if more else None,
        }
    )


@operation(
    blueprint,
    "POST",
    f"{PREFIX}/tokens",
    id="createToken",
    summary="Issue a token; the answer is the only place it is ever shown",
    tag=TAG,
    role=TokenRole.ADMIN,
    body=BodySpec(model=TokenCreate),
    replies=(Reply(201, "Issued.", TokenIssued, headers=CREATED),),
    errors=(409,),
    writes=True,
)
def create_view(body: TokenCreate) -> Response:
    issued = issue_token(db(), name=body.name, role=body.role)
    commit()
    return json_response(
        {**issued.info.to_json(), "token": issued.token},
        201,
        headers={"Location": f"{PREFIX}/tokens/{issued.info.id}", "Cache-Control": "no-store"},
    )


@operation(
    blueprint,
    "GET",
    f"{PREFIX}/tokens/<id:token_id>",
    id="getToken",
    summary="One token's name, role, prefix and use",
    tag=TAG,
    role=TokenRole.ADMIN,
    replies=(Reply(200, "The token.", TokenView),),
)
def get_view(token_id: int) -> Response:
    info = get_token(db(), token_id)
    if info is None:
        raise not_found(f"no token {token_id}")
    return json_response(info.to_json())


@operation(
    blueprint,
    "DELETE",
    f"{PREFIX}/tokens/<id:token_id>",
    id="revokeToken",
    summary="Revoke a token: it is refused from now on (kept for the record)",
    tag=TAG,
    role=TokenRole.ADMIN,
    replies=(Reply(200, "The revoked token.", TokenView),),
    writes=True,
)
def revoke_view(token_id: int) -> Response:
    info = revoke_token(db(), token_id)
    if info is None:
        raise not_found(f"no token {token_id}")
    commit()
    # This process stops trusting it at once (others within NETPOL_DRIFT_AUTH_CACHE_S).
    services().tokens.clear()
    return json_response(info.to_json())
