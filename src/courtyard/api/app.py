"""The app factory: one FastAPI app around one ``Runtime``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from courtyard import __version__
from courtyard.admin import ConsoleServices, create_console
from courtyard.api.middleware import AccessLogMiddleware, BodyLimitMiddleware
from courtyard.api.problems import Problem, install_problem_handlers
from courtyard.api.routes import (
    accounts,
    audit,
    conversations,
    devices,
    keys,
    legal,
    media,
    ops,
    privacy_consent,
    privacy_data,
    privacy_rights,
    sync,
    to_device,
    transparency,
    users,
    wallet,
    wallet_bills,
    wallet_merchants,
    wallet_operations,
    wallet_payments,
    wallet_red_packets,
)
from courtyard.api.runtime import Runtime
from courtyard.core.clock import Clock
from courtyard.core.config import Settings
from courtyard.domains.legal import MAX_INTAKE_BYTES
from courtyard.domains.messaging import MegolmEnvelope
from courtyard.domains.todevice import OlmEnvelope
from courtyard.streams import Bus

# The console's lawful-request intake form (admin/views_legal_cases.py) uploads documents.
LEGAL_INTAKE_PATH = "/admin/legal/intake"
# Schemas referenced from documentation rather than from a route's own models.
EXTRA_COMPONENTS: tuple[type[BaseModel], ...] = (Problem, OlmEnvelope, MegolmEnvelope)
DESCRIPTION = """Courtyard's server API. The server stores and forwards; it cannot read your
messages. Errors are RFC 9457 problems (`application/problem+json`) with a stable `code`."""


def create_app(
    settings: Settings, *, clock: Clock | None = None, bus: Bus | None = None
) -> FastAPI:
    """Build the app; the lifespan connects the bus and starts jobs (schema must be migrated)."""
    runtime = Runtime.build(settings, clock=clock, bus=bus)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Courtyard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    for module in (
        ops, accounts, users, devices, keys, sync, to_device, media, conversations, wallet,
        wallet_operations, wallet_red_packets, wallet_bills, wallet_payments, wallet_merchants,
        transparency, privacy_data, privacy_consent, privacy_rights, audit, legal,
    ):  # fmt: skip
        app.include_router(module.router)
    # The operator console (HTML, outside the OpenAPI spec), on this node's services.
    console = ConsoleServices.build(
        runtime.db,
        runtime.clock,
        runtime.operator_sessions,
        runtime.due,
        runtime.wallet,
        runtime.operators,
        runtime.audit,
        runtime.legal,
        runtime.rights,
    )
    app.mount("/admin", create_console(console))
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # Uploads: attachments, and a lawful request's documents at the console's intake.
        streamed={media.UPLOAD_PATH: settings.max_media_bytes, LEGAL_INTAKE_PATH: MAX_INTAKE_BYTES},
    )
    app.add_middleware(AccessLogMiddleware, metrics=runtime.metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in EXTRA_COMPONENTS:
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
