"""Credentials from .netrc: the NETRC variable, ~/.netrc, the default entry, bad files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hyperclient.auth import BasicAuth
from hyperclient.netrc import netrc_auth_for, netrc_path

NETRC = """\
machine example.com login alice password s3cret
machine Mixed.Case.org login bob password pw
machine account-only.net account carol password pw2
machine colon.net login "a:b" password x
"""


@pytest.fixture
def netrc_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "my-netrc"
    path.write_text(NETRC)
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    return path


def test_entry_for_the_host_gives_basic_auth(netrc_file: Path) -> None:
    assert netrc_auth_for("example.com") == BasicAuth("alice", "s3cret")


def test_host_lookup_ignores_case(netrc_file: Path) -> None:
    assert netrc_auth_for("mixed.case.org") == BasicAuth("bob", "pw")
    assert netrc_auth_for("EXAMPLE.COM") == BasicAuth("alice", "s3cret")


def test_unknown_host_without_default_gives_none(netrc_file: Path) -> None:
    assert netrc_auth_for("other.org") is None


def test_default_entry_applies_to_hosts_without_their_own(netrc_file: Path) -> None:
    netrc_file.write_text(NETRC + "default login anon password guest\n")
    assert netrc_auth_for("other.org") == BasicAuth("anon", "guest")
    assert netrc_auth_for("example.com") == BasicAuth("alice", "s3cret")


def test_account_is_the_user_name_when_login_is_missing(netrc_file: Path) -> None:
    assert netrc_auth_for("account-only.net") == BasicAuth("carol", "pw2")


def test_login_with_colon_gives_none(netrc_file: Path) -> None:
    assert netrc_auth_for("colon.net") is None


def test_entry_without_login_or_password_gives_none(netrc_file: Path) -> None:
    netrc_file.write_text("machine example.com\n")
    assert netrc_auth_for("example.com") is None


def test_missing_file_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    assert netrc_auth_for("example.com") is None


@pytest.mark.parametrize(
    "content",
    [b"bogus toplevel token\n", b"machine\n", b"\xff\xfe\x00garbage\x80"],
)
def test_unparsable_file_gives_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    path = tmp_path / "bad-netrc"
    path.write_bytes(content)
    monkeypatch.setenv("NETRC", str(path))
    assert netrc_auth_for("example.com") is None


def test_directory_instead_of_file_gives_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path))
    assert netrc_auth_for("example.com") is None


def test_home_netrc_is_used_when_netrc_is_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    assert netrc_path() is None
    assert netrc_auth_for("example.com") is None
    (tmp_path / ".netrc").write_text(NETRC)
    assert netrc_path() == tmp_path / ".netrc"
    assert netrc_auth_for("example.com") == BasicAuth("alice", "s3cret")


def test_netrc_variable_wins_over_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, netrc_file: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text("machine example.com login home password h\n")
    monkeypatch.setenv("HOME", str(home))
    assert netrc_auth_for("example.com") == BasicAuth("alice", "s3cret")


def test_changes_to_the_file_are_picked_up(netrc_file: Path) -> None:
    assert netrc_auth_for("example.com") == BasicAuth("alice", "s3cret")
    netrc_file.write_text("machine example.com login alice password changed-password\n")
    stat = netrc_file.stat()
    # Make sure the change is visible even on a file system with coarse timestamps.
    os.utime(netrc_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert netrc_auth_for("example.com") == BasicAuth("alice", "changed-password")
