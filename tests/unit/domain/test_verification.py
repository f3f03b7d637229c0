"""The verdict pages' list of checks (R-DOC-4): each line stands for one or more of the verification's
checks; a line fails if any of its checks failed, passes only if every one of them was made and
passed, and is "not checked" otherwise — a check never reached is never shown as passed."""

from __future__ import annotations

from ecert.domain.verification import CHECK_LINES, CHECKS, check_lines


def _outcomes(checks: dict[str, bool | None], channel: str) -> dict[str, bool | None]:
    return {line.code: line.passed for line in check_lines(checks, channel)}


def test_every_check_is_on_each_channels_list_once_at_most() -> None:
    for channel, lines in CHECK_LINES.items():
        keys = [k for _, ks in lines for k in ks]
        assert len(keys) == len(set(keys)) and set(keys) <= set(CHECKS), channel
    pdf = {k for _, ks in CHECK_LINES["pdf"] for k in ks}
    assert pdf == set(CHECKS)  # a PDF's list accounts for every check made


def test_a_line_of_several_checks_fails_on_any_failure_and_passes_only_when_all_passed() -> None:
    made = dict.fromkeys(CHECKS)
    assert set(_outcomes(made, "pdf").values()) == {None}  # nothing decided: nothing passed
    made.update(signature=True, unmodified=True, trusted=True, qr_token=True, bound=False)
    assert _outcomes(made, "pdf") == {
        "seal": True, "unchanged": True, "trusted": True, "issued": False, "current": None, "window": None,
    }  # fmt: skip
    made.update(bound=True)  # bound, but the registry was not read yet
    assert _outcomes(made, "pdf")["issued"] is None
    made.update(record=True, current=True, window=False)
    assert _outcomes(made, "pdf") == {
        "seal": True, "unchanged": True, "trusted": True, "issued": True, "current": True, "window": False,
    }  # fmt: skip
    assert _outcomes({"qr_token": True, "record": True, "current": False}, "qr") == {
        "seal": True, "issued": True, "current": False, "window": None,
    }  # fmt: skip


def test_lines_read_in_both_languages() -> None:
    (seal, *_) = check_lines(dict.fromkeys(CHECKS, True), "qr")
    assert seal.text("zh") == "二维码签名有效,未被改动"
    assert seal.text("en") == "The QR code's signature verifies (unchanged)"
