"""``courtyard sandbox-provider``: run the simulated payment provider, or change its defaults."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from fastapi import FastAPI
from rich.console import Console

from courtyard.sandbox.app import create_sandbox_app
from courtyard.sandbox.client import (
    ControlOptions,
    ProviderDefaults,
    SandboxProviderClient,
    SandboxProviderError,
)

console = Console(stderr=True)
sandbox_app = typer.Typer(
    help="The sandbox payment provider (demos and tests).", no_args_is_help=True
)
DB_FILE = "sandbox-provider.db"
DEFAULT_PORT = 8471

ApiKeyOption = Annotated[
    str, typer.Option("--api-key", envvar="COURTYARD_SANDBOX_API_KEY", help="Bearer API key.")
]
OutcomeChoice = Literal["succeed", "fail", "never", "wait_for_payer"]


def build_app(data_dir: Path, api_key: str, secret: str, public_url: str | None) -> FastAPI:
    """The sandbox app on ``data_dir/sandbox-provider.db`` (creating the directory)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return create_sandbox_app(
        data_dir / DB_FILE, api_key=api_key, callback_secret=secret, public_url=public_url
    )


@sandbox_app.command("serve")
def serve(
    api_key: ApiKeyOption,
    secret: Annotated[
        str,
        typer.Option(
            "--secret", envvar="COURTYARD_SANDBOX_SECRET", help="Callback signing secret."
        ),
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = DEFAULT_PORT,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where sandbox-provider.db lives.")
    ] = Path("var"),
    public_url: Annotated[
        str | None,
        typer.Option("--public-url", help="Base of pay_url links (default: as requested)."),
    ] = None,
) -> None:
    """Serve the sandbox provider until interrupted."""
    import uvicorn

    app = build_app(data_dir, api_key, secret, public_url)
    console.print(f"Sandbox provider on http://{host}:{port} (API docs at /docs)")
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")


@sandbox_app.command("control")
def control(
    api_key: ApiKeyOption,
    url: Annotated[str, typer.Option("--url", help="The provider's base URL.")] = (
        f"http://127.0.0.1:{DEFAULT_PORT}"
    ),
    outcome: Annotated[
        OutcomeChoice | None, typer.Option(help="Outcome of new operations.")
    ] = None,
    delay_ms: Annotated[
        int | None, typer.Option("--delay-ms", min=0, help="Delay before settling.")
    ] = None,
    fail_rate: Annotated[
        float | None,
        typer.Option("--fail-rate", min=0.0, max=1.0, help="Probability that one fails."),
    ] = None,
    drop_callbacks: Annotated[
        bool | None,
        typer.Option("--drop-callbacks/--send-callbacks", help="Settle without sending callbacks."),
    ] = None,
) -> None:
    """Change the defaults for operations created from now on; print them all."""
    options = ControlOptions()
    if outcome is not None:
        options["outcome"] = outcome
    if delay_ms is not None:
        options["delay_ms"] = delay_ms
    if fail_rate is not None:
        options["fail_rate"] = fail_rate
    if drop_callbacks is not None:
        options["drop_callbacks"] = drop_callbacks
    try:
        defaults = asyncio.run(_control(url, api_key, options))
    except SandboxProviderError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(dataclasses.asdict(defaults), indent=2))


async def _control(url: str, api_key: str, options: ControlOptions) -> ProviderDefaults:
    async with SandboxProviderClient(url, api_key) as client:
        return await client.control(**options)
