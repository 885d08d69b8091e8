"""Stored files sent to their owner a chunk at a time, from local disk or an object store.

Streamed through the web process rather than redirected to a presigned object-store URL: it
works with any store, including one only the servers can reach; the page keeps one origin (the
CSP allows images from ourselves only) and no bearer URL lands in a browser's history. Under
ASGI the chunks are read in a thread and handed over as an async iterator: Django reads a
synchronous iterator (FileResponse's included) into memory whole before sending it there.
"""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header

from reports.engine.files import open_chunks


def stored_file_response(
    request: HttpRequest,
    stored: FieldFile,
    content_type: str,
    size: int | None = None,
    filename: str | None = None,
    as_attachment: bool = False,
) -> StreamingHttpResponse:
    try:
        chunks = open_chunks(stored)
        first = next(chunks, b"")  # opens the file now: a missing one is a 404, not a broken response
    except FileNotFoundError:
        raise Http404("This file is no longer there; its job may have just been deleted.") from None
    content = async_chunks(first, chunks) if isinstance(request, ASGIRequest) else sync_chunks(first, chunks)
    response = StreamingHttpResponse(content, content_type=content_type)
    if size is not None:
        response["Content-Length"] = str(size)
    if disposition := content_disposition_header(as_attachment, filename):
        response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    return response


def sync_chunks(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from chunks


async def async_chunks(first: bytes, chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    read = sync_to_async(next, thread_sensitive=False)
    try:
        chunk = first
        while chunk:
            yield chunk
            chunk = await read(chunks, b"")
    finally:
        await sync_to_async(chunks.close, thread_sensitive=False)()
