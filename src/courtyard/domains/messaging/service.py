"""Conversations: create, list, invite, join, leave, remove, rename, roles.

Each ``do_*`` is one transaction that first locks the conversation row (``Timeline.lock``),
checks the caller's role inside it, changes membership, writes one timeline event per change
and fans it out to everyone concerned.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from courtyard.core.clock import Clock
from courtyard.core.errors import InvalidInput
from courtyard.core.ids import new_id
from courtyard.db import Database, Tx
from courtyard.domains.accounts import Identity, existing_users, get_profiles
from courtyard.domains.messaging.errors import (
    ConversationExists,
    ConversationFull,
    ConversationNotFound,
    InvalidAdmission,
    InvalidMembership,
    NotAllowed,
    NotAMember,
    UnknownUser,
)
from courtyard.domains.messaging.models import (
    Conversation,
    DirectPair,
    Member,
    UserConversation,
)
from courtyard.domains.messaging.schemas import (
    MAX_MEMBERS,
    Admission,
    ConversationOut,
    MemberOut,
)
from courtyard.domains.messaging.timeline import Timeline

ADMINS = frozenset({"owner", "admin"})


class ConversationsService:
    def __init__(self, db: Database, timeline: Timeline, clock: Clock) -> None:
        self.db = db
        self.timeline = timeline
        self.clock = clock

    # --- reads ---------------------------------------------------------------------------

    async def get_conversations(self, identity: Identity) -> list[ConversationOut]:
        """The caller's conversations (joined or invited), newest activity first."""
        async with self.db.read() as session:
            ids = list(
                await session.scalars(
                    select(UserConversation.conversation_id).where(
                        UserConversation.user_id == identity.user_id
                    )
                )
            )
            if not ids:
                return []
            conversations = list(
                await session.scalars(
                    select(Conversation).where(Conversation.conversation_id.in_(ids))
                )
            )
            members = list(
                await session.scalars(select(Member).where(Member.conversation_id.in_(ids)))
            )
            names = await get_profiles(session, {m.user_id for m in members})
        by_conversation: dict[str, list[Member]] = {}
        for member in members:
            by_conversation.setdefault(member.conversation_id, []).append(member)
        out = [_out(c, by_conversation.get(c.conversation_id, []), names) for c in conversations]
        return sorted(out, key=lambda c: (c.last_seq, c.created_at), reverse=True)

    async def access_conversation(
        self, identity: Identity, conversation_id: str
    ) -> ConversationOut:
        """The conversation if the caller is a member (joined or invited); else not found."""
        async with self.db.read() as session:
            conversation = await session.get(Conversation, conversation_id)
            members = list(
                await session.scalars(
                    select(Member).where(Member.conversation_id == conversation_id)
                )
            )
            names = await get_profiles(session, {m.user_id for m in members})
        if conversation is None or identity.user_id not in {m.user_id for m in members}:
            raise ConversationNotFound()
        return _out(conversation, members, names)

    # --- creation ------------------------------------------------------------------------

    async def do_create(
        self,
        identity: Identity,
        kind: str,
        members: list[str],
        name: str | None,
        *,
        conversation_id: str | None = None,
        admission: Admission | None = None,
    ) -> ConversationOut:
        """Create a direct conversation (both joined; the existing one is returned if there
        is one) or a group (caller is owner; the others are invited).

        A group's creator may choose its id and sign the admission of every founding member,
        which the members' devices check before sharing keys.
        """
        others = sorted(set(members) - {identity.user_id})
        if kind == "direct":
            if len(others) != 1 or name is not None:
                raise InvalidInput(
                    "A direct conversation has exactly one other member and no name."
                )
            return await self._create_direct(identity, others[0])
        if not others:
            raise InvalidInput("A group needs at least one other member.")
        if len(others) + 1 > MAX_MEMBERS:
            raise ConversationFull()
        conversation_id = conversation_id or new_id()
        signed = _check_admission(
            admission, identity, conversation_id, "create", [identity.user_id, *others]
        )
        return await self._create_group(
            identity, conversation_id, others, _clean_name(name), signed
        )

    async def _create_direct(self, identity: Identity, other: str) -> ConversationOut:
        pair_key = ":".join(sorted([identity.user_id, other]))
        async with self.db.read() as session:
            existing = await session.get(DirectPair, pair_key)
        if existing is None:
            try:
                async with self.db.transaction() as tx:
                    await _check_users(tx, {other})
                    conversation_id = await self._new_conversation(
                        tx, new_id(), "direct", identity, None
                    )
                    tx.session.add(DirectPair(pair_key=pair_key, conversation_id=conversation_id))
                    await tx.session.flush()
                    for user_id in (identity.user_id, other):
                        await self._join(
                            tx, conversation_id, user_id, "member", identity, founding=True
                        )
            except IntegrityError:
                pass  # created concurrently by the other side: use theirs
            async with self.db.read() as session:
                existing = await session.get(DirectPair, pair_key)
        assert existing is not None
        return await self.access_conversation(identity, existing.conversation_id)

    async def _create_group(
        self,
        identity: Identity,
        conversation_id: str,
        others: list[str],
        name: str | None,
        admission: dict[str, object] | None,
    ) -> ConversationOut:
        try:
            async with self.db.transaction() as tx:
                await _check_users(tx, set(others))
                await self._new_conversation(tx, conversation_id, "group", identity, name)
                await self._join(
                    tx, conversation_id, identity.user_id, "owner", identity,
                    founding=True, admission=admission,
                )  # fmt: skip
                await self._invite(tx, conversation_id, others, identity, admission)
        except IntegrityError:
            raise ConversationExists() from None
        return await self.access_conversation(identity, conversation_id)

    async def _new_conversation(
        self, tx: Tx, conversation_id: str, kind: str, identity: Identity, name: str | None
    ) -> str:
        tx.session.add(
            Conversation(
                conversation_id=conversation_id,
                kind=kind,
                name=name,
                created_by=identity.user_id,
                created_at=self.clock.now(),
                last_seq=0,
            )
        )
        await tx.session.flush()
        seq = await self.timeline.lock_next_seq(tx, conversation_id)
        await self.timeline.write(
            tx, conversation_id, seq, "m.create", (identity.user_id, identity.device_id),
            {"kind": kind, "name": name, "creator": identity.user_id}, [identity.user_id],
        )  # fmt: skip
        return conversation_id

    # --- membership ----------------------------------------------------------------------

    async def do_invite(
        self,
        identity: Identity,
        conversation_id: str,
        user_ids: list[str],
        admission: Admission | None = None,
    ) -> None:
        """Invite users to a group (owner or admin); they join when they accept."""
        signed = _check_admission(admission, identity, conversation_id, "invite", user_ids)
        async with self.db.transaction() as tx:
            conversation, me = await self._lock_as_member(tx, identity, conversation_id)
            if conversation.kind != "group" or me.role not in ADMINS:
                raise NotAllowed("Only a group's owner and admins can invite.")
            members = {
                m.user_id
                for m in await self.timeline.members(tx, conversation_id, joined_only=False)
            }
            new = sorted(set(user_ids) - members)
            if len(members) + len(new) > MAX_MEMBERS:
                raise ConversationFull(f"A conversation has at most {MAX_MEMBERS} members.")
            await _check_users(tx, set(new))
            if new:
                await self._invite(tx, conversation_id, new, identity, signed)

    async def do_join(self, identity: Identity, conversation_id: str) -> None:
        """Accept an invitation."""
        async with self.db.transaction() as tx:
            await self.timeline.lock(tx, conversation_id)
            member = await tx.session.get(Member, (conversation_id, identity.user_id))
            if member is None:
                raise ConversationNotFound()
            if member.state != "invited":
                raise InvalidMembership("You have already joined.")
            admission = member.admission  # the invitation's signed say-so carries over
            await tx.session.delete(member)
            await tx.session.flush()
            await self._join(
                tx, conversation_id, identity.user_id, "member", identity, admission=admission
            )

    async def do_leave(self, identity: Identity, conversation_id: str) -> None:
        """Leave a group (or decline its invitation); an owner hands ownership on first."""
        async with self.db.transaction() as tx:
            conversation, me = await self._lock_as_member(
                tx, identity, conversation_id, invited_ok=True
            )
            if conversation.kind == "direct":
                raise InvalidMembership("You cannot leave a direct conversation.")
            await self._drop(tx, conversation_id, identity.user_id, identity, "leave")
            if me.role == "owner":
                await self._hand_over_ownership(tx, conversation_id, identity)

    async def do_remove(self, identity: Identity, conversation_id: str, user_id: str) -> None:
        """Remove a member: the owner may remove anyone else, admins only plain members."""
        async with self.db.transaction() as tx:
            conversation, me = await self._lock_as_member(tx, identity, conversation_id)
            target = await tx.session.get(Member, (conversation_id, user_id))
            if target is None or conversation.kind == "direct" or user_id == identity.user_id:
                raise InvalidMembership("That user cannot be removed from this conversation.")
            allowed = me.role == "owner" or (me.role == "admin" and target.role == "member")
            if not allowed:
                raise NotAllowed("Your role does not allow removing this member.")
            await self._drop(tx, conversation_id, user_id, identity, "remove")

    async def do_rename(self, identity: Identity, conversation_id: str, name: str) -> None:
        """Rename a group (owner or admin)."""
        name = _clean_name(name) or ""
        async with self.db.transaction() as tx:
            conversation, me = await self._lock_as_member(tx, identity, conversation_id)
            if conversation.kind != "group" or me.role not in ADMINS:
                raise NotAllowed("Only a group's owner and admins can rename it.")
            await tx.session.execute(
                update(Conversation)
                .where(Conversation.conversation_id == conversation_id)
                .values(name=name)
            )
            await self._announce(tx, conversation_id, identity, "m.name", {"name": name})

    async def do_set_role(
        self, identity: Identity, conversation_id: str, user_id: str, role: str
    ) -> None:
        """Make a joined member an admin or a plain member again (owner only)."""
        async with self.db.transaction() as tx:
            _conversation, me = await self._lock_as_member(tx, identity, conversation_id)
            target = await tx.session.get(Member, (conversation_id, user_id))
            if me.role != "owner":
                raise NotAllowed("Only the owner can change roles.")
            if target is None or target.state != "joined" or target.role == "owner":
                raise InvalidMembership("Roles can be changed only for joined non-owners.")
            target.role = role
            await self._announce(
                tx, conversation_id, identity, "m.role", {"user_id": user_id, "role": role}
            )

    # --- internals -----------------------------------------------------------------------

    async def _lock_as_member(
        self, tx: Tx, identity: Identity, conversation_id: str, *, invited_ok: bool = False
    ) -> tuple[Conversation, Member]:
        conversation = await self.timeline.lock(tx, conversation_id)
        me = await tx.session.get(Member, (conversation_id, identity.user_id))
        if me is None:
            raise ConversationNotFound()
        if me.state != "joined" and not invited_ok:
            raise NotAMember()
        return conversation, me

    async def _announce(
        self,
        tx: Tx,
        conversation_id: str,
        identity: Identity,
        type_: str,
        content: dict[str, object],
        extra_audience: tuple[str, ...] = (),
    ) -> int:
        """Write one event at the next seq for every member (and ``extra_audience``)."""
        seq = await self.timeline.lock_next_seq(tx, conversation_id)
        audience = [
            m.user_id for m in await self.timeline.members(tx, conversation_id, joined_only=False)
        ]
        await self.timeline.write(
            tx, conversation_id, seq, type_, (identity.user_id, identity.device_id), dict(content),
            [*audience, *extra_audience],
        )  # fmt: skip
        return seq

    async def _join(
        self, tx: Tx, conversation_id: str, user_id: str, role: str, by: Identity,
        *, founding: bool = False, admission: dict[str, object] | None = None,
    ) -> None:  # fmt: skip
        tx.session.add(
            Member(
                conversation_id=conversation_id, user_id=user_id, state="joined", role=role,
                since_seq=0, read_seq=0, invited_by=None, admission=admission,
                updated_at=self.clock.now(),
            )
        )  # fmt: skip
        await _index(tx, user_id, conversation_id, "joined")
        await tx.session.flush()
        joined = {"user_id": user_id, "membership": "join", "role": role}
        seq = await self._announce(tx, conversation_id, by, "m.member", dict(joined))
        # History starts at the member's own join event; founders see it from the start.
        await tx.session.execute(
            update(Member)
            .where(Member.conversation_id == conversation_id, Member.user_id == user_id)
            .values(since_seq=1 if founding else seq)
        )

    async def _invite(
        self,
        tx: Tx,
        conversation_id: str,
        user_ids: list[str],
        by: Identity,
        admission: dict[str, object] | None,
    ) -> None:
        """Invite several users with ONE timeline event, so inviting n people costs n stream
        rows per member instead of n² in all."""
        for user_id in user_ids:
            tx.session.add(
                Member(
                    conversation_id=conversation_id, user_id=user_id, state="invited",
                    role="member", since_seq=0, read_seq=0, invited_by=by.user_id,
                    admission=admission, updated_at=self.clock.now(),
                )
            )  # fmt: skip
            await _index(tx, user_id, conversation_id, "invited")
        await tx.session.flush()
        await self._announce(
            tx, conversation_id, by, "m.member", {"user_ids": user_ids, "membership": "invite"}
        )

    async def _drop(
        self, tx: Tx, conversation_id: str, user_id: str, by: Identity, membership: str
    ) -> None:
        await tx.session.execute(
            delete(Member).where(
                Member.conversation_id == conversation_id, Member.user_id == user_id
            )
        )
        await tx.session.execute(
            delete(UserConversation).where(
                UserConversation.user_id == user_id,
                UserConversation.conversation_id == conversation_id,
            )
        )
        await self._announce(
            tx, conversation_id, by, "m.member", {"user_id": user_id, "membership": membership},
            extra_audience=(user_id,),
        )  # fmt: skip

    async def _hand_over_ownership(self, tx: Tx, conversation_id: str, by: Identity) -> None:
        joined = await self.timeline.members(tx, conversation_id, joined_only=True)
        heir = next((m for m in joined if m.role == "admin"), joined[0] if joined else None)
        if heir is None:
            return
        heir.role = "owner"
        await self._announce(
            tx, conversation_id, by, "m.role", {"user_id": heir.user_id, "role": "owner"}
        )


