"""API plumbing shared by every app: the one error shape, pagination, permissions, schema helpers."""

from __future__ import annotations

import re
from typing import Any

from django.http import JsonResponse
from django.views.defaults import page_not_found
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError
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
    from django.http import Http404

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
