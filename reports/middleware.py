"""Headers every response of a signed-in person carries."""

from django.utils.cache import patch_cache_control


def private_pages(get_response):
    """A signed-in person's pages are theirs: no shared cache may keep them, and the browser asks
    again before showing one from its cache (the back button after signing out shows nothing
    private). A view that chose its own caching (a download, the event stream) keeps it."""

    def middleware(request):
        response = get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response:
            patch_cache_control(response, private=True, no_cache=True)
        return response

    return middleware