async def _index(tx: Tx, user_id: str, conversation_id: str, state: str) -> None:
    row = await tx.session.get(UserConversation, (user_id, conversation_id))
    if row is None:
        tx.session.add(
            UserConversation(user_id=user_id, conversation_id=conversation_id, state=state)
        )
    else:
        row.state = state


async def _check_users(tx: Tx, user_ids: set[str]) -> None:
    missing = user_ids - await existing_users(tx.session, user_ids)
    if missing:
        raise UnknownUser(f"No such user: {', '.join(sorted(missing))}")


def _check_admission(
    admission: Admission | None,
    identity: Identity,
    conversation_id: str,
    action: str,
    user_ids: list[str],
) -> dict[str, object] | None:
    """The admission to store, if it says exactly what this request does (its signature is
    for the members' devices to check: they do not trust the server)."""
    if admission is None:
        return None
    if (
        admission.conversation_id != conversation_id
        or admission.action != action
        or admission.by_user != identity.user_id
        or admission.by_device != identity.device_id
        or sorted(set(admission.user_ids)) != sorted(set(user_ids))
    ):
        raise InvalidAdmission()
    return admission.model_dump()


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 64:
        raise InvalidInput("A conversation name has 1 to 64 characters.")
    return cleaned


def _out(
    conversation: Conversation, members: list[Member], names: dict[str, tuple[str, str]]
) -> ConversationOut:
    return ConversationOut(
        conversation_id=conversation.conversation_id,
        kind=conversation.kind,
        name=conversation.name,
        created_by=conversation.created_by,
        created_at=conversation.created_at,
        last_seq=conversation.last_seq,
        members=[
            MemberOut(
                user_id=m.user_id,
                admission=m.admission,
                username=names.get(m.user_id, ("", ""))[0],
                display_name=names.get(m.user_id, ("", ""))[1],
                state=m.state,
                role=m.role,
            )
            for m in sorted(members, key=lambda m: m.user_id)
        ],
    )
