"""The platform sign-in's settings (``ECERT_OIDC_*``, config.py): off without an issuer, https only
(plain http only for this machine, and only when allowed), a client id required, ``openid`` always
asked for; a bad value is ``bad_setting`` naming the variable."""

from __future__ import annotations

import pytest

from ecert.config import OidcSettings, load_settings
from ecert.domain.errors import BadSetting


def test_without_an_issuer_the_platform_sign_in_is_off() -> None:
    assert not load_settings(environ={}).oidc.enabled


def test_the_settings_are_read_with_their_defaults() -> None:
    s = OidcSettings.from_environ(
        {
            "ECERT_OIDC_ISSUER": "https://sso.example.gov.cn/",
            "ECERT_OIDC_CLIENT_ID": "ecert",
            "ECERT_OIDC_SCOPES": "profile",
        }
    )
    assert s.enabled and s.issuer == "https://sso.example.gov.cn" and s.client_id == "ecert"
    assert (s.id_number_claim, s.name_claim, s.scopes, s.allow_http) == (
        "id_number",
        "name",
        ("openid", "profile"),
        False,
    )


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ECERT_OIDC_ISSUER": "http://sso.example.gov.cn", "ECERT_OIDC_CLIENT_ID": "x"}, "ECERT_OIDC_ISSUER"),
        ({"ECERT_OIDC_ISSUER": "http://127.0.0.1:9", "ECERT_OIDC_CLIENT_ID": "x"}, "ECERT_OIDC_ISSUER"),
        (
            {
                "ECERT_OIDC_ISSUER": "http://sso.example.gov.cn",
                "ECERT_OIDC_CLIENT_ID": "x",
                "ECERT_OIDC_ALLOW_HTTP": "1",
            },
            "ECERT_OIDC_ISSUER",
        ),
        ({"ECERT_OIDC_ISSUER": "sso.example.gov.cn", "ECERT_OIDC_CLIENT_ID": "x"}, "ECERT_OIDC_ISSUER"),
        ({"ECERT_OIDC_ISSUER": "https://sso.example.gov.cn"}, "ECERT_OIDC_CLIENT_ID"),
        ({"ECERT_OIDC_ALLOW_HTTP": "maybe"}, "ECERT_OIDC_ALLOW_HTTP"),
    ],
)
def test_a_bad_platform_setting_is_refused_at_start(env: dict[str, str], variable: str) -> None:
    with pytest.raises(BadSetting) as bad:
        load_settings(environ=env)
    assert bad.value.variable == variable


def test_a_loopback_http_issuer_is_accepted_when_allowed_tests_and_demo_only() -> None:
    s = OidcSettings.from_environ(
        {"ECERT_OIDC_ISSUER": "http://127.0.0.1:9000", "ECERT_OIDC_CLIENT_ID": "x", "ECERT_OIDC_ALLOW_HTTP": "yes"}
    )
    assert s.allow_http and s.issuer == "http://127.0.0.1:9000"
