"""Security events from Django's auth signals (docs/sessions.md): every log-in, failed log-in and log-out
is audited in the security category with the client's address and user agent, never with a password;
a page log-in opens the browser's client session and a log-out ends it. Lockouts are audited by
accounts.throttle, token creation and revocation by accounts.sessions."""

from dataclasses import replace

from django.contrib.auth import SESSION_KEY
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts.models import UserSession
from accounts.sessions import browser_session_log_out, client_session_open
from audit.context import Actor
from audit.models import AuditLog
from audit.services import audit_record


@receiver(user_logged_in)
def log_in_record(sender, request, user, **kwargs):
    # the request's user is not the one logging in yet when the token endpoint fires the signal
    actor = replace(Actor.from_request(request), user=user, label=user.get_username())
    audit_record(actor=actor, action="auth.login", category=AuditLog.Category.SECURITY,
                 resource_type="user", resource_id=user.pk, resource_label=user.get_username())
    # Django's login() has just put the user in the browser's session; the token endpoint logs in
    # without one (its session is accounts.sessions.token_issue's)
    if request.session.get(SESSION_KEY) == user._meta.pk.value_to_string(user):
        if request.session.session_key is None:  # login() emptied another user's session: key it now
            request.session.save()
        client_session_open(user=user, kind=UserSession.Kind.SESSION, key=request.session.session_key, actor=actor)


@receiver(user_login_failed)
def log_in_failure_record(sender, credentials, request=None, **kwargs):
    # django-axes' receiver ran first (axes is installed before accounts) and has said whether this
    # failure locked the username or address, or came while it was locked
    username = str(credentials.get("username", ""))[:150]
    actor = Actor.from_request(request) if request is not None else Actor()
    audit_record(actor=Actor(ip=actor.ip, user_agent=actor.user_agent, label=username or "anonymous"),
                 action="auth.login_failed", category=AuditLog.Category.SECURITY, resource_type="user",
                 resource_label=username, details={"locked_out": bool(getattr(request, "axes_locked_out", False))},
                 severity=AuditLog.Severity.WARNING, outcome=AuditLog.Outcome.REFUSED)


@receiver(user_logged_out)
def log_out_record(sender, request, user, **kwargs):
    if user is None:  # an anonymous client's log-out ends nothing
        return
    browser_session_log_out(key=request.session.session_key)
    audit_record(actor=Actor.from_request(request), action="auth.logout", category=AuditLog.Category.SECURITY,
                 resource_type="user", resource_id=user.pk, resource_label=user.get_username())
