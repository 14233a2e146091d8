"""A profile directory holds one signed-in session, readable by its owner only."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from courtyard.client.errors import ClientError
from courtyard.client.models import Session

SESSION_FILE = "session.json"
DEFAULT_PROFILE_DIR = "~/.courtyard/default"
DIR_MODE = 0o700
FILE_MODE = 0o600


class ProfileError(ClientError):
    """The profile cannot be read or written."""


@dataclass(frozen=True)
class StoredSession:
    """A session and the server it belongs to, as kept in ``session.json``."""

    server: str
    user_id: str
    username: str
    device_id: str
    access_token: str = field(repr=False)

    @property
    def session(self) -> Session:
        return Session(self.user_id, self.username, self.device_id, self.access_token)


class Profile:
    """The directory ``--profile`` names; the session file is replaced atomically."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    @property
    def path(self) -> Path:
        return self.directory / SESSION_FILE

    def load(self) -> StoredSession | None:
        """The stored session, or None if nobody is signed in with this profile."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ProfileError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
            return StoredSession(**{name: str(data[name]) for name in _FIELDS})
        except (ValueError, KeyError, TypeError):
            raise ProfileError(f"{self.path} is not a valid session file") from None

    def save(self, server: str, session: Session) -> StoredSession:
        """Store ``session`` for ``server``: written to a 0600 temporary file, then renamed."""
        stored = StoredSession(
            server, session.user_id, session.username, session.device_id, session.access_token
        )
        try:
            self._make_directory()
            _write_atomically(self.path, json.dumps(asdict(stored), indent=2) + "\n")
        except OSError as exc:
            raise ProfileError(f"cannot write {self.path}: {exc.strerror}") from None
        return stored

    def clear(self) -> bool:
        """Forget the stored session; return whether there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ProfileError(f"cannot remove {self.path}: {exc.strerror}") from None
        _fsync_directory(self.directory)
        return True

    def _make_directory(self) -> None:
        # Create each missing level owner-only; an existing directory is left as it is, since
        # it may be shared (``--profile /tmp/x`` must not chmod ``/tmp``).
        missing = [p for p in (self.directory, *self.directory.parents) if not p.exists()]
        for directory in reversed(missing):
            directory.mkdir(mode=DIR_MODE, exist_ok=True)


_FIELDS = ("server", "user_id", "username", "device_id", "access_token")


def _write_atomically(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=".session-", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (a no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
