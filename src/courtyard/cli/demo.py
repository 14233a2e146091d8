"""``courtyard demo``: a ready-to-try server on SQLite with demo accounts (``make run``),
and a device app for each of alice and bob, signed in and already sharing a 1:1 chat."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from courtyard.cli.server import settings_or_exit
from courtyard.core.config import Settings
from courtyard.core.logging import configure_logging
from courtyard.core.money import Money

if TYPE_CHECKING:  # the device app and SDK load only when the demo runs
    from courtyard.app import DeviceApp
    from courtyard.client.messenger import Messenger

console = Console()
DEMO_PASSWORD = "courtyard demo password"  # noqa: S105 - printed for the demo on purpose
DEMO_PASSPHRASE = "courtyard demo passphrase"  # noqa: S105 - the demo devices' store key
DEMO_PIN = "246810"  # the demo accounts' payment PIN, printed like the password
DEMO_TOP_UP = "500.00"
FIRST_MESSAGE = "Hi Bob! This chat is end-to-end encrypted: the server cannot read it."
DEMO_USERS = [("alice", "Alice", "DE"), ("bob", "Bob", "CN")]
# Billers to pay in the demo: name, category, currency, reference pattern and hint, bounds.
DEMO_BILLERS = [
    ("City Power", "utilities", "CNY", "^[0-9]{10}$", "the 10-digit meter number",
     "1.00", "5000.00"),
    ("Courtyard Mobile", "phone", "CNY", "^1[3-9][0-9]{9}$", "an 11-digit mobile number",
     "10.00", "1000.00"),
]  # fmt: skip


async def seed(settings: Settings) -> list[str]:
    """Create the demo accounts that do not exist yet, and the demo billers if there are no
    billers; return the names created."""
    from courtyard.api.runtime import Runtime
    from courtyard.domains.accounts import UsernameTaken
    from courtyard.domains.wallet.billers import BillerSpec

    runtime = Runtime.build(settings)
    created = []
    try:
        await runtime.consent.policies.do_publish_at_start()  # as the server will when it starts
        for username, display_name, region in DEMO_USERS:
            # The demo accounts accept their region's policy and every purpose the service and
            # the wallet need (bob is in CN: cross-border transfer, payment data), not marketing.
            policy = await runtime.consent.access_policy_for_country(region)
            purposes = {name: p["gates"] != "none" for name, p in policy.purposes.items()}
            try:
                await runtime.accounts.do_register(
                    username, DEMO_PASSWORD, display_name, region, "Demo seed",
                    policy_version_hash=policy.version_hash, purposes=purposes,
                )  # fmt: skip
                created.append(username)
            except UsernameTaken:
                pass
        if not await runtime.wallet.billers.billers(enabled_only=False):
            for fields in DEMO_BILLERS:
                await runtime.wallet.billers.do_create_biller(BillerSpec(*fields))
                created.append(fields[0])
    finally:
        await runtime.db.dispose()
    return created


def demo(
    port: Annotated[
        int, typer.Option(help="TCP port of the API (device apps: the next two).")
    ] = 8470,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Demo state.")] = Path("var/demo"),
) -> None:
    """Start a server on SQLite with demo accounts, and device apps for alice and bob."""
    from courtyard.app import quiet_sdk_logs
    from courtyard.db.migrate import upgrade

    settings = settings_or_exit(data_dir=data_dir, port=port, log_format="text")
    configure_logging(settings.log_level, settings.log_format)
    quiet_sdk_logs()
    upgrade(settings.database_url)
    created = asyncio.run(seed(settings))
    if created:
        console.print(f"created for the demo: {', '.join(created)}")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_demo(settings, data_dir))
    except OSError as exc:
        ports = f"{port}-{port + len(DEMO_USERS)}"
        console.print(
            f"[red]error:[/red] cannot listen on 127.0.0.1 ports {ports}: {exc.strerror}. "
            "Stop what uses them, or pick others with --port."
        )
        raise typer.Exit(1) from None


async def run_demo(settings: Settings, data_dir: Path) -> None:
    """Serve the API and both device apps in this event loop until Ctrl-C."""
    from courtyard.api import create_app
    from courtyard.app import bind, create_device_app, serve

    base = f"http://{settings.host}:{settings.port}"
    sockets: list[socket.socket] = []
    try:
        sockets.append(_listen(settings.host, settings.port))
        sockets += [bind(settings.port + offset) for offset in range(1, len(DEMO_USERS) + 1)]
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    apps: list[DeviceApp] = []
    for offset, (username, _, _) in enumerate(DEMO_USERS, start=1):
        profile = data_dir / "profiles" / username
        apps.append(create_device_app(profile, base, sockets[offset].getsockname()[1]))
    api_started = asyncio.Event()
    tasks = [asyncio.create_task(serve(create_app(settings), sockets[0], api_started))]
    try:
        await api_started.wait()
        for app, (username, _, _) in zip(apps, DEMO_USERS, strict=True):
            await _sign_in(app, username)
        await _first_chat(apps[0], apps[1])
        for app in apps:
            await _fill_wallet(app)
        tasks += [
            asyncio.create_task(serve(app.asgi, sock))
            for app, sock in zip(apps, sockets[1:], strict=True)
        ]
        _print_table(settings, base, apps)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for app in apps:
            await app.aclose()
        for sock in sockets:
            sock.close()


async def _sign_in(app: DeviceApp, username: str) -> None:
    """Unlock the demo profile, or sign it in (again, if the server forgot its session); a
    demo account accepts a newer privacy policy on the way."""
    from courtyard.client import AuthError, ConsentRequired

    device = app.device
    stored = device.stored()
    if stored is not None and stored.server.rstrip("/") != device.server:
        device.profile.clear()  # the demo moved to another port
    elif stored is not None:
        try:
            await _unlock(app)
            return
        except AuthError:
            device.profile.clear()
    try:
        await device.sign_in(username, DEMO_PASSWORD, DEMO_PASSPHRASE)
    except ConsentRequired:  # signed in, but the policy changed since the demo last ran
        await _unlock(app)


async def _unlock(app: DeviceApp) -> None:
    from courtyard.client import ConsentRequired

    try:
        await app.device.unlock(DEMO_PASSPHRASE)
    except ConsentRequired:
        async with app.device.account_client() as client:
            state = await client.privacy.consent_state()
            granted = {p.purpose: p.granted or p.gates != "none" for p in state.purposes}
            await client.privacy.consent(state.current_version_hash, granted)
        app.device.consent.given()
        console.print(f"accepted version {state.current_version} of the privacy policy (demo)")
        await app.device.unlock(DEMO_PASSPHRASE)


async def _first_chat(alice: DeviceApp, bob: DeviceApp) -> None:
    """Make sure alice and bob share a 1:1 conversation with a first message in it."""
    bob_id = bob.device.require().user_id

    async def ensure(m: Messenger) -> None:
        for c in await m.conversations():
            if c.kind == "direct" and bob_id in c.joined:
                return
        conversation = await m.create_conversation([bob_id])
        await m.send_text(conversation.conversation_id, FIRST_MESSAGE)

    await alice.device.use(ensure)


async def _fill_wallet(app: DeviceApp) -> None:
    """Give a demo account its payment PIN and, while its CNY balance is zero, a sandbox
    top-up of 500.00 CNY, so transfers and red packets work at once."""

    async def fill(m: Messenger) -> None:
        overview = await m.client.wallet.overview()
        if not overview.pin_set:
            await m.client.wallet.set_pin(DEMO_PIN, password=DEMO_PASSWORD)
        if await m.client.wallet.balance("CNY") == Money(0, "CNY"):
            await m.client.wallet.topup(DEMO_TOP_UP, "CNY")

    await app.device.use(fill)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _print_table(settings: Settings, base: str, apps: list[DeviceApp]) -> None:
    table = Table(title="Courtyard demo", show_header=False)
    table.add_row("API", base)
    table.add_row("API docs", f"{base}/docs")
    table.add_row("Health", f"{base}/health")
    for username, _, _ in DEMO_USERS:
        table.add_row(f"{username}'s device app", "see the link below")
    table.add_row(
        "Accounts", ", ".join(u for u, _, _ in DEMO_USERS) + f" (password: {DEMO_PASSWORD!r})"
    )
    table.add_row("Device passphrase", repr(DEMO_PASSPHRASE))
    table.add_row("Payment PIN", f"{DEMO_PIN!r} (each account starts with {DEMO_TOP_UP} CNY)")
    table.add_row("Database", settings.database_url)
    table.add_row("Try", f"courtyard login --server {base} --profile var/demo/alice")
    console.print(table)
    for app, (username, _, _) in zip(apps, DEMO_USERS, strict=True):
        console.print(f"{username}'s device app: {app.url}", soft_wrap=True, highlight=False)
    console.print("Open the two device-app links in your browser. Ctrl-C stops everything.")
