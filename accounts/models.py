from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A player or a member of staff; the role comes from the user's groups."""

    email = models.EmailField("email address", blank=True)
    # ISO 3166-1 alpha-2, as registered; geofencing falls back to it when no trusted header is set.
    country = models.CharField(max_length=2, blank=True, default="")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
