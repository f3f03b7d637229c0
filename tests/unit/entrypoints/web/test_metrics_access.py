"""``/metrics`` only for the configured scrapers (issue "Trust under attack": it was public): a client
address inside ``ECERT_METRICS_ALLOW`` or the bearer token of ``ECERT_METRICS_TOKEN``; nothing by
default. A malformed setting is ``bad_setting``, never a silently open or shut door."""

from __future__ import annotations

import pytest

from ecert.config import WebSettings
from ecert.domain.errors import EcertError
from ecert.entrypoints.web.routes_ops import metrics_allowed


def test_nobody_reads_metrics_by_default() -> None:
    web = WebSettings.from_environ({})
    assert (web.metrics_allow, web.metrics_token) == ((), "")
    for client in ("127.0.0.1", "::1", "203.0.113.9", "testclient", "unknown"):
        assert not metrics_allowed(client, "", web.metrics_allow, web.metrics_token)
        assert not metrics_allowed(client, "Bearer ", web.metrics_allow, web.metrics_token)  # empty token


def test_configured_addresses_and_networks_read_metrics() -> None:
    web = WebSettings.from_environ({"ECERT_METRICS_ALLOW": "127.0.0.1, 10.8.0.0/16,::1"})
    assert metrics_allowed("127.0.0.1", "", web.metrics_allow, "")
    assert metrics_allowed("10.8.200.3", "", web.metrics_allow, "")
    assert metrics_allowed("::1", "", web.metrics_allow, "")
    assert not metrics_allowed("10.9.0.1", "", web.metrics_allow, "")
    assert not metrics_allowed("127.0.0.2", "", web.metrics_allow, "")


def test_the_token_reads_metrics_from_anywhere_and_only_the_token() -> None:
    token = "s3cret-scraper"
    assert metrics_allowed("203.0.113.9", f"Bearer {token}", (), token)
    assert metrics_allowed("203.0.113.9", f"bearer {token}", (), token)
    assert not metrics_allowed("203.0.113.9", "Bearer s3cret-scrapeR", (), token)
    assert not metrics_allowed("203.0.113.9", f"Basic {token}", (), token)
    assert not metrics_allowed("203.0.113.9", token, (), token)


@pytest.mark.parametrize("variable", ["ECERT_METRICS_ALLOW", "ECERT_TRUSTED_PROXIES"])
def test_an_address_list_that_does_not_parse_is_a_bad_setting(variable: str) -> None:
    with pytest.raises(EcertError) as info:
        WebSettings.from_environ({variable: "127.0.0.1,localhost"})
    assert info.value.code == "bad_setting"
