"""Shared constraints for strings that arrive on the wire.

PostgreSQL text cannot hold NUL, so every free-text field refuses it up front (a clear 422,
not a 500 from the database); ids are restricted to the characters ids are made of.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints, ValidationError

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


WireId = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=64)]
"""A user, device, conversation or media id (UUIDs today)."""

PlainText = Annotated[str, AfterValidator(_no_nul)]
"""Free text that will be stored: anything but NUL."""


def first_problem(exc: ValidationError, default: str = "content") -> str:
    """``where: what`` of a validation error's first problem, for a one-line error detail."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or default
    return f"{where}: {first['msg']}"
