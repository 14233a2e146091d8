"""``courtyard privacy …``: your policy and consents, your data, your rights. The commands
live in ``privacy_consent``, ``privacy_data`` and ``privacy_rights``, whose apps merge here."""

from __future__ import annotations

import typer

from courtyard.cli.privacy_consent import consent_app
from courtyard.cli.privacy_data import data_app
from courtyard.cli.privacy_rights import rights_app

privacy_app = typer.Typer(
    help="Your privacy: policy and consents, export, access log, erasure, complaints.",
    no_args_is_help=True,
)
privacy_app.add_typer(consent_app)
privacy_app.add_typer(data_app)
privacy_app.add_typer(rights_app)
