"""Domain errors: every refusal has a stable code, a sentence a player can act on, and details.

Services raise these; the API turns them into ``{"error", "message", "details"}`` with the
status below (API.md "Conventions"); HTMX views show the message next to the form.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 422
    code = "refused"
    default_message = "The request was refused."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None, status: int | None = None):
        self.message = message or self.default_message
        self.code = code or self.code
        self.details = details or {}
        if status is not None:
            self.status = status
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class InvalidInput(DomainError):
    status = 400
    code = "invalid_request"
    default_message = "The request is not valid."


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    default_message = "Your balance is too low for this."


class ServiceUnavailable(DomainError):
    """A service the request needs is down for now: 503 with ``Retry-After``, so a client retries later."""

    status = 503
    code = "service_unavailable"
    default_message = "This is not available right now; try again in a moment."

    def __init__(self, message: str | None = None, *, retry_after: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.details.setdefault("retry_after", retry_after)


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = ("This Idempotency-Key was already used with a different request; "
                       "use a new key for a new request.")


# The HTTP status of each refusal code that is not a plain business-rule refusal (422).
REFUSAL_STATUS = {
    "invalid_amount": 400,
    "forbidden": 403,
    "not_a_player": 403,
    "own_bet": 403,
    "self_excluded": 403,
    "session_limit": 403,
    "geo_blocked": 403,
    "kyc_required": 403,
    "market_unavailable": 409,
    "odds_changed": 409,
    "velocity_limit": 429,
    "challenge_unavailable": 409,
    "external_wallet_not_open": 404,
    "external_wallet_unavailable": 503,
}


def refusal(code: str, message: str, details: dict[str, Any] | None = None) -> DomainError:
    """A refusal with the status its code carries (API.md "Conventions")."""
    return DomainError(message, code=code, details=details, status=REFUSAL_STATUS.get(code, 422))
