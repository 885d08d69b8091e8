"""Headers every response of a signed-in person carries."""

from django.utils.cache import patch_cache_control


def private_pages(get_response):
    """A signed-in person's pages are theirs: no shared cache may keep them, and the browser asks
    again before showing one from its cache (the back button after signing out shows nothing
    private). A view that chose its own caching (a download, the event stream) keeps it."""

    def middleware(request):
        response = get_response(request)
        # Only a response that read the session can be someone's; asking who is signed in on
        # one that did not (a metrics scrape) would read it, and add "Vary: Cookie".
        session = getattr(request, "session", None)
        personal = session is not None and session.accessed and request.user.is_authenticated
        if personal and "Cache-Control" not in response:
            patch_cache_control(response, private=True, no_cache=True)
        return response

    return middleware
