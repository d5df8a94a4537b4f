import pytest


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    """Tests here make many users (the seed eight): Argon2, 100 MB a hash, would be most of the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
