"""Conversations: 1:1 and groups of up to 500, and their end-to-end encrypted timelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from courtyard.api.deps import CurrentIdentity, RuntimeDep
from courtyard.api.problems import AUTH_PROBLEMS, COMMON_PROBLEMS, problem_doc
from courtyard.core.wire import ID_PATTERN
from courtyard.domains.messaging import (
    ConversationOut,
    CreateConversation,
    HistoryOut,
    Invite,
    ReadReceipt,
    Rename,
    SendMessage,
    SentOut,
    SetRole,
    Typing,
)

router = APIRouter(
    prefix="/v1/conversations",
    tags=["conversations"],
    responses={
        **COMMON_PROBLEMS,
        **AUTH_PROBLEMS,
        403: problem_doc("Not a joined member, or your role does not allow it."),
        404: problem_doc("No such conversation (or you are not in it)."),
        409: problem_doc("Membership conflict, or the conversation is full."),
    },
)
ConversationId = Annotated[str, Path(pattern=ID_PATTERN)]
UserId = Annotated[str, Path(pattern=ID_PATTERN)]
Seq = Annotated[int, Path(ge=1, le=2**62)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConversationOut)
async def create_conversation(
    body: CreateConversation, identity: CurrentIdentity, runtime: RuntimeDep
) -> ConversationOut:
    """Start a 1:1 conversation (returns the existing one if there is one) or a group.

    In a group you are the owner and the others are invited until they join.
    """
    return await runtime.conversations.do_create(
        identity, body.kind, body.members, body.name,
        conversation_id=body.conversation_id, admission=body.admission,
    )  # fmt: skip


@router.get("", response_model=list[ConversationOut])
async def list_conversations(
    identity: CurrentIdentity, runtime: RuntimeDep
) -> list[ConversationOut]:
    """Your conversations and invitations, most recently active first."""
    return await runtime.conversations.get_conversations(identity)


@router.get("/{conversation_id}", response_model=ConversationOut)
async def get_conversation(
    conversation_id: ConversationId, identity: CurrentIdentity, runtime: RuntimeDep
) -> ConversationOut:
    """One conversation with its members and their roles."""
    return await runtime.conversations.access_conversation(identity, conversation_id)


@router.patch("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def rename_conversation(
    conversation_id: ConversationId, body: Rename, identity: CurrentIdentity, runtime: RuntimeDep
) -> None:
    """Rename a group (owner and admins). Group names are visible to the server."""
    await runtime.conversations.do_rename(identity, conversation_id, body.name)


@router.post("/{conversation_id}/members", status_code=status.HTTP_204_NO_CONTENT)
async def invite_members(
    conversation_id: ConversationId, body: Invite, identity: CurrentIdentity, runtime: RuntimeDep
) -> None:
    """Invite users to a group (owner and admins)."""
    await runtime.conversations.do_invite(identity, conversation_id, body.user_ids, body.admission)


@router.post("/{conversation_id}/join", status_code=status.HTTP_204_NO_CONTENT)
async def join_conversation(
    conversation_id: ConversationId, identity: CurrentIdentity, runtime: RuntimeDep
) -> None:
    """Accept an invitation; you see the conversation's messages from now on."""
    await runtime.conversations.do_join(identity, conversation_id)


@router.post("/{conversation_id}/leave", status_code=status.HTTP_204_NO_CONTENT)
async def leave_conversation(
    conversation_id: ConversationId, identity: CurrentIdentity, runtime: RuntimeDep
) -> None:
    """Leave a group, or decline its invitation."""
    await runtime.conversations.do_leave(identity, conversation_id)


@router.delete("/{conversation_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(
    conversation_id: ConversationId, user_id: UserId, identity: CurrentIdentity, runtime: RuntimeDep
) -> None:
    """Remove someone from a group (owner: anyone; admins: plain members)."""
    await runtime.conversations.do_remove(identity, conversation_id, user_id)


@router.put("/{conversation_id}/members/{user_id}/role", status_code=status.HTTP_204_NO_CONTENT)
async def set_role(
    conversation_id: ConversationId,
    user_id: UserId,
    body: SetRole,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
) -> None:
    """Make a member an admin, or a plain member again (owner only)."""
    await runtime.conversations.do_set_role(identity, conversation_id, user_id, body.role)


@router.post("/{conversation_id}/messages", response_model=SentOut)
async def send_message(
    conversation_id: ConversationId,
    body: SendMessage,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
) -> SentOut:
    """Send a Megolm-encrypted message; the server stores only the ciphertext.

    Retrying with the same `txn_id` returns the first result (`replayed: true`).
    """
    return await runtime.messages.do_send(identity, conversation_id, body.txn_id, body.content)


@router.get("/{conversation_id}/messages", response_model=HistoryOut)
async def history(
    conversation_id: ConversationId,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryOut:
    """A page of the timeline from your join on: the newest, or `before`/`after` a `seq`."""
    return await runtime.messages.get_history(
        identity, conversation_id, before=before, after=after, limit=limit
    )


@router.post("/{conversation_id}/messages/{seq}/recall", status_code=status.HTTP_204_NO_CONTENT)
async def recall_message(
    conversation_id: ConversationId, seq: Seq, identity: CurrentIdentity, runtime: RuntimeDep
) -> None:
    """Recall your own message within 2 minutes; its ciphertext is deleted for everyone."""
    await runtime.messages.do_recall(identity, conversation_id, seq)


@router.post("/{conversation_id}/read", status_code=status.HTTP_204_NO_CONTENT)
async def mark_read(
    conversation_id: ConversationId,
    body: ReadReceipt,
    identity: CurrentIdentity,
    runtime: RuntimeDep,
) -> None:
    """Mark the timeline read up to `seq`; the other members see the receipt."""
    await runtime.messages.do_mark_read(identity, conversation_id, body.seq)


@router.post("/{conversation_id}/typing", status_code=status.HTTP_204_NO_CONTENT)
async def typing(
    conversation_id: ConversationId, body: Typing, identity: CurrentIdentity, runtime: RuntimeDep
) -> None:
    """Say that you started or stopped typing (send at most every few seconds)."""
    await runtime.messages.do_typing(identity, conversation_id, body.typing)
