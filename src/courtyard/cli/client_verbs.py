"""Client verbs: register, login, logout, whoami, devices and events, on top of the SDK.

Each command works on one profile directory (``--profile``), which holds the session. A
password is prompted with hidden input or read from ``COURTYARD_PASSWORD``; it is never an
argument, so it cannot leak into shell history or the process list.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from courtyard.cli.consent_prompt import (
    AcceptPolicyOption,
    PurposeOption,
    ask_registration_consent,
)
from courtyard.client import (
    ApiError,
    AuthError,
    Client,
    ClientError,
    Profile,
    Session,
    StoredSession,
    SyncEvent,
    Unreachable,
)
from courtyard.client.profile import DEFAULT_PROFILE_DIR

DEFAULT_SERVER = "http://127.0.0.1:8470"
PASSWORD_ENV = "COURTYARD_PASSWORD"  # noqa: S105 (the name of a variable, not a password)
T = TypeVar("T")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        envvar="COURTYARD_PROFILE",
        help=f"Profile directory holding the session (default: {DEFAULT_PROFILE_DIR}).",
        show_default=False,
    ),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="COURTYARD_SERVER",
        help=f"Server URL (default: the profile's server, else {DEFAULT_SERVER}).",
        show_default=False,
    ),
]
DeviceNameOption = Annotated[
    str | None, typer.Option("--device-name", help="A name for this device in your device list.")
]

devices_app = typer.Typer(
    help="List, rename and remove the devices signed in to your account.",
    invoke_without_command=True,
)


@dataclass(frozen=True)
class Where:
    """The profile a command works on, the server it talks to, and the session if any."""

    profile: Profile
    server: str
    stored: StoredSession | None

    def signed_in(self) -> StoredSession:
        if self.stored is None:
            fail(f"not signed in with profile {self.profile.directory}; run `courtyard login`")
        return self.stored

    def client(self) -> Client:
        return Client(self.server, self.stored.access_token if self.stored else None)


def register_commands(app: typer.Typer) -> None:
    """Add the client verbs to the ``courtyard`` command."""
    app.command("register")(register)
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
    app.command("events")(events)
    app.add_typer(devices_app, name="devices")


# --- sessions ---------------------------------------------------------------------------


def register(
    username: Annotated[str, typer.Argument(help="The username you want.")],
    region: Annotated[
        str, typer.Option("--region", help="ISO 3166-1 alpha-2 country whose rules apply to you.")
    ],
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Your name as others see it.")
    ] = None,
    device_name: DeviceNameOption = None,
    accept_policy: AcceptPolicyOption = False,
    purpose: PurposeOption = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Create an account and sign this profile in as its first device, consenting to the
    privacy policy of your region (shown first)."""
    where = locate(profile, server)
    refuse_if_signed_in(where)
    password = read_password(confirm=True)
    region = region.upper()
    policy, purposes = run_sync(
        lambda: ask_registration_consent(
            out, where.server, region, accept=accept_policy, granted=purpose or ()
        )
    )

    async def work(client: Client) -> Session:
        return await client.register(
            username, password, display_name or username, region, device_name,
            policy_version_hash=policy.version_hash, purposes=purposes,
        )  # fmt: skip

    session = run(adopt(where, work))
    out.print(f"Registered {escape(session.username)} on {escape(where.server)}.")
    out.print(f"Session saved in {escape(str(where.profile.path))}.")


