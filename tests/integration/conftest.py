"""Fixtures shared by the integration tests of the messenger."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.integration.messenger_support import Device, make_devices


@pytest.fixture
async def device(app: FastAPI, tmp_path: Path) -> AsyncIterator[Device]:
    """``await device("alice")`` registers alice (or, with ``login=True``, adds a device)
    and opens her messenger in a profile directory of its own."""
    async for make in make_devices(app, tmp_path):
        yield make
