"""``courtyard app``: serve the local device app for one profile on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from courtyard.app import bind, create_device_app, quiet_sdk_logs, serve
from courtyard.cli.client_verbs import ProfileOption, ServerOption, err, locate, out


def device_app(
    profile: ProfileOption = None,
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0: any free port).")] = 0,
    server: ServerOption = None,
) -> None:
    """Open this profile in your browser: a local web app on 127.0.0.1, with a one-time link."""
    where = locate(profile, server)
    quiet_sdk_logs()
    try:
        sock = bind(port)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot listen on 127.0.0.1:{port}: {exc.strerror}")
        raise typer.Exit(1) from None
    app = create_device_app(Path(where.profile.directory), where.server, sock.getsockname()[1])
    out.print(f"Courtyard device app for {where.profile.directory} (server {where.server})")
    out.print(f"Open: {app.url}", soft_wrap=True)
    out.print("The link works for this launch only. Press Ctrl-C to stop.")
    try:
        asyncio.run(serve(app.asgi, sock))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
