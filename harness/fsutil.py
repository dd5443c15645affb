"""Folders the harness makes: named uniquely, with the permissions the umask gives."""

from __future__ import annotations

import secrets
from pathlib import Path


def fresh_dir(parent: Path, prefix: str) -> Path:
    """A new uniquely named directory under `parent`, with the umask's permissions
    (tempfile.mkdtemp's are owner-only, which a folder renamed into place would keep)."""
    while True:
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
