"""``courtyard privacy …`` commands (merged into ``privacy_app`` by cli/privacy.py)."""

from __future__ import annotations

import typer

data_app = typer.Typer()
