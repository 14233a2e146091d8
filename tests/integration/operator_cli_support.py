"""Operators for tests that run ``courtyard admin …`` commands: every such command names its
operator (``COURTYARD_OPERATOR``) and reads their password from
``COURTYARD_OPERATOR_PASSWORD``, so a test creates one and passes ``env`` to the runner."""

from __future__ import annotations

from courtyard.core.clock import SystemClock
from courtyard.db import Database
from courtyard.domains.accounts import Hasher, OperatorsService
from tests.conftest import PASSWORD

CLI_OPERATOR = "cora"


class _OnceHasher(Hasher):
    """Hashes the shared test password once per process: the role matrix creates hundreds of
    operators, and each argon2id hash costs about a quarter of a second. Checking a password
    stays real."""

    _hashed: str | None = None

    def hash_now(self, password: str) -> str:
        if password != PASSWORD:
            return super().hash_now(password)
        if _OnceHasher._hashed is None:
            _OnceHasher._hashed = super().hash_now(password)
        return _OnceHasher._hashed


def operator_env(username: str = CLI_OPERATOR, password: str = PASSWORD) -> dict[str, str]:
    """The environment that names ``username`` as the operator running a command."""
    return {"COURTYARD_OPERATOR": username, "COURTYARD_OPERATOR_PASSWORD": password}


async def add_operator(database_url: str, username: str, *roles: str) -> str:
    """Create an operator with the test password on the database at ``database_url``;
    returns their operator id."""
    db = Database(database_url)
    try:
        service = OperatorsService(db, SystemClock(), _OnceHasher())
        operator = await service.do_create_operator(username, PASSWORD, list(roles))
    finally:
        await db.dispose()
    return operator.operator_id


async def cli_operator(
    database_url: str, *roles: str, username: str = CLI_OPERATOR
) -> dict[str, str]:
    """Create ``username`` with ``roles`` (default finance: what the wallet commands need)
    and return the environment that runs commands as them."""
    await add_operator(database_url, username, *(roles or ("finance",)))
    return operator_env(username)
