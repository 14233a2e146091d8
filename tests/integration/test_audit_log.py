"""The audit log on a real database: gap-free positions under concurrent appends, signed
tree heads (once per growth, also with two nodes), proofs that verify against the stored log,
and a user's access log."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from courtyard.core.clock import FrozenClock
from courtyard.domains.accounts import record_operator_action
from courtyard.domains.audit import (
    KEY_FILE_NAME,
    AuditEntry,
    AuditLogHead,
    EntryFilter,
    InvalidTreeSize,
    append_audit_entry,
    verify_head,
)
from courtyard.domains.audit.merkle import tree_hash, verify_consistency, verify_inclusion
from tests.integration.audit_support import Audit, make_audit


@pytest.fixture
async def audit(database_url: str, tmp_path: Path) -> AsyncIterator[Audit]:
    async with make_audit(database_url, tmp_path / "data") as made:
        yield made


async def stored_leaves(audit: Audit) -> list[bytes]:
    async with audit.db.read() as session:
        return list(await session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.seq)))


async def test_concurrent_appends_get_gap_free_positions_in_commit_order(audit: Audit) -> None:
    async def one(i: int) -> int:
        async with audit.db.transaction() as tx:
            position = await append_audit_entry(
                tx, audit.clock, actor="system", action="test.append", target=f"n:{i}"
            )
            await asyncio.sleep(0)  # let the others queue on the head row meanwhile
            return position

    # On PostgreSQL the emptied test database has no head row: the first appends race to
    # put it back too.
    positions = await asyncio.gather(*(one(i) for i in range(24)))

    assert sorted(positions) == list(range(24))
    async with audit.db.read() as session:
        rows = (await session.execute(select(AuditEntry.seq, AuditEntry.target))).all()
        size = await session.scalar(select(AuditLogHead.size))
    assert sorted(seq for seq, _ in rows) == list(range(24))
    assert {target for _, target in rows} == {f"n:{i}" for i in range(24)}
    assert size == 24
    assert (await audit.log.verify()).ok


async def test_an_entry_appended_in_a_transaction_that_fails_leaves_no_gap(audit: Audit) -> None:
    await audit.append(2)

    async def failing_action() -> None:
        async with audit.db.transaction() as tx:
            await append_audit_entry(tx, audit.clock, actor="system", action="x", target="y")
            raise RuntimeError("the action failed, so its record goes too")

    with pytest.raises(RuntimeError):
        await failing_action()
    assert await audit.append(1) == [2]


async def test_a_head_is_signed_once_per_growth_over_the_stored_leaves(audit: Audit) -> None:
    assert await audit.log.sign_tree_head() is None  # nothing to sign yet
    await audit.append(5)

    head = await audit.log.sign_tree_head()

    assert head is not None
    assert head.tree_size == 5
    assert head.root_hash == tree_hash(await stored_leaves(audit))
    assert head.signed_at == audit.clock.now()
    assert verify_head(head, audit.log.keyring.public_keys) is True
    assert await audit.log.sign_tree_head() is None  # the log did not grow
    assert await audit.log.get_latest_head() == head
    await audit.append(3)
    audit.clock.advance(minutes=1)
    later = await audit.log.sign_if_grown()
    assert later == 8
    assert [h.tree_size for h in await audit.log.get_heads()] == [5, 8]
    assert [h.tree_size for h in await audit.log.get_heads(after=5)] == [8]


async def test_two_nodes_signing_at_once_store_one_head_per_size(audit: Audit) -> None:
    nodes = [audit.log, audit.node(), audit.node()]
    for _ in range(3):
        await audit.append(4)
        signed = await asyncio.gather(*(node.sign_tree_head() for node in nodes))
        assert len([h for h in signed if h is not None]) == 1
    heads = await audit.log.get_heads()
    assert [h.tree_size for h in heads] == [4, 8, 12]
    assert [h.signed_at for h in heads] == sorted(h.signed_at for h in heads)
    assert (await audit.log.verify()).ok


async def test_the_signing_key_lives_in_the_data_dir_readable_by_its_owner_only(
    audit: Audit,
) -> None:
    key_file = audit.data_dir / KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again = audit.node()
    assert again.keyring.key_id == audit.log.keyring.key_id
    [published] = audit.log.published_keys()
    assert (published["key_id"], published["algorithm"]) == (audit.log.keyring.key_id, "ed25519")


async def test_consistency_proofs_between_signed_heads_verify(audit: Audit) -> None:
    heads = []
    for count in (1, 4, 9, 16, 3):
        await audit.append(count)
        head = await audit.log.sign_tree_head()
        assert head is not None
        heads.append(head)
    fresh = audit.node()  # a node that reads the leaves from the database
    for node in (audit.log, fresh):
        for old in heads:
            for new in heads:
                if old.tree_size > new.tree_size:
                    continue
                proof = await node.get_consistency_proof(old.tree_size, new.tree_size)
                assert verify_consistency(
                    old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
                ), (old.tree_size, new.tree_size)


async def test_inclusion_proofs_put_each_stored_entry_under_a_signed_root(audit: Audit) -> None:
    await audit.append(11)
    head = await audit.log.sign_tree_head()
    assert head is not None
    leaves = await stored_leaves(audit)
    for seq, leaf in enumerate(leaves):
        path = await audit.node().get_inclusion_proof(seq, head.tree_size)
        assert verify_inclusion(seq, head.tree_size, leaf, path, head.root_hash)
        assert not verify_inclusion(seq, head.tree_size, leaves[seq - 1], path, head.root_hash)


@pytest.mark.parametrize(("first", "second"), [(0, 3), (4, 3), (3, 8), (1, 2**62)])
async def test_proofs_refuse_sizes_outside_the_signed_log(
    audit: Audit, first: int, second: int
) -> None:
    await audit.append(5)
    await audit.log.sign_tree_head()
    with pytest.raises(InvalidTreeSize):
        await audit.log.get_consistency_proof(first, second)


async def test_the_access_log_lists_the_entries_about_a_user_newest_first(
    audit: Audit, clock: FrozenClock
) -> None:
    async with audit.db.transaction() as tx:
        await record_operator_action(tx, clock, "op-1", "wallet.user.view", "user:u-carol")
        await record_operator_action(
            tx, clock, "op-2", "wallet.account.freeze", "account:a-1", "fraud",
            subject_user_id="u-carol",
        )  # fmt: skip
        await record_operator_action(tx, clock, "cli", "wallet.user.view", "user:u-dave")
        await append_audit_entry(
            tx, clock, actor="system", action="privacy.erasure.run", target="user:u-carol",
            subject_user_id="u-carol",
        )  # fmt: skip

    carol = await audit.log.entries_about("u-carol")

    assert [(e.seq, e.actor, e.action, e.target, e.note) for e in carol] == [
        (3, "system", "privacy.erasure.run", "user:u-carol", None),
        (1, "operator:op-2", "wallet.account.freeze", "account:a-1", "fraud"),
        (0, "operator:op-1", "wallet.user.view", "user:u-carol", None),
    ]
    assert [e.seq for e in await audit.log.entries_about("u-carol", before=3, limit=1)] == [1]
    [dave] = await audit.log.entries_about("u-dave")
    assert (dave.actor, dave.subject_user_id) == ("cli", "u-dave")
    assert await audit.log.entries_about("u-nobody") == []


async def test_operators_filter_entries_by_actor_action_family_and_target_kind(
    audit: Audit,
) -> None:
    await audit.append(6)
    await audit.append(2, actor="system", action="privacy.policy.publish", target="policy:EU/1")

    by_actor = await audit.log.get_entries(EntryFilter(actors=("operator:op-1",)))
    assert [e.seq for e in by_actor] == [4, 1]
    family = await audit.log.get_entries(EntryFilter(action="privacy."))
    assert [e.seq for e in family] == [7, 6]
    kinds = await audit.log.get_entries(EntryFilter(target="policy:"), before=7)
    assert [e.seq for e in kinds] == [6]
    assert await audit.log.get_entries(EntryFilter(target="user:"), before=2**70, limit=1)
