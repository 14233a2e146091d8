"""The lawful-request desk's public side: the key that signs disclosure packages
(docs/legal-desk.md, "The package")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from courtyard.api.deps import RuntimeDep
from courtyard.api.problems import COMMON_PROBLEMS

router = APIRouter(prefix="/v1/legal", tags=["legal"], responses=COMMON_PROBLEMS)


@router.get("/keys")
async def get_legal_keys(runtime: RuntimeDep) -> dict[str, Any]:
    """The Ed25519 public key (raw, base64url) that signs the `manifest.json` of every
    disclosure package this server makes, with its `key_id` as the manifest names it. A
    recipient checks `manifest.sig` over `manifest.json` with it, then each file's SHA-256
    against the manifest. No token."""
    return {"keys": runtime.legal.published_keys()}
