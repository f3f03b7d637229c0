"""Target URLs and back-off of subscribers' notifications (issue 14 item 1): pure rules."""

from __future__ import annotations

import pytest

from ecert.domain import subscriptions as subs
from ecert.domain.errors import BadInput


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "169.254.169.254", "10.1.2.3", "192.168.0.10", "172.16.5.4", "::1", "fe80::1", "fc00::5",
     "::ffff:127.0.0.1", "::ffff:169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_refused_in_production__issue14(address: str) -> None:
    assert not subs.address_allowed(address, allow_private=False)


def test_public_addresses_pass_and_loopback_only_when_allowed__issue14() -> None:
    assert subs.address_allowed("93.184.216.34", allow_private=False)
    assert subs.address_allowed("2606:2800:220:1:248:1893:25c8:1946", allow_private=False)
    assert subs.address_allowed("127.0.0.1", allow_private=True)
    assert not subs.address_allowed("0.0.0.0", allow_private=True)  # never: unspecified
    assert not subs.address_allowed("not-an-ip", allow_private=True)


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/x", "ftp://hooks.example.com/", "https://user:pw@hooks.example.com/", "https:///x",
     "https://hooks.example.com/#frag", "https://hooks.example.com/a b", ""],
)  # fmt: skip
def test_bad_urls_are_refused_naming_the_field__issue14(url: str) -> None:
    with pytest.raises(BadInput) as err:
        subs.parse_target(url, allow_http=False)
    assert err.value.problems[0].column == "url"


def test_literal_metadata_and_loopback_hosts_refused_at_once_in_production__issue14() -> None:
    for url in ("https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data", "https://[::1]:8443/"):
        with pytest.raises(BadInput):
            subs.check_literal_host(subs.parse_target(url, allow_http=False), allow_private=False)
    target = subs.parse_target("https://hooks.example.com:8443/in?x=1", allow_http=False)
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/in?x=1")
    subs.check_literal_host(target, allow_private=False)  # a name: checked when resolved


def test_backoff_doubles_up_to_its_cap__issue14() -> None:
    waits = [subs.backoff_seconds(n, base=30, cap=600) for n in range(1, 8)]
    assert waits == [30, 60, 120, 240, 480, 600, 600]


def test_event_types_and_the_body_carry_no_personal_data__issue14() -> None:
    from datetime import UTC, date, datetime

    from ecert.domain.model import SupersessionCause

    assert subs.event_type_for(SupersessionCause.REVOCATION) == "registration.revoked"
    assert subs.event_type_for(SupersessionCause.CANCELLATION) == "registration.cancelled"
    assert subs.event_type_for(SupersessionCause.RESEAL) == "certificate.superseded"
    at = datetime(2021, 3, 1, 2, 0, tzinfo=UTC)
    for type_, basis_shown in (("registration.cancelled", True), ("certificate.superseded", False)):
        event = subs.Event(
            "msg_1", "s1", type_, "x", "浙1332010201200001", "ABCDEFGHJKMNPQRS", date(2021, 3, 1), "第X条", at
        )
        body = subs.event_body(event, "https://e.test/")
        assert set(body) == {"type", "timestamp", "data"} and body["type"] == type_
        keys = {"event_id", "registration_no", "serial", "effective_date", "cause", "verify_url"}
        assert set(body["data"]) == keys | ({"legal_basis"} if basis_shown else set())
        assert (
            body["data"]["verify_url"]
            == "https://e.test/attest?registration_no=%E6%B5%991332010201200001&date=2021-03-01"
        )
