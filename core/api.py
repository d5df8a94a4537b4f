"""API plumbing shared by every app: the one error shape, pagination, permissions, schema helpers."""

from __future__ import annotations

import functools
import io
import re
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import authentication, exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError
from core.hygiene import StorableJSONParser
from core.query import query_int

_DRF_CODES = {
    exceptions.NotAuthenticated: ("not_authenticated", "Log in to do this."),
    exceptions.AuthenticationFailed: ("not_authenticated", "Your credentials were not accepted."),
    exceptions.PermissionDenied: ("forbidden", "Your role does not allow this."),
    exceptions.NotFound: ("not_found", "Not found."),
    exceptions.MethodNotAllowed: ("method_not_allowed", "This method is not allowed here."),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "Send JSON."),
    exceptions.ParseError: ("invalid_request", "The request body is not valid JSON."),
    exceptions.Throttled: ("rate_limited", "Too many requests; wait a moment and try again."),
    exceptions.ValidationError: ("invalid_request", "Some fields are missing or not valid."),
}


def not_found(request, exception):
    """The 404 of a URL that matches no route (``handler404``): the error shape under /api/, else the page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not_found", "message": "Not found.", "details": {}}, status=404)
    return page_not_found(request, exception)


def error_response(error: DomainError) -> Response:
    retry_after = getattr(error, "retry_after", None)
    return Response(error.as_dict(), status=error.status,
                    headers={"Retry-After": str(retry_after)} if retry_after is not None else None)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error, whatever its status: ``{"error", "message", "details"}`` (API.md)."""
    if isinstance(exc, DomainError):
        return error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code, message = next(
        ((c, m) for cls, (c, m) in _DRF_CODES.items() if isinstance(exc, cls)),
        ("error", "The request failed."),
    )
    details: Any = response.data if isinstance(exc, exceptions.ValidationError) else {}
    if isinstance(exc, exceptions.ParseError) and getattr(exc, "field", None):
        message, details = str(exc.detail), {"field": exc.field}  # the storable-text parser's refusal
    if isinstance(exc, exceptions.ValidationError) and isinstance(details, list):
        details = {"non_field_errors": details}
    if isinstance(exc, exceptions.NotAuthenticated):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    response.data = {"error": code, "message": message, "details": details}
    return response


class Pagination(PageNumberPagination):
    """``page`` and ``page_size`` are ASCII whole numbers (else 400); a page past the last is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        size = query_int(request.query_params.get(self.page_size_query_param), field=self.page_size_query_param,
                         minimum=1, default=self.page_size)
        return min(size, self.max_page_size)

    def get_page_number(self, request, paginator) -> str | int:
        number = request.query_params.get(self.page_query_param)
        if number in self.last_page_strings:
            return paginator.num_pages
        return query_int(number, field=self.page_query_param, minimum=1, default=1)


def permission(*perms: str) -> type[BasePermission]:
    """A DRF permission class requiring every Django permission named (``app.codename``)."""

    class HasPermissions(BasePermission):
        def has_permission(self, request, view) -> bool:
            return bool(request.user and request.user.is_authenticated
                        and request.user.has_perms(perms))

    HasPermissions.__name__ = "Has_" + "_".join(p.replace(".", "_") for p in perms)
    return HasPermissions


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="Stable machine-readable code.")
    message = serializers.CharField(help_text="A sentence the user can act on.")
    details = serializers.DictField(help_text="Facts about the refusal.")


def errors(**codes_by_status: str) -> dict[int, OpenApiResponse]:
    """Schema responses for refusals: ``errors(r422="insufficient_funds", r409="...")``."""
    documented = {401: "not_authenticated"}
    documented.update({int(key.lstrip("r")): codes for key, codes in codes_by_status.items()})
    return {
        code: OpenApiResponse(ErrorSerializer, description=f"error: {codes}")
        for code, codes in documented.items()
    }


@extend_schema_field(OpenApiTypes.STR)
class RawValue(serializers.Field):
    """Passes the JSON value through untouched so the service can refuse a float with its own code."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None:
            return False, data  # let the service refuse it with its own code
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return str(value)