def login(
    username: Annotated[str, typer.Argument(help="Your username.")],
    device_name: DeviceNameOption = None,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Sign in: this profile becomes a new device of your account."""
    where = locate(profile, server)
    refuse_if_signed_in(where)
    password = read_password(confirm=False)

    async def work(client: Client) -> Session:
        return await client.login(username, password, device_name)

    session = run(adopt(where, work))
    out.print(f"Signed in as {escape(session.username)} (device {session.device_id}).")


def logout(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Sign this device out: the server forgets it and the local session is deleted."""
    where = locate(profile, server)
    stored = where.signed_in()

    async def work() -> bool:
        async with where.client() as client:
            try:
                await client.logout()
            except AuthError:
                return False  # already signed out elsewhere; forget it here too
        return True

    ended = run(work())
    run_sync(where.profile.clear)
    note = "" if ended else " (the server had already ended this session)"
    out.print(f"Signed out {escape(stored.username)}{note}.")


def whoami(profile: ProfileOption = None, server: ServerOption = None) -> None:
    """Show who this profile is signed in as."""
    where = locate(profile, server)
    where.signed_in()

    account = call(where, lambda client: client.whoami())
    rows = [
        ("username", account.username),
        ("display name", account.display_name),
        ("user id", account.user_id),
        ("region", account.region),
        ("device id", account.device_id),
        ("server", where.server),
    ]
    for label, value in rows:
        out.print(f"{label + ':':<14}{escape(value)}")


# --- devices ----------------------------------------------------------------------------


@devices_app.callback()
def devices(ctx: typer.Context, profile: ProfileOption = None, server: ServerOption = None) -> None:
    """List your devices (the default), or rename or remove one."""
    ctx.obj = (profile, server)
    if ctx.invoked_subcommand is None:
        list_devices(ctx)


@devices_app.command("list")
def list_devices(
    ctx: typer.Context, profile: ProfileOption = None, server: ServerOption = None
) -> None:
    """Show every device signed in to your account."""
    where = locate_in(ctx, profile, server)
    where.signed_in()

    table = Table("device id", "name", "signed in", "last seen", "", title="Your devices")
    table.columns[0].no_wrap = True
    for device in call(where, lambda client: client.devices()):
        table.add_row(
            device.device_id,
            escape(device.display_name),
            when(device.created_at),
            when(device.last_seen_at),
            "this device" if device.current else "",
        )
    out.print(table)


@devices_app.command("rename")
def rename_device(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="The device's id (see `courtyard devices`).")],
    name: Annotated[str, typer.Argument(help="Its new name.")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Give one of your devices a new name."""
    where = locate_in(ctx, profile, server)
    where.signed_in()

    device = call(where, lambda client: client.rename_device(device_id, name))
    out.print(f"Renamed {device.device_id} to {escape(device.display_name)}.")


@devices_app.command("remove")
def remove_device(
    ctx: typer.Context,
    device_id: Annotated[str, typer.Argument(help="The device's id (see `courtyard devices`).")],
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Sign one of your devices out remotely; its access stops at once."""
    where = locate_in(ctx, profile, server)
    stored = where.signed_in()

    call(where, lambda client: client.remove_device(device_id))
    if device_id == stored.device_id:
        run_sync(where.profile.clear)
        out.print(f"Removed {device_id}: that was this device, so this profile is signed out.")
    else:
        out.print(f"Removed {device_id}.")


# --- events -----------------------------------------------------------------------------


def events(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")
    ] = False,
    since: Annotated[
        int | None,
        typer.Option(min=0, help="Start after this position (default: after the last seen)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    poll: Annotated[
        bool, typer.Option("--poll", help="With --follow, long-poll instead of a WebSocket.")
    ] = False,
    profile: ProfileOption = None,
    server: ServerOption = None,
) -> None:
    """Print your sync events, and mark them seen for this device."""
    where = locate(profile, server)
    where.signed_in()

    async def drain() -> None:
        async with where.client() as client:
            position = since
            while True:
                batch, position = await client.sync_once(position)
                if not batch:
                    return  # asking once more acknowledged everything printed
                for event in batch:
                    show(event, as_json)

    async def follow_forever() -> None:
        async with where.client() as client:
            async for event in client.events(since, mode="poll" if poll else "auto"):
                show(event, as_json)

    run(follow_forever() if follow else drain())


def show(event: SyncEvent, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(event.to_wire(), sort_keys=True))
        return
    content = json.dumps(dict(event.content), sort_keys=True, ensure_ascii=False)
    typer.echo(f"{event.position:>8}  {when(event.created_at)}  {event.type:<18} {content}")


# --- plumbing ---------------------------------------------------------------------------


def locate(profile: Path | None, server: str | None) -> Where:
    """Resolve the profile and server; refuse to send a profile's token to another server."""
    store = Profile(profile or DEFAULT_PROFILE_DIR)
    stored = run_sync(store.load)
    server = server.rstrip("/") if server else None
    if server is not None and not server.startswith(("http://", "https://")):
        fail(f"--server must be an http:// or https:// URL, not {server}")
    if stored is not None and server is not None and server != stored.server.rstrip("/"):
        fail(
            f"profile {store.directory} is signed in to {stored.server}, not {server}; "
            "drop --server or use another --profile"
        )
    return Where(store, server or (stored.server if stored else DEFAULT_SERVER), stored)


def locate_in(ctx: typer.Context, profile: Path | None, server: str | None) -> Where:
    """Like ``locate``, taking options given to ``courtyard devices`` itself as fallbacks."""
    parent_profile, parent_server = ctx.obj if isinstance(ctx.obj, tuple) else (None, None)
    return locate(profile or parent_profile, server or parent_server)


def refuse_if_signed_in(where: Where) -> None:
    if where.stored is not None:
        fail(
            f"profile {where.profile.directory} is already signed in as "
            f"{where.stored.username}; run `courtyard logout` or use another --profile"
        )


def read_password(*, confirm: bool) -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password


async def adopt(where: Where, sign_in: Callable[[Client], Awaitable[Session]]) -> Session:
    """Sign in with ``sign_in(client)`` and save the session; undo the sign-in if saving fails."""
    async with Client(where.server) as client:
        session = await sign_in(client)
        try:
            where.profile.save(where.server, session)
        except ClientError:
            with contextlib.suppress(ClientError):
                await client.logout()
            raise
    return session


def when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def call(where: Where, action: Callable[[Client], Awaitable[T]]) -> T:
    """Make one SDK call with the profile's session; see ``run`` for errors."""

    async def work() -> T:
        async with where.client() as client:
            return await action(client)

    return run(work())


def run(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; any error the SDK raises becomes one line on stderr and exit status 1."""
    try:
        return asyncio.run(work)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except ClientError as exc:
        fail(describe(exc))


def run_sync(action: Callable[[], T]) -> T:
    try:
        return action()
    except ClientError as exc:
        fail(describe(exc))


def describe(exc: ClientError) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.code}: {exc.message}{first_field_problem(exc)}"
    if isinstance(exc, Unreachable):
        return f"cannot reach the server at {exc.url} ({exc.reason})"
    return str(exc)


def first_field_problem(exc: ApiError) -> str:
    """For a schema error, what is wrong with the first offending field."""
    problems = exc.extra.get("errors")
    if not isinstance(problems, list) or not problems or not isinstance(problems[0], dict):
        return ""
    location = ".".join(str(part) for part in problems[0].get("loc", []) if part != "body")
    return f" ({location}: {problems[0].get('msg', 'invalid')})"


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(1)
