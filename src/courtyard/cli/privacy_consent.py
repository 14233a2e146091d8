"""``courtyard privacy …`` commands (merged into ``privacy_app`` by cli/privacy.py)."""

from __future__ import annotations

import typer

consent_app = typer.Typer()
