"""Annotated dependencies that keep route handlers short."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from courtyard.api.runtime import Runtime
from courtyard.domains.accounts import AccountsService, Identity, InvalidToken
from courtyard.domains.keys import KeysService

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


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]

# Routes a user must reach even before consenting to the current policy (reading and
# accepting it, export, erasure, complaints, signing out). Issue 6's consent gate makes
# ``CurrentIdentity`` refuse unconsented users; this one lets them through.
CurrentIdentityAnyConsent = Annotated[Identity, Depends(current_identity)]
