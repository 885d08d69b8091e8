"""Stored files, read and copied in chunks whatever the storage backend (local disk or an
S3-compatible object store), so no process holds a whole upload or output in memory."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db.models.fields.files import FieldFile

CHUNK_SIZE = 1024 * 1024


def is_object_store(storage: Storage) -> bool:
    return hasattr(storage, "bucket_name")  # django-storages' S3Storage and its subclasses


def object_key(storage: Storage, name: str) -> str:
    """The object's key for a stored name (the name under AWS_LOCATION, if one is set)."""
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))


def open_chunks(stored: FieldFile, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The stored file's bytes, `chunk_size` at a time. The file is opened now, so a missing one
    raises FileNotFoundError here rather than halfway through a response.

    django-storages' own S3File downloads the whole object before the first read; this reads the
    object's body as it arrives instead.
    """
    storage = stored.storage
    if is_object_store(storage):
        from botocore.exceptions import ClientError

        try:
            body = storage.bucket.Object(object_key(storage, stored.name)).get()["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise FileNotFoundError(stored.name) from None
            raise
        return _closing(body.iter_chunks(chunk_size), body)
    handle = storage.open(stored.name, "rb")
    return _closing(iter(lambda: handle.read(chunk_size), b""), handle)


def _closing(chunks: Iterator[bytes], source) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        source.close()


@contextmanager
def local_path(stored: FieldFile) -> Iterator[Path]:
    """A local file for a stored one: the file itself on disk storage, else a temporary copy
    streamed into the worker's own temporary directory."""
    try:
        on_disk = stored.path
    except NotImplementedError:  # remote storage (S3 and the like) has no local path
        on_disk = None
    if on_disk:
        yield Path(on_disk)
        return
    with tempfile.NamedTemporaryFile(suffix=Path(stored.name).suffix) as copy:
        for chunk in open_chunks(stored):
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def copy_to(source: FieldFile, target: FieldFile, filename: str) -> None:
    """Store a copy of `source` as `target` (its field names it from `filename`), without the
    bytes passing through this process where the store can copy by itself."""
    storage = source.storage
    if is_object_store(storage) and storage is target.storage:
        name = target.field.generate_filename(target.instance, filename)
        storage.bucket.copy(
            {"Bucket": storage.bucket_name, "Key": object_key(storage, source.name)},
            object_key(storage, name),
            Config=storage.transfer_config,
        )
        target.name = name
        return
    with storage.open(source.name, "rb") as original:
        target.save(filename, File(original), save=False)  # File.chunks(): streamed


def delete_folder(storage: Storage, name: str) -> int:
    """Delete every file under the folder (on an object store, every object under the prefix)
    and the folder; returns how many files went. Unlike deleting what rows name, it also finds a
    file no row knows of: one written by an attempt killed before it recorded it."""
    try:
        folders, files = storage.listdir(name)
    except FileNotFoundError:
        return 0
    for file_name in files:
        storage.delete(f"{name}/{file_name}")
    deleted = len(files) + sum(delete_folder(storage, f"{name}/{folder}") for folder in folders)
    remove_empty_folders(storage, name)
    return deleted


def remove_empty_folders(storage: Storage, *names: str) -> None:
    """Remove folders a deleted job leaves on disk storage, deepest first; object stores have none."""
    for name in names:
        try:
            folder = Path(storage.path(name))
        except NotImplementedError:
            return
        with suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def check_bucket() -> None:
    """Stop start-up with a clear message when the configured bucket cannot be reached."""
    if not settings.OBJECT_STORE:
        return
    from botocore.exceptions import BotoCoreError, ClientError

    where = settings.AWS_S3_ENDPOINT_URL or "AWS S3"
    bucket = settings.AWS_STORAGE_BUCKET_NAME
    try:
        default_storage.connection.meta.client.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("404", "NoSuchBucket"):
            reason = "does not exist there; create it first (Offload never creates buckets)"
        elif code in ("403", "AccessDenied"):
            reason = "refused access; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        else:
            reason = f"answered {code or error}"
        raise ImproperlyConfigured(f"AWS_STORAGE_BUCKET_NAME: the bucket {bucket!r} at {where} {reason}.") from None
    except BotoCoreError as error:
        raise ImproperlyConfigured(
            f"AWS_STORAGE_BUCKET_NAME: the object store at {where} could not be reached ({error}); "
            "check AWS_S3_ENDPOINT_URL."
        ) from None
