"""The audit log's public face: signed tree heads, the keys that sign them, and consistency
proofs between them (docs/audit-log.md, "API"). No token: anyone may audit. Entries are not
public; they name users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from courtyard.api.deps import RuntimeDep
from courtyard.api.problems import COMMON_PROBLEMS, problem_doc
from courtyard.domains.audit import SignedHead

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=COMMON_PROBLEMS)
MAX_TREE_SIZE = 2**62  # beyond any real log; larger numbers would overflow the database's BIGINT
HEADS_PAGE = 100
SIZE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: problem_doc(
        "invalid_tree_size: first must be at least 1, at most second, and second at most the "
        "latest signed tree size."
    ),
}


class TreeHeadOut(BaseModel):
    tree_size: int = Field(description="How many entries the signed tree holds.")
    root_hash: str = Field(description="The RFC 6962 Merkle root, 64 hex digits.")
    signed_at: str = Field(description="When it was signed: UTC, ISO 8601 with microseconds.")
    key_id: str = Field(description="Which key signed it (see /v1/audit/keys).")
    signature: str = Field(
        description="Ed25519 over the v1 message (docs/audit-log.md), standard base64."
    )

    @classmethod
    def of(cls, head: SignedHead) -> TreeHeadOut:
        return cls.model_validate(head.as_json())


class AuditKeyOut(BaseModel):
    key_id: str = Field(description="The first 16 hex digits of SHA-256 of the public key.")
    algorithm: str = Field(description="Always ed25519.")
    public_key: str = Field(description="The raw 32-byte public key, standard base64.")


class AuditKeysOut(BaseModel):
    keys: list[AuditKeyOut] = Field(description="The current key first.")


class ConsistencyOut(BaseModel):
    first: int
    second: int
    proof: list[str] = Field(description="RFC 6962 consistency proof, hex hashes in order.")


class TreeHeadsOut(BaseModel):
    heads: list[TreeHeadOut] = Field(description="Oldest first.")
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null when this page is the last."
    )


@router.get(
    "/tree-head",
    response_model=TreeHeadOut,
    responses={404: problem_doc("no_tree_head: nothing has been signed yet.")},
)
async def get_tree_head(runtime: RuntimeDep) -> TreeHeadOut:
    """The latest signed tree head of the audit log. Keep it: a later head must be consistent
    with it (`/v1/audit/consistency`), or the log was rewritten."""
    return TreeHeadOut.of(await runtime.audit.access_latest_head())


@router.get("/keys", response_model=AuditKeysOut)
async def get_keys(runtime: RuntimeDep) -> AuditKeysOut:
    """The Ed25519 public keys that sign tree heads, the current one first."""
    return AuditKeysOut.model_validate({"keys": runtime.audit.published_keys()})


@router.get("/consistency", response_model=ConsistencyOut, responses=SIZE_PROBLEMS)
async def get_consistency(
    runtime: RuntimeDep,
    first: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE, description="The older tree size.")],
    second: Annotated[int, Query(ge=1, le=MAX_TREE_SIZE, description="The newer tree size.")],
) -> ConsistencyOut:
    """Proof that the log of size `first` is a prefix of the log of size `second`: every
    entry the older head covered is still there, unchanged, in the same order."""
    proof = await runtime.audit.get_consistency_proof(first, second)
    return ConsistencyOut(first=first, second=second, proof=[h.hex() for h in proof])


@router.get("/tree-heads", response_model=TreeHeadsOut)
async def get_tree_heads(
    runtime: RuntimeDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_TREE_SIZE, description="Heads with a larger tree size.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=HEADS_PAGE, description="Page size.")] = HEADS_PAGE,
) -> TreeHeadsOut:
    """Every signed tree head, oldest first, a page at a time."""
    heads = await runtime.audit.get_heads(after, limit)
    return TreeHeadsOut(
        heads=[TreeHeadOut.of(head) for head in heads],
        next_after=heads[-1].tree_size if len(heads) == limit else None,
    )
