"""Credentials from a .netrc file, for sessions created with ``trust_env=True``.

The file is the one named by the ``NETRC`` environment variable, else ``~/.netrc`` (and
``~/_netrc`` on Windows, where that is the customary name). A missing or malformed file means
"no credentials": trust_env is a convenience and must never make a request fail.
"""

from __future__ import annotations

import netrc
import os
import sys
from pathlib import Path

from .auth import BasicAuth

__all__ = ("netrc_auth_for", "netrc_path")

# (path, stat signature) → parsed file; re-parsed only when the file changes, because the
# session may ask once per request.
_cache: tuple[str, tuple[int, int, int], netrc.netrc] | None = None


def netrc_path() -> Path | None:
    """The .netrc file to read, or None when there is none."""
    configured = os.environ.get("NETRC")
    if configured:
        return Path(configured).expanduser()
    try:
        home = Path.home()
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return None
    candidates = [home / ".netrc"]
    if sys.platform == "win32":
        candidates.append(home / "_netrc")
    return next((path for path in candidates if path.is_file()), None)


def _load(path: Path) -> netrc.netrc | None:
    global _cache
    try:
        info = path.stat()
    except OSError:
        return None
    signature = (info.st_mtime_ns, info.st_size, info.st_ino)
    if _cache is not None and _cache[0] == str(path) and _cache[1] == signature:
        return _cache[2]
    try:
        parsed = netrc.netrc(str(path))
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError, ValueError):
        return None
    _cache = (str(path), signature, parsed)
    return parsed


def netrc_auth_for(host: str) -> BasicAuth | None:
    """BasicAuth for *host* from the .netrc file, falling back to its ``default`` entry.

    None when there is no file, it cannot be parsed, or it has no entry that applies.
    """
    path = netrc_path()
    if path is None:
        return None
    parsed = _load(path)
    if parsed is None:
        return None
    wanted = host.lower()
    # Host names are case-insensitive (RFC 4343); netrc's own lookup is not.
    entry = next((v for k, v in parsed.hosts.items() if k.lower() == wanted), None)
    if entry is None:
        entry = parsed.hosts.get("default")
    if entry is None:
        return None
    login, account, password = entry
    # As requests does: a machine with only an account uses it as the user name.
    user = login or account or ""
    if not user and not password:
        return None
    try:
        return BasicAuth(user, password or "")
    except ValueError:  # a ":" in the login cannot be sent in Basic credentials
        return None
