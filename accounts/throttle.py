"""Log-in throttling: django-axes locks a username after ``AXES_FAILURE_LIMIT`` (5) failures within
``AXES_COOLOFF_TIME`` (15 minutes), on the token endpoint, the page log-in and the admin log-in alike
(they all go through ``authenticate()``). An address is locked after ``AUTH_IP_FAILURE_LIMIT`` (100)
failures in the same window, whatever the usernames: high enough that one person cannot lock out a
whole office behind one NAT address. axes has a single failure limit for all its lockout
parameters, so the address count is summed here from axes' own attempt rows."""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum
from django.dispatch import receiver
from django.shortcuts import render

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record
from core.errors import DomainError


def too_many_attempts() -> DomainError:
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return DomainError(f"Too many failed log-ins for this username or from your address; try again in "
                       f"{minutes} minutes.", code="too_many_attempts", status=429,
                       details={"retry_after_minutes": minutes})


class LoginThrottle(AxesDatabaseHandler):
    """axes' database handler (per username) plus the per-address limit."""

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or self._address_locked(request)

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not request.axes_locked_out and self._address_locked(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials

    def _address_locked(self, request) -> bool:
        failures = AccessAttempt.objects.filter(
            ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request),
        ).aggregate(n=Sum("failures_since_start"))["n"] or 0
        return failures >= settings.AUTH_IP_FAILURE_LIMIT


def lockout_response(request, original_response=None, credentials=None):
    """The token endpoint has already refused in the API's error shape (429); pages get a page."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    error = too_many_attempts()
    return render(request, "registration/too_many_attempts.html", {"message": error.message},
                  status=error.status)


@receiver(user_locked_out)
def record_lockout(sender, request, username, ip_address, **kwargs):
    actor = Actor.from_request(request)
    audit_record(actor=Actor(ip=actor.ip, user_agent=actor.user_agent, label=username or "anonymous"),
                 action="auth.locked_out", category=AuditLog.Category.SECURITY, resource_type="user",
                 resource_label=username or "", details={"ip": ip_address},
                 severity=AuditLog.Severity.WARNING, outcome=AuditLog.Outcome.REFUSED)
