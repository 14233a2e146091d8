"""The profile directory: an owner-only session file, replaced atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtyard.cli.main import app
from courtyard.client import Profile, ProfileError, Session

SESSION = Session("u1", "alice", "d1", "cy_secret-token")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_creates_owner_only_directories_and_file(tmp_path: Path) -> None:
    profile = Profile(tmp_path / "home" / ".courtyard" / "default")
    stored = profile.save("http://server:8470", SESSION)
    assert mode(profile.path) == 0o600
    for created in (profile.directory, profile.directory.parent, tmp_path / "home"):
        assert mode(created) == 0o700
    assert profile.load() == stored
    assert stored.session == SESSION
    assert "cy_secret-token" not in repr(stored)


def test_save_leaves_an_existing_directory_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    Profile(shared).save("http://server", SESSION)
    assert mode(shared) == 0o755
    assert mode(shared / "session.json") == 0o600


def test_a_failed_save_keeps_the_old_session_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = Profile(tmp_path)
    profile.save("http://old", SESSION)

    def broken_replace(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ProfileError, match="No space left"):
        profile.save("http://new", Session("u2", "bob", "d2", "cy_other"))
    monkeypatch.undo()
    loaded = profile.load()
    assert loaded is not None
    assert (loaded.server, loaded.username) == ("http://old", "alice")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.json"]


def test_clear_forgets_the_session_once(tmp_path: Path) -> None:
    profile = Profile(tmp_path)
    assert profile.load() is None
    profile.save("http://server", SESSION)
    assert profile.clear() is True
    assert profile.load() is None
    assert profile.clear() is False


@pytest.mark.parametrize("content", ["not json", "[]", '{"server": "x"}'])
def test_a_corrupt_session_file_is_a_profile_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "session.json").write_text(content)
    with pytest.raises(ProfileError, match="not a valid session file"):
        Profile(tmp_path).load()


def test_the_cli_reports_a_corrupt_profile_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "session.json").write_text("{")
    result = CliRunner().invoke(app, ["whoami", "--profile", str(tmp_path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'session.json'} is not a valid session file"
    ]
