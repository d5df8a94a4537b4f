from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A player or a member of staff; the role comes from the user's groups."""

    email = models.EmailField("email address", blank=True)
    # ISO 3166-1 alpha-2, as registered; geofencing falls back to it when no trusted header is set.
    country = models.CharField(max_length=2, blank=True, default="")
    # The address the account was registered from (transaction monitoring's shared_ip rule).
    registration_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        # The shared_ip rule counts the accounts registered from one address in a day (risk.aml).
        indexes = [models.Index(fields=["registration_ip", "date_joined"], name="user_registration_ip_idx")]


class UserSession(models.Model):
    """A logged-in client: a browser session or an API token, with where it came from and when it was
    last seen. The player lists them and may end one (API.md "Responsible gambling"); ending a session
    deletes Django's session row, ending a token deletes the token, so that client is logged out at once.
    ``started_at`` is what the player's session time limit counts from."""

    class Kind(models.TextChoices):
        SESSION = "session", "Browser session"
        TOKEN = "token", "API token"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="client_sessions")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=64, unique=True)  # the session key, or the SHA-256 of the token
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-started_at"], name="usersession_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.user} from {self.started_at:%Y-%m-%d %H:%M}"
