"""Health, readiness and metrics for whoever runs the node."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from courtyard import __version__
from courtyard.api.deps import RuntimeDep

router = APIRouter(tags=["operations"])
READY_TIMEOUT_SECONDS = 3.0


class Health(BaseModel):
    status: str
    version: str


class Readiness(BaseModel):
    status: str
    database: str
    bus: str


@router.get("/health", response_model=Health)
async def health() -> Health:
    """The process is up and serving HTTP."""
    return Health(status="ok", version=__version__)


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """The node can serve traffic: its database and bus both answer."""
    database = await _probe(runtime.db.ping())
    bus = await _probe(runtime.bus.ping())
    ok = database == "ok" and bus == "ok"
    body = Readiness(status="ok" if ok else "unavailable", database=database, bus=bus)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


async def _probe(check: object) -> str:
    try:
        await asyncio.wait_for(check, READY_TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus metrics of this node."""
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
