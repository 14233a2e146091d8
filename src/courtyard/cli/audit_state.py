"""What ``courtyard audit verify`` remembers between runs: the last head it verified and the
signing keys it has seen (docs/audit-log.md, "Command line"). A later run must find the log
still consistent with that head, so a rewrite or truncation since cannot go unnoticed."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from courtyard.domains.audit import SignedHead

STATE_FILE_NAME = "audit-verify-state.json"


class StateError(ValueError):
    """The state file exists but cannot be read as one."""


@dataclass
class VerifyState:
    head: SignedHead | None = None
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> VerifyState:
        from courtyard.domains.audit import SignedHead, key_id_for, public_key_from_raw

        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text("utf-8"))
            head = SignedHead.from_json(data["head"]) if data.get("head") else None
            keys = {}
            for key_id, raw in dict(data.get("keys", {})).items():
                key = public_key_from_raw(base64.b64decode(raw, validate=True))
                if key_id_for(key) != key_id:
                    raise ValueError(f"key {key_id} does not match its id")
                keys[key_id] = key
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise StateError(f"{path}: not a verifier state file ({exc})") from None
        return cls(head, keys)

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed over the old one)."""
        from courtyard.domains.audit import raw_public_key

        document = {
            "version": 1,
            "head": self.head.as_json() if self.head else None,
            "keys": {
                key_id: base64.b64encode(raw_public_key(key)).decode("ascii")
                for key_id, key in sorted(self.keys.items())
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(document, indent=2) + "\n", "utf-8")
        os.replace(temporary, path)
