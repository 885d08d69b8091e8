"""Stored files for libraries that want a path on disk, whatever the storage backend."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile


@contextmanager
def local_path(stored: FieldFile) -> Iterator[Path]:
    """A local file for a stored one: the file itself on disk storage, else a temporary copy."""
    try:
        on_disk = stored.path
    except NotImplementedError:  # remote storage (S3 and the like) has no local path
        on_disk = None
    if on_disk:
        yield Path(on_disk)
        return
    with tempfile.NamedTemporaryFile() as copy, stored.open("rb") as source:
        for chunk in iter(lambda: source.read(1024 * 1024), b""):
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def remove_empty_folders(storage: Storage, *names: str) -> None:
    """Remove folders a deleted job leaves on disk storage, deepest first; object stores have none."""
    for name in names:
        try:
            folder = Path(storage.path(name))
        except NotImplementedError:
            return
        with suppress(OSError):  # not empty, or already gone
            folder.rmdir()
