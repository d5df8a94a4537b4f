"""A deployment (DJANGO_ENV=production) passes `manage.py check --deploy` cleanly, and refuses to
start with the local development key (issue 13). Each case is a fresh process: settings load once."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from django.conf import settings

from tests.conftest import database_url_of_tests


def manage_check(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``manage.py check`` in a process of its own, with only ``env`` set of the variables that matter."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in {"DJANGO_ENV", "DJANGO_SECRET_KEY", "DJANGO_DEBUG", "FIELD_ENCRYPTION_KEY"}}
    environment.update({"DATABASE_URL": database_url_of_tests(), "REDIS_URL": settings.REDIS_URL, **env})
    return subprocess.run([sys.executable, "manage.py", "check", *args], cwd=settings.BASE_DIR, env=environment,
                          capture_output=True, text=True, timeout=120)


def check_deploy(**env: str) -> subprocess.CompletedProcess:
    return manage_check("--deploy", "--fail-level", "WARNING", **env)


def test_production_with_keys_of_its_own_passes_the_deploy_check(db):
    result = check_deploy(DJANGO_ENV="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                          FIELD_ENCRYPTION_KEY=secrets.token_urlsafe(32))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_with_the_local_key_or_none(db):
    for key in ["", settings.LOCAL_SECRET_KEY]:
        result = check_deploy(DJANGO_ENV="production", DJANGO_SECRET_KEY=key,
                              FIELD_ENCRYPTION_KEY=secrets.token_urlsafe(32))
        assert result.returncode != 0
        assert "ImproperlyConfigured: DJANGO_ENV=production needs DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_key_for_identity_documents(db):
    # the key that encrypts KYC document numbers and files at rest
    for salt in ["", settings.LOCAL_FIELD_ENCRYPTION_KEY]:
        result = check_deploy(DJANGO_ENV="production", DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
                              FIELD_ENCRYPTION_KEY=salt)
        assert result.returncode != 0
        assert "ImproperlyConfigured: DJANGO_ENV=production needs FIELD_ENCRYPTION_KEY" in result.stderr


def test_a_local_run_still_starts_with_the_local_key(db):
    result = manage_check()
    assert result.returncode == 0, result.stderr
