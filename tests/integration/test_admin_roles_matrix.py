"""Every console page is behind ``@requires`` (an unguarded page fails here), and the role
matrix in docs/admin-console.md ("Roles") is the one the code checks: the console's decorators
and cli/admin_roles.py, row for row."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from courtyard.admin.console import PAGES
from courtyard.admin.guard import requires
from courtyard.admin.pages import Viewer
from courtyard.cli.admin_roles import ADMIN_COMMAND_ROLES, OTHER_COMMAND_ROLES
from courtyard.domains.accounts import OPERATOR_ROLES
from tests.integration.admin_support import browser

DOC = Path(__file__).parents[2] / "docs" / "admin-console.md"
OPEN_ROUTES = {"/login"}  # the sign-in page and form: the only pages for signed-out people
PATH_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


async def _handler(request: Request, viewer: Viewer) -> Response:
    raise AssertionError("never called")


GUARD_CODE = requires()(_handler).__code__  # the code of every endpoint @requires makes


def console_routes() -> list[tuple[str, str, Route]]:
    """(method, path, route) of every console route but the open ones."""
    found = []
    for page in PAGES:
        for route in page.routes:
            assert isinstance(route, Route), route
            if route.path in OPEN_ROUTES:
                continue
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((method, route.path, route))
    return found


def guarded_roles(route: Route) -> frozenset[str] | None:
    """The roles ``@requires`` admits for the route (all of them for ``@requires()``), or
    None when the endpoint is not ``@requires``'s."""
    endpoint = route.endpoint
    if getattr(endpoint, "__code__", None) is not GUARD_CODE:
        return None
    roles = inspect.getclosurevars(endpoint).nonlocals["roles"]
    return frozenset(roles or OPERATOR_ROLES)


def test_every_console_route_is_guarded_by_requires() -> None:
    routes = console_routes()
    assert len(routes) > 20
    unguarded = [f"{method} {path}" for method, path, route in routes if not guarded_roles(route)]
    assert not unguarded, f"put @requires(...) in front of {unguarded}"


def sample_path(path: str) -> str:
    return PATH_PARAM.sub(lambda m: "1" if m.group(2) == "int" else "x", path)


async def test_signed_out_every_console_route_goes_to_the_sign_in_page(app: FastAPI) -> None:
    async with browser(app) as anonymous:
        for method, path, _ in console_routes():
            answer = await anonymous.request(method, "/admin" + sample_path(path))
            assert answer.status_code == 303, (method, path, answer.text)
            assert answer.headers["location"].startswith("/admin/login"), (method, path)


def documented_matrix() -> dict[str, frozenset[str]]:
    """The rows of the matrix under "## Roles" (the table whose header names every role): the
    first cell (without backticks) → the roles whose column has a ✓."""
    text = DOC.read_text()
    section = text.split("\n## Roles\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, frozenset[str]] = {}
    header: list[str] = []
    for line in section.splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if set(OPERATOR_ROLES) <= set(cells):
            header = cells
            continue
        if not header:  # the tables before the matrix
            continue
        key = cells[0].strip("`")
        assert key not in rows, f"{key} is in the matrix twice"
        rows[key] = frozenset(r for r, c in zip(header, cells, strict=True) if c == "✓")
    return rows


def checked_matrix() -> dict[str, frozenset[str]]:
    """What the code checks: each command's declared roles, each route's decorator."""
    rows = {f"courtyard admin {name}": frozenset(r) for name, r in ADMIN_COMMAND_ROLES.items()}
    rows |= {f"courtyard {name}": frozenset(r) for name, r in OTHER_COMMAND_ROLES.items()}
    for method, path, route in console_routes():
        roles = guarded_roles(route)
        assert roles is not None
        rows[f"{method} /admin{path}"] = roles
    return rows


def test_the_documented_role_matrix_is_the_one_the_code_checks() -> None:
    documented, checked = documented_matrix(), checked_matrix()
    assert documented, 'docs/admin-console.md, "Roles", needs the matrix: a row naming each role'

    missing = sorted(set(checked) - set(documented))
    stale = sorted(set(documented) - set(checked))
    assert not missing, f'add to docs/admin-console.md, "Roles": {missing}'
    assert not stale, f'docs/admin-console.md, "Roles", lists what does not exist: {stale}'
    wrong = {
        k: (sorted(documented[k]), sorted(v)) for k, v in checked.items() if documented[k] != v
    }
    assert not wrong, f"documented vs checked roles differ: {wrong}"
