"""Logins and failed logins go to the security audit trail (Django's auth signals)."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record


@receiver(user_logged_in)
def record_login(sender, request, user, **kwargs):
    actor = Actor.from_request(request) if request is not None else Actor.of(user)
    if actor.user is None:  # the session is not attached yet when token logins fire the signal
        actor = Actor(user=user, ip=actor.ip, user_agent=actor.user_agent, label=user.get_username())
    audit_record(
        actor=actor, action="auth.login", category=AuditLog.Category.SECURITY,
        resource_type="user", resource_id=user.pk, resource_label=user.get_username(),
    )


@receiver(user_login_failed)
def record_failed_login(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    actor = Actor.from_request(request) if request is not None else Actor()
    audit_record(
        actor=Actor(ip=actor.ip, user_agent=actor.user_agent, label=username or "anonymous"),
        action="auth.login_failed", category=AuditLog.Category.SECURITY,
        resource_type="user", resource_label=username,
        severity=AuditLog.Severity.WARNING, outcome=AuditLog.Outcome.REFUSED,
    )