_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]{1,100}")


def idempotency_key(request) -> str | None:
    """The Idempotency-Key header: 1 to 100 printable ASCII characters (it is stored and compared as text)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not _PRINTABLE_ASCII.fullmatch(key):
        raise DomainError("The Idempotency-Key header must be 1 to 100 printable ASCII characters.",
                          code="invalid_idempotency_key", status=400)
    return key


# --- the lean write path ---------------------------------------------------------------------------

# DRF's own formatting of money and times, without building a serializer's fields for every answer.
_MONEY, _TIME = serializers.DecimalField(max_digits=18, decimal_places=2), serializers.DateTimeField()


def money_text(value: Decimal | None) -> str | None:
    """Money as DRF's ``DecimalField(18, 2)`` shows it (``"10.00"``); None stays None."""
    return None if value is None else _MONEY.to_representation(value)


def time_text(value: Any) -> str | None:
    """A time as DRF's ``DateTimeField`` shows it (ISO 8601, ``Z`` for UTC); None stays None."""
    return None if value is None else _TIME.to_representation(value)


_SESSION, _JSON = authentication.SessionAuthentication(), StorableJSONParser()


@functools.cache
def _token_authentication() -> authentication.TokenAuthentication:
    """The site's token authentication, from REST_FRAMEWORK's DEFAULT_AUTHENTICATION_CLASSES: it lives
    in an app (accounts), which core does not import."""
    return next(cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES
                if issubclass(cls, authentication.TokenAuthentication))


class LeanPost(APIView):
    """An API view whose POST goes around DRF's generic request handling (issue 15, "a lean HTTP
    path"): the same authentication (an ``Authorization: Token`` header, else the session with its
    CSRF check), the same JSON parser, the view's own input serializer and the same error shape, but
    no Request wrapper, content negotiation or renderer; the view's ``write`` answers ``(status,
    body)`` with a body it builds itself. Its other methods are DRF's as ever, and the OpenAPI schema
    reads ``post`` (a view documents it with ``extend_schema`` on its own ``post``, which calls this
    one). A view on this path reads JSON only (``parser_classes``), so the schema documents what it takes."""

    parser_classes = [StorableJSONParser]

    def write(self, request: Any, data: Any, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any):
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        self.args, self.kwargs, self.request, self.headers = args, kwargs, request, {}
        return self.post(request, *args, **kwargs)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            request.user = _authenticated(request)
            status_code, body = self.write(request, _json_body(request), *args, **kwargs)
        except (DomainError, exceptions.APIException, Http404) as exc:
            return _as_json(self.handle_exception(exc))
        return JsonResponse(body, status=status_code, safe=False, json_dumps_params={"separators": (",", ":")})


def _authenticated(request: HttpRequest) -> Any:
    """The token's user, else the session's (its CSRF token checked), as DRF's authentication classes
    and IsAuthenticated decide it; else 401."""
    # None without a Token header; AuthenticationFailed for a bad one
    found = _token_authentication().authenticate(request)
    if found is not None:
        return found[0]
    user = getattr(request, "user", None)  # the session's (AuthenticationMiddleware)
    if user is None or not user.is_authenticated or not user.is_active:
        raise exceptions.NotAuthenticated()
    _SESSION.enforce_csrf(request)
    return user


def _json_body(request: HttpRequest) -> Any:
    """The body as DRF's parser reads it: JSON only (else 415), nothing sent is an empty object."""
    if not request.body:
        return {}
    if request.content_type != "application/json":
        raise exceptions.UnsupportedMediaType(request.content_type)
    return _JSON.parse(io.BytesIO(request.body))


def _as_json(response: Response) -> JsonResponse:
    answer = JsonResponse(response.data, status=response.status_code, json_dumps_params={"separators": (",", ":")})
    for header, value in response.items():
        if header not in ("Content-Type", "Vary", "Allow"):
            answer[header] = value
    return answer
