"""Text PostgreSQL cannot store is refused at the door, or cleaned where it is only recorded.

PostgreSQL refuses the NUL character in ``text`` and ``jsonb`` (``\\u0000``), and psycopg cannot encode
a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON, and Python keeps it). Either, reaching any column
(a refusal's audit row stores the request's fields), turns a 4xx into a 500. So: the API's JSON parser
walks every key and value of a body, this middleware checks the path, query strings and form posts
of every page and the admin, and headers that are only recorded (the User-Agent) are cleaned.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.html import format_html
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

# NUL and the surrogate code points (paired surrogates never survive decoding, so any is lone).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "Text may not contain NUL characters or unpaired surrogates."


def unstorable_field(data: Any) -> str | None:
    """The path (``selections[0].price``) of the first key or string in ``data`` that PostgreSQL cannot
    store, or None. A bad key is named by its position among its siblings, as it cannot be shown.
    Walked with a stack, not recursion: a parsed body may nest as deep as the JSON parser allows."""
    pending: list[tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if UNSTORABLE.search(value):
                return path or "body"
        elif isinstance(value, dict):
            for index, key in enumerate(value):
                if UNSTORABLE.search(key):
                    return f"{path}.<key {index}>" if path else f"<key {index}>"
            pending.extend((f"{path}.{key}" if path else key, item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in reversed(list(enumerate(value))))
    return None


class StorableTextParseError(ParseError):
    """A 400 ``invalid_request`` (the handler's code for a ParseError) naming the field in ``details``."""

    def __init__(self, field: str):
        super().__init__(MESSAGE)
        self.field = field


class StorableJSONParser(JSONParser):
    """DRF's JSON parser, refusing any key or string that PostgreSQL cannot store."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:  # nested past the parser's depth: not a ValueError, so DRF would let it through
            raise ParseError("The request body nests too deeply.") from None
        if field := unstorable_field(data):
            raise StorableTextParseError(field)
        return data


class _StorableForm:
    """A form parser refusing what PostgreSQL cannot store: the middleware checks POSTed forms, and
    this the forms DRF parses for other methods (a multipart PUT)."""

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        form = getattr(parsed, "data", parsed)  # multipart answers its fields and files together
        if field := unstorable_field({key: form.getlist(key) for key in form}):
            raise StorableTextParseError(field.split("[")[0])  # the parameter's name, not which of its values
        return parsed


class StorableFormParser(_StorableForm, FormParser):
    pass


class StorableMultiPartParser(_StorableForm, MultiPartParser):
    pass


def clean_text(value: str, *, limit: int) -> str:
    """``value`` without what PostgreSQL cannot store, cut to ``limit`` characters: for recorded headers."""
    return UNSTORABLE.sub("", value)[:limit]


class StorableInputMiddleware:
    """A 400 for a path, query string or form post holding NUL or a lone surrogate, before any view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = self._unstorable_field(request)
        if field is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"error": "invalid_request", "message": MESSAGE, "details": {"field": field}},
                                status=400)
        return HttpResponseBadRequest(format_html(
            "<!doctype html><title>Bad request</title><h1>Bad request</h1><p>{} (field: {})</p>"
            '<p><a href="/">Back to live &amp; upcoming</a></p>', MESSAGE, field))

    @staticmethod
    def _unstorable_field(request: HttpRequest) -> str | None:
        if UNSTORABLE.search(request.path):
            return "path"
        sources = [request.GET]
        if request.method == "POST" and request.content_type in (
                "application/x-www-form-urlencoded", "multipart/form-data"):
            sources.append(request.POST)
        for source in sources:
            found = unstorable_field({key: source.getlist(key) for key in source})
            if found:
                return found.split("[")[0]  # the parameter's name, not which of its values
        return None

