"""Browser tests: Playwright's sync API driving the system Chromium against a real Daphne."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ODDSLAB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser(monkeypatch):
    """One Chromium per test. Playwright's sync API runs an event loop in this thread while it is
    open: the test's own ORM calls are still synchronous (so Django is told to allow them), and
    services that publish live messages run through ``operator`` in a thread of their own."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("no system Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    yield page
    context.close()
    from django.db import connections

    connections.close_all()  # what the test body opened while Playwright's loop was running


@pytest.fixture
def site(daphne_server):
    return daphne_server


@pytest.fixture
def site_with_worker(request, celery_workers, monkeypatch):
    """Daphne and a Celery worker on the worker's own queue (in-play bets are decided there)."""
    from oddslab.celery import app

    celery_workers()
    monkeypatch.setenv("CELERY_TASK_DEFAULT_QUEUE", app.conf.task_default_queue)
    return request.getfixturevalue("daphne_server")


def operator(service, **kwargs):
    """Call a service as the operator would, from another thread (see ``browser``)."""
    import threading

    from django.db import connections

    result: list = []

    def run():
        try:
            result.append(service(**kwargs))
        except Exception as exc:  # re-raised in the test
            result.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert result, f"{service.__name__} did not finish"
    if isinstance(result[0], Exception):
        raise result[0]
    return result[0]


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, site: str, username: str, password: str = "a-long-test-password", then: str = "/") -> None:
    page.goto(f"{site}/accounts/login/?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}{then}")
    wait_for_sockets(page)


def wait_for_sockets(page) -> None:
    """The page's sockets are open (the ws extension fired htmx:wsOpen)."""
    page.wait_for_selector("#odds-socket[data-socket=open]", state="attached")
    for socket in ("#me-socket", "#challenges-socket"):
        if page.query_selector(socket):
            page.wait_for_selector(f"{socket}[data-socket=open]", state="attached")
