from django.utils.deprecation import MiddlewareMixin

from accounts.sessions import browser_session_started
from audit.context import Actor


class ClientSessionMiddleware(MiddlewareMixin):
    """A logged-in browser's ``request.session_started``: when its client session started, which the
    player's session time limit counts from (audit.context.Actor), its last-seen time kept
    (accounts.sessions). Read before the view, not on every request: static files, which WhiteNoise
    answers before any view, read nothing. An API call with a token takes its token's session instead
    (accounts.authentication)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        key = request.session.session_key
        if key and request.user.is_authenticated:
            request.session_started = browser_session_started(user=request.user, key=key,
                                                              actor=Actor.from_request(request))
