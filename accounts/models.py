from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models

from audit.tenancy import TenantQuerySet


class Tenant(models.Model):
    """A white-label operator: its players and staff, its branding on the player pages, its own limit
    profile (risk.LimitProfile, scope "tenant") and commission plan (agents.CommissionPlan).
    ``settings.PLATFORM_TENANT`` (``oddslab``) is the default one, created by a migration."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    colour = models.CharField(max_length=7, default="#1f6feb",
                              validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour is #rrggbb.")])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


def platform_tenant_id() -> int:
    """Where a user created without a tenant belongs (``createsuperuser``, the admin's add form)."""
    return Tenant.objects.values_list("pk", flat=True).get(slug=settings.PLATFORM_TENANT)


class TenantUserManager(UserManager.from_queryset(TenantQuerySet)):
    pass


class User(AbstractUser):
    """A player or a member of staff; the role comes from the user's groups."""

    tenant_paths = ("tenant",)

    email = models.EmailField("email address", blank=True)
    # ISO 3166-1 alpha-2, as registered; geofencing falls back to it when no trusted header is set.
    country = models.CharField(max_length=2, blank=True, default="")
    # The address the account was registered from (transaction monitoring's shared_ip rule).
    registration_ip = models.GenericIPAddressField(null=True, blank=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="users")
    # A player an agent brought (created, or registered with the agent's code); the agent's players.
    agent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="agent_players",
                              limit_choices_to={"groups__name": "agent"})
    # An agent's code, which a player may register with (API.md "Tenants, agents").
    agent_code = models.CharField(max_length=16, unique=True, null=True, blank=True)

    objects = TenantUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        # The shared_ip rule counts the accounts registered from one address in a day (risk.aml).
        indexes = [models.Index(fields=["registration_ip", "date_joined"], name="user_registration_ip_idx")]

    def save(self, *args, **kwargs) -> None:
        if self.tenant_id is None:  # createsuperuser, or a user made without naming a tenant
            self.tenant_id = platform_tenant_id()
        super().save(*args, **kwargs)


class UserSession(models.Model):
    """A logged-in client: a browser session or an API token, with where it came from and when it was
    last seen. The player lists them and may end one (API.md "Responsible gambling"); ending a session
    deletes Django's session row, ending a token deletes the token, so that client is logged out at once.
    ``started_at`` is what the player's session time limit counts from."""

    tenant_paths = ("user__tenant",)  # audit.tenancy

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
    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "-started_at"], name="usersession_user_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.user} from {self.started_at:%Y-%m-%d %H:%M}"
