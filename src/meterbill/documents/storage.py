"""Where document files live: a small interface, and the local folder that implements it.

The folder is shared by every process of one installation (a mounted volume when
several machines run meterbill); another store (S3, GCS) implements the same three
methods.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from sqlalchemy import make_url


class Storage(Protocol):
    def put(self, key: str, content: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files under one folder, written atomically (a reader never sees half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage key outside the storage folder: {key!r}")
        return path

    def put(self, key: str, content: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


def default_storage_dir(database_url: str) -> Path:
    """Beside the SQLite file; in the working folder for a server database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "storage"
    return Path("storage").resolve()
