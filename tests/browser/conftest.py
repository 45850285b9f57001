"""Playwright fixtures: Debian's /usr/bin/chromium against pytest-django's live server.

Never ``playwright install``: the tests launch the system browser by path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are still
# synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (skips locally without it; fails in CI)."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing and CI=true")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page; fails the test on any uncaught page error or dialog."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_dialog(dialog: Any) -> None:
        # An alert() would mean injected markup ran: record it and dismiss.
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.cd_errors = errors
    try:
        yield page
    finally:
        context.close()
    assert not errors, errors


@pytest.fixture
def login(live_server: Any, django_user_model: Any) -> Callable[..., Any]:
    """Log ``page`` in through the real admin login form as a new user."""

    def do_login(page: Any, username: str = "admin", *, superuser: bool = True, perms: tuple[str, ...] = ()) -> Any:
        from django.contrib.auth.models import Permission

        user = django_user_model.objects.create_user(
            username=username, password="pw-123456", is_staff=True, is_superuser=superuser
        )
        if perms:
            user.user_permissions.set(
                Permission.objects.filter(content_type__app_label="cache_dashboard", codename__in=perms)
            )
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", "pw-123456")
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return user

    return do_login


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot under tests/artifacts/ (gitignored)."""

    def take(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def publish_screenshot(path: Path) -> None:
    """Copy a screenshot to docs/dashboard.png (the README's picture)."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    docs.mkdir(exist_ok=True)
    shutil.copyfile(path, docs / "dashboard.png")


@pytest.fixture
def fast_poll(settings: Any) -> None:
    """The overview polls every second (its default is a few)."""
    settings.CACHE_DASHBOARD = {**settings.CACHE_DASHBOARD, "POLL_INTERVAL": 1}
