"""A signed-out person's request may carry at most OFFLOAD_SIGNED_OUT_MAX_BODY_KB: anything larger
(an upload after the session expired, or anyone's upload to no account) is answered with the way
to sign in before the body is read, so nobody can make the server spool gigabytes to disk
without an account. The sign-in forms are far below the limit.

Two halves, because the two servers read bodies at different times:
- under WSGI (runserver, gunicorn) Django reads the body only when asked for it, so the
  middleware alone answers before anything asks (the CSRF check would);
- under ASGI (uvicorn) Django reads the whole body before any middleware runs, so
  `limit_signed_out_bodies` wraps the application and hands Django an empty body instead,
  marked in the scope, for the middleware to answer the same way.
A proxy in front should still cap bodies at the upload limit (README, "Production and scale-out").
"""

import asyncio
from importlib import import_module
from types import SimpleNamespace

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.db import DatabaseError, connections
from django.http import HttpResponse
from django.http.cookie import parse_cookie

from reports.engine.access import sign_in_first

REFUSED = "offload.body_refused"
END_OF_BODY = {"type": "http.request", "body": b"", "more_body": False}


def limit() -> int:
    return settings.OFFLOAD_SIGNED_OUT_MAX_BODY_KB * 1024


def declared_length(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def signed_out_body_limit(get_response):
    """The middleware: after AuthenticationMiddleware, before any view or check reads the body."""

    def middleware(request):
        refused = getattr(request, "scope", {}).get(REFUSED)
        too_large = refused or (declared_length(request.META.get("CONTENT_LENGTH")) or 0) > limit()
        if too_large and not request.user.is_authenticated:
            return sign_in_first(request)
        if refused:  # signed in by the time Django looked (a sign-in racing the upload): its body is gone
            return HttpResponse(
                "The upload was cut short. Please send it again.", status=413, content_type="text/plain"
            )
        return get_response(request)

    return middleware


async def signed_in(scope) -> bool:
    """Whether the request's session is a signed-in person's, judged as Django will judge it
    (whether they may do what they ask, the view decides as always)."""
    cookies = "; ".join(value.decode("latin-1") for name, value in scope.get("headers") or [] if name == b"cookie")
    key = parse_cookie(cookies).get(settings.SESSION_COOKIE_NAME)
    return bool(key) and await session_signed_in(key)


@sync_to_async(thread_sensitive=False)
def session_signed_in(key: str) -> bool:
    """Django's own verdict (an inactive or deleted user, a session from before a password
    change: signed out), on a thread of its own outside any request, whose database connection
    is therefore closed here: nothing else would ever close it."""
    try:
        stand_in = SimpleNamespace(session=import_module(settings.SESSION_ENGINE).SessionStore(key))
        return get_user(stand_in).is_authenticated
    except DatabaseError:
        return True  # no verdict: Django reads the body and the view judges, as without this check
    finally:
        connections.close_all()


def limit_signed_out_bodies(app):
    """The ASGI half: a body larger than the limit reaches Django only from a signed-in session.
    A declared Content-Length is judged before a byte is read; a body without one (chunked) is
    counted as it comes and cut at the limit."""

    async def guarded(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        scope = dict(scope)  # ASGI asks middleware to mark a copy, never the server's own
        length = declared_length(dict(scope.get("headers") or []).get(b"content-length"))
        if length is None:
            return await app(scope, Counted(scope, receive), send)
        if length > limit() and not await signed_in(scope):
            scope[REFUSED] = True
            return await app(scope, Counted(scope, receive), send)
        return await app(scope, receive, send)

    return guarded


class Counted:
    """The request's `receive`, cut short once the scope is refused: Django gets the end of an
    empty body, and afterwards, while it listens for the client leaving as it answers, nothing
    more: asking the server for more would read the rest of the body (and answer a client's
    `Expect: 100-continue` with an invitation to send it). Django stops listening once its answer
    is sent."""

    def __init__(self, scope, receive):
        self.scope, self.receive, self.read, self.ended, self.allowed = scope, receive, 0, False, False

    async def __call__(self):
        if self.ended:
            await asyncio.Event().wait()  # cancelled by Django when its answer has gone
        if not self.scope.get(REFUSED):
            message = await self.receive()
            self.read += len(message.get("body", b""))
            if self.allowed or message["type"] != "http.request" or self.read <= limit():
                return message
            if await signed_in(self.scope):  # asked once, when the body passes the limit
                self.allowed = True
                return message
            self.scope[REFUSED] = True
        self.ended = True
        return END_OF_BODY
