"""
What every request to the API goes through, before and after its view, and the middlewares of
the admin's and the pages' requests that the API does without (`for_pages_only`).

- A NUL character in the path or the query string (`%00`) is refused with a 400 naming the
  parameter: PostgreSQL stores NUL in no text, and no identifier or filter holds one.
- A body the view never read (a request refused before its body mattered: 401, 403, 404…) is read
  to its end after the answer, up to API_MAX_BODY_SIZE bytes, so that the client's next request on
  the same kept-alive connection finds the connection in order; a larger one closes the connection,
  and the answer says so (`Connection: close`).
"""

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.http import JsonResponse

API_PREFIX = "/api/"
NUL = "\x00"
DRAIN_CHUNK = 64 * 1024


class RequestHygieneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            refused = nul_error(request)
            if refused is not None:
                return refused
        response = self.get_response(request)
        finish_body(request, response)
        return response


def nul_error(request):
    if NUL in request.path:
        return JsonResponse({"detail": "The path contains a NUL character (%00): no object is named so."}, status=400)
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in value for value in values):
            name = key.replace(NUL, "") or "query"
            return JsonResponse({name: ["Query parameters cannot contain NUL characters (%00)."]}, status=400)
    return None


def finish_body(request, response):
    if getattr(request, "_read_started", False) or hasattr(request, "_body"):
        return
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if not size:
        return
    if size > settings.API_MAX_BODY_SIZE:
        response["Connection"] = "close"
        return
    while request.read(DRAIN_CHUNK):
        pass


def for_pages_only(middleware_class):
    """
    `middleware_class` for the admin's and the pages' requests, skipped for the API's (whose views
    use no flash messages, for instance). Every hook of the middleware is skipped.
    """

    class PagesOnly(middleware_class):
        def __call__(self, request):
            if request.path_info.startswith(API_PREFIX):
                return self.get_response(request)
            return super().__call__(request)

        def process_view(self, request, *args, **kwargs):
            if request.path_info.startswith(API_PREFIX):
                return None
            return super().process_view(request, *args, **kwargs)

    if not hasattr(middleware_class, "process_view"):
        del PagesOnly.process_view
    PagesOnly.__name__ = PagesOnly.__qualname__ = f"PagesOnly{middleware_class.__name__}"
    return PagesOnly


PagesOnlyMessageMiddleware = for_pages_only(MessageMiddleware)
