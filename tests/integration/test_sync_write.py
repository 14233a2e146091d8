"""``Database.write_sync``: one synchronous write transaction, on SQLite in one thread hop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, insert, select, update

from courtyard.api.runtime import Runtime
from courtyard.core.clock import FrozenClock
from courtyard.core.ids import new_id
from courtyard.streams.events import StreamEvent, StreamHead


class Boom(Exception):
    pass


def _add_head(user_id: str, position: int = 0) -> Callable[[Connection], str]:
    def write(conn: Connection) -> str:
        conn.execute(insert(StreamHead).values(user_id=user_id, position=position))
        return threading.current_thread().name

    return write


async def _position(runtime: Runtime, user_id: str) -> int | None:
    async with runtime.db.read() as session:
        return await session.scalar(
            select(StreamHead.position).where(StreamHead.user_id == user_id)
        )


async def test_it_commits_on_return_and_rolls_back_on_raise(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    kept, dropped = new_id(), new_id()
    thread = await runtime.db.write_sync(_add_head(kept, 7))
    assert await _position(runtime, kept) == 7

    def fails(conn: Connection) -> None:
        conn.execute(insert(StreamHead).values(user_id=dropped, position=1))
        raise Boom

    with pytest.raises(Boom):
        await runtime.db.write_sync(fails)
    assert await _position(runtime, dropped) is None
    if runtime.db.is_sqlite:  # the whole transaction ran on the writer's own thread
        assert thread != threading.current_thread().name


async def test_it_serialises_with_ordinary_transactions_on_the_same_rows(app: FastAPI) -> None:
    runtime: Runtime = app.state.runtime
    user_id = new_id()
    await runtime.db.write_sync(_add_head(user_id))

    def bump(conn: Connection) -> None:
        old = conn.execute(
            select(StreamHead.position).where(StreamHead.user_id == user_id).with_for_update()
        ).scalar_one()
        conn.execute(
            update(StreamHead).where(StreamHead.user_id == user_id).values(position=old + 1)
        )

    async def bump_async() -> None:
        async with runtime.db.transaction() as tx:
            old = (
                await tx.session.execute(
                    select(StreamHead.position)
                    .where(StreamHead.user_id == user_id)
                    .with_for_update()
                )
            ).scalar_one()
            await asyncio.sleep(0)  # give the other kind a chance to interleave
            await tx.session.execute(
                update(StreamHead).where(StreamHead.user_id == user_id).values(position=old + 1)
            )

    await asyncio.gather(
        *(runtime.db.write_sync(bump) for _ in range(25)), *(bump_async() for _ in range(25))
    )
    assert await _position(runtime, user_id) == 50  # no lost update either way


async def test_json_and_time_columns_read_back_the_same_either_way(
    app: FastAPI, clock: FrozenClock
) -> None:
    runtime: Runtime = app.state.runtime
    user_id, now = new_id(), clock.now()
    content = {"text": "你好", "n": 2**70, "nested": {"list": [1, 2.5, None, True]}}

    def write(conn: Connection) -> None:
        conn.execute(insert(StreamHead).values(user_id=user_id, position=1))
        conn.execute(
            insert(StreamEvent).values(user_id=user_id, position=1, event_id=new_id(), type="t",
                                       content=content, created_at=now)
        )  # fmt: skip

    await runtime.db.write_sync(write)
    async with runtime.db.read() as session:
        row = (
            await session.scalars(select(StreamEvent).where(StreamEvent.user_id == user_id))
        ).one()
    assert row.content == content
    assert row.created_at == now
