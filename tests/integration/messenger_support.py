"""Messenger test helpers: a ``device`` fixture (in tests/integration/conftest.py) that
registers users against the in-process app and opens their messengers, and small helpers."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
from fastapi import FastAPI

from courtyard.client import Client
from courtyard.client.crypto import KdfParams
from courtyard.client.messenger import Messenger
from tests.client_support import consent_for
from tests.conftest import PASSWORD

PASSPHRASE = "a profile passphrase"
FAST_KDF = KdfParams(time_cost=1, memory_cost_kib=8, parallelism=1)  # tests only
_n = itertools.count()


Device = Callable[..., Awaitable[Messenger]]


async def make_devices(app: FastAPI, tmp_path: Path) -> AsyncIterator[Device]:
    """Yield a factory: ``await make("alice")`` registers alice (or, with ``login=True``,
    adds a device) and opens her messenger in a profile directory of its own."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(name: str, *, login: bool = False, url: str | None = None) -> Messenger:
            transport = None if url else httpx.ASGITransport(app=app)
            client = Client(url or "http://courtyard.test", transport=transport)
            stack.push_async_callback(client.aclose)
            if login:
                await client.login(name, PASSWORD)
            else:
                await client.register(
                    name, PASSWORD, name.title(), "DE", **await consent_for(client, "DE")
                )
            profile = tmp_path / "profiles" / f"{name}-{next(_n)}"
            messenger = await Messenger.open(client, profile, PASSPHRASE, kdf=FAST_KDF)
            stack.push_async_callback(messenger.close)
            return messenger

        yield make


async def direct(alice: Messenger, bob: Messenger) -> str:
    conversation = await alice.create_conversation([bob.user_id])
    return conversation.conversation_id


async def group(owner: Messenger, *members: Messenger) -> str:
    conversation = await owner.create_conversation([m.user_id for m in members], name="team")
    for member in members:
        await member.join(conversation.conversation_id)
    return conversation.conversation_id
