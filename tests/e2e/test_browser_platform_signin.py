"""A holder signs in with the government service platform in a real browser (issue 17, R-ACC-1):
Debian's Chromium driven by Playwright, an ``ecert serve`` process configured for the platform, and
the real OpenID provider of tests/idp (panva's oidc-provider) on 127.0.0.1, both started by the test.

The holder opens the login page, chooses the platform, signs in on the provider's page, lands on the
portal (/me) linked to the demo holder's registration, downloads the certificate, and signs out: the
sign-out reaches the provider (RP-initiated logout), which asks, ends its session and sends the browser
back to the site; a new platform sign-in then asks for the login again.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import create_engine, select

from ecert.adapters.db.tables import external_identities, registrations
from ecert.testing import free_port, stop, wait_ready
from helpers_browser import ECERT, chromium, shot, site_env
from helpers_idp import CLIENT_ID, CLIENT_SECRET, running_idp

TODAY = "2021-03-01"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p, chromium(p) as b:
        yield b


def test_a_holder_signs_in_through_the_platform_downloads_and_signs_out_R_ACC_1(
    tmp_path: Path, browser: Browser
) -> None:
    env = site_env(tmp_path, ECERT_TODAY=TODAY)
    demo = subprocess.run(
        [ECERT, "demo", "--holders", "40", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    holder = next(a for a in json.loads(demo.stdout)["accounts"] if a["role"] == "holder")
    db = create_engine(env["ECERT_DATABASE_URL"])
    with db.connect() as conn:
        person = conn.execute(
            select(registrations.c.id_number, registrations.c.name).where(
                registrations.c.registration_no == holder["registration_no"]
            )
        ).one()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    users = {"he.jian": {"id_number": person.id_number, "name": person.name}}
    with running_idp(users, [base]) as idp:
        oidc = {
            "ECERT_OIDC_ISSUER": idp.issuer, "ECERT_OIDC_CLIENT_ID": CLIENT_ID,
            "ECERT_OIDC_CLIENT_SECRET": CLIENT_SECRET, "ECERT_OIDC_ALLOW_HTTP": "1",
        }  # fmt: skip
        proc = subprocess.Popen(
            [ECERT, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path, env={**env, **oidc},
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        try:
            wait_ready(base, 30, proc)
            page = browser.new_page(accept_downloads=True, viewport={"width": 420, "height": 900})
            # The provider's pages import a web font from the internet: not here.
            page.route("https://fonts.googleapis.com/**", lambda route: route.abort())
            page.goto(f"{base}/login")
            shot(page, "sso-00-login")
            page.click("text=使用国家政务服务平台账号登录")
            page.wait_for_url(f"{idp.issuer}/**")
            shot(page, "sso-01-provider-login")
            page.fill("input[name=login]", "he.jian")
            page.fill("input[name=password]", "any")
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/me")
            assert holder["registration_no"] in page.content()
            shot(page, "sso-02-portal")
            with db.connect() as conn:  # the first sign-in linked the registration's existing account
                assert conn.execute(select(external_identities.c.username)).scalar_one() == holder["username"]

            page.check("form[action='/me/download'] input[name=confirm]")
            with page.expect_download() as dl:
                page.click("form[action='/me/download'] button[type=submit]")
            pdf = tmp_path / "c.pdf"
            dl.value.save_as(pdf)
            assert pdf.read_bytes().startswith(b"%PDF")

            page.click("form[action='/logout'] button")
            page.wait_for_url(f"{idp.issuer}/session/end**")
            shot(page, "sso-03-provider-logout")
            page.click("button[value=yes]")
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/me")
            assert page.url.startswith(f"{base}/login")  # signed out here
            page.click("text=使用国家政务服务平台账号登录")
            page.wait_for_url(f"{idp.issuer}/**")
            assert page.locator("input[name=login]").count() == 1  # and there: the provider asks again
        finally:
            stop(proc)
            db.dispose()
