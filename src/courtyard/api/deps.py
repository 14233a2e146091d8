"""Annotated dependencies that keep route handlers short."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from courtyard.api.runtime import Runtime
from courtyard.domains.accounts import AccountsService, Identity, InvalidToken
from courtyard.domains.keys import KeysService
from courtyard.domains.privacy import Scope

bearer = HTTPBearer(auto_error=False, description="An access token from login or register.")


def get_runtime(request: HTTPConnection) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_accounts(runtime: RuntimeDep) -> AccountsService:
    return runtime.accounts


AccountsDep = Annotated[AccountsService, Depends(get_accounts)]


def get_keys(runtime: RuntimeDep) -> KeysService:
    return runtime.keys


KeysDep = Annotated[KeysService, Depends(get_keys)]


async def current_identity(
    accounts: AccountsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Identity:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken()
    return await accounts.authenticate(credentials.credentials)


# Routes a user must reach even before consenting to the current policy (reading and
# accepting it, export, erasure, complaints, signing out, whoami).
CurrentIdentityAnyConsent = Annotated[Identity, Depends(current_identity)]
WALLET_ROUTES = "/v1/wallet"


async def consented_identity(
    request: HTTPConnection, identity: CurrentIdentityAnyConsent, runtime: RuntimeDep
) -> Identity:
    """The caller, once the consent gate lets them in: the current version of their region's
    policy and its required purposes, and under /v1/wallet the wallet's purposes too; else
    403 ``consent_required`` (docs/privacy-consent.md, "The consent gate")."""
    path = request.url.path
    wallet = path == WALLET_ROUTES or path.startswith(WALLET_ROUTES + "/")
    scope: Scope = "wallet" if wallet else "all"
    await runtime.consent.gate.check(identity.user_id, scope)
    return identity


CurrentIdentity = Annotated[Identity, Depends(consented_identity)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]
