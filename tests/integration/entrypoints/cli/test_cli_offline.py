"""``ecert keys export-bundle`` and ``ecert verify … --offline --bundle DIR`` (issue 14 item 2,
docs/cli.md): no database at all — an unreachable database URL, or none and no file made — the
signature and window from the certificate, the status from the kit's signed list; the verdict says
what it could not check and how old the list is; a stale list gives "indeterminate", never "valid"; a
truncated list, one re-signed with an unknown key and a missing one are refused with their reason code.
Also the list and the offline page as the web serves them.

One small site (tests/helpers_offline.py, SQLite) with three certificates: current, superseded,
revoked; the kit is written once by the command line."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from ecert.adapters import offline_kit, qr_token
from ecert.adapters import status_list as fmt
from ecert.adapters.signing.jws import JwsSigner
from ecert.domain.status_list import CURRENT, REVOKED, SUPERSEDED
from helpers_offline import OfflineSite, build_site

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # nothing listens on port 1


@dataclass
class Kit:
    site: OfflineSite
    dir: Path
    export: dict[str, Any]

    def verify(self, *args: str, bundle: Path | None = None, today: str | None = None, **env: str | None) -> Any:
        """``ecert ARGS --offline --bundle DIR --json`` with the database unreachable; (exit code, JSON)."""
        res = self.site.cli(*args, "--offline", "--bundle", str(bundle or self.dir), "--json", today=today,
                            env={"ECERT_DATABASE_URL": UNREACHABLE, **env})  # type: ignore[dict-item]  # fmt: skip
        return res.exit_code, json.loads(res.stdout)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kit]:
    site = build_site(tmp_path_factory.mktemp("offline-cli"))
    out = site.root / "kit"
    res = site.cli("keys", "export-bundle", "--out", str(out), "--json")
    assert res.exit_code == 0, res.output
    yield Kit(site, out, json.loads(res.stdout))


def test_export_bundle_writes_the_keys_the_roots_and_a_fresh_signed_list__issue_14(kit: Kit) -> None:
    assert kit.export["files"] == ["jwks.json", "seal-roots.pem", "status-list.jws"]  # no SM2 seal configured
    assert sorted(p.name for p in kit.dir.iterdir()) == kit.export["files"]
    assert (kit.export["status_list"]["listed"], kit.export["status_list"]["covered"]) == (2, 3)
    loaded = offline_kit.load(kit.dir)
    assert loaded.problem is None and loaded.status is not None and len(loaded.seal_roots) == 1
    assert set(loaded.keys) == set(kit.site.core.qr_public_keys)


@pytest.mark.parametrize(
    ("which", "status", "codes"),
    [
        ("current", "valid", ["valid", "offline_unchecked"]),
        ("superseded", "superseded", ["superseded", "offline_unchecked"]),
        ("revoked", "revoked", ["revoked_listed", "offline_unchecked"]),
    ],
)
def test_verify_qr_offline_takes_the_status_from_the_list_with_no_database__issue_14(
    kit: Kit, which: str, status: str, codes: list[str]
) -> None:
    code, d = kit.verify("verify-qr", kit.site.qr[which])
    assert code == 0 and d["status"] == status and d["reason_codes"] == codes
    assert d["offline"] is True and "registry_data" in d["not_checked"]
    assert d["status_list_issued_at"] == kit.export["status_list"]["issued_at"]
    assert d["status_list_problem"] is None and d["status_list_age_seconds"] >= 0


def test_verify_offline_needs_no_database_url_and_makes_no_database_file__issue_14(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the default database (var/ecert.db) would be made
    code, d = kit.verify("verify-qr", kit.site.qr["current"], ECERT_DATABASE_URL=None)
    assert (code, d["status"]) == (0, "valid")
    assert list(tmp_path.iterdir()) == []


def test_verify_file_offline_checks_the_seal_against_the_kit_roots__issue_14(kit: Kit, tmp_path: Path) -> None:
    for which, status in (("current", "valid"), ("superseded", "superseded")):
        pdf = tmp_path / f"{which}.pdf"
        pdf.write_bytes(kit.site.pdf[which])
        code, d = kit.verify("verify", str(pdf))
        assert (code, d["status"]) == (0, status)
        assert d["checks"]["signature"] and d["checks"]["trusted"] and d["checks"]["bound"]
    changed = tmp_path / "changed.pdf"
    pdf_bytes = kit.site.pdf["current"]
    assert b"/Widths [1000.0 " in pdf_bytes
    changed.write_bytes(pdf_bytes.replace(b"/Widths [1000.0 ", b"/Widths [1000.1 ", 1))  # a glyph width, sealed
    assert kit.verify("verify", str(changed))[1]["status"] == "tampered"


def test_a_list_past_its_next_update_gives_indeterminate_never_valid__issue_14(kit: Kit) -> None:
    for which in ("current", "revoked"):
        code, d = kit.verify("verify-qr", kit.site.qr[which], today="2021-03-03")
        assert (code, d["status"]) == (0, "indeterminate")
        assert d["reason_codes"] == ["status_list_stale", "offline_unchecked"]
        assert d["status_list_age_seconds"] > 24 * 3600


def _kit_with(kit: Kit, tmp: Path, text: str | None) -> Path:
    copy = tmp / "kit"
    shutil.copytree(kit.dir, copy)
    if text is None:
        (copy / offline_kit.STATUS_LIST).unlink()
    else:
        (copy / offline_kit.STATUS_LIST).write_text(text, encoding="ascii")
    return copy


def test_a_truncated_list_a_resigned_list_and_no_list_are_refused_with_their_reason__issue_14(
    kit: Kit, tmp_path: Path
) -> None:
    genuine = (kit.dir / offline_kit.STATUS_LIST).read_text("ascii")
    payload = genuine.split(".")[1]
    intruder = JwsSigner(Ed25519PrivateKey.generate())
    now = datetime.now(UTC)
    resigned = intruder.sign_bytes(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)),
        fmt.header(intruder.kid, now, now + timedelta(days=9)),
    )
    cases = [
        ("truncated", genuine[: len(genuine) - 30], "status_list_malformed"),
        ("resigned", resigned, "status_list_unknown_key"),
        ("missing", None, "status_list_missing"),
    ]
    for name, text, reason in cases:
        code, d = kit.verify("verify-qr", kit.site.qr["current"], bundle=_kit_with(kit, tmp_path / name, text))
        assert (code, d["status"], d["reason_codes"]) == (0, "indeterminate", [reason]), name
        assert d["status_list_problem"] == reason and d["checks"]["qr_token"] is True


def test_offline_without_a_bundle_or_with_a_bundle_without_keys_is_bad_input__issue_14(
    kit: Kit, tmp_path: Path
) -> None:
    res = kit.site.cli(
        "verify-qr", kit.site.qr["current"], "--offline", "--json", env={"ECERT_DATABASE_URL": UNREACHABLE}
    )
    assert res.exit_code == 2 and json.loads(res.stdout)["error"]["code"] == "bad_input"
    code, d = kit.verify("verify-qr", kit.site.qr["current"], bundle=tmp_path)
    assert code == 2 and d["error"]["details"][0]["message"] == f"离线核验包缺少 {offline_kit.JWKS}"


def test_the_web_serves_the_signed_list_and_the_installable_offline_page__issue_14(kit: Kit) -> None:
    from ecert.entrypoints.web.app import create_app

    client = TestClient(create_app(kit.site.core))
    res = client.get("/.well-known/ecert-status-list", headers={"Accept-Encoding": "gzip"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/jose")
    assert res.headers["content-encoding"] == "gzip" and res.headers["vary"] == "Accept-Encoding"
    plain = client.get("/.well-known/ecert-status-list", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == res.text
    keys = offline_kit.public_keys(client.get("/.well-known/jwks.json").json())
    listed = fmt.verify(res.text, keys)
    serials = [qr_token.decode(kit.site.qr[w], keys).serial for w in ("current", "superseded", "revoked")]
    assert [listed.status_of(s) for s in serials] == [CURRENT, SUPERSEDED, REVOKED]

    page = client.get("/offline/")
    assert page.status_code == 200 and 'rel="manifest"' in page.text and "/static/offline/verifier.js" in page.text
    assert "'wasm-unsafe-eval'" in page.headers["content-security-policy"]
    manifest = client.get("/offline/manifest.webmanifest").json()
    assert manifest["start_url"] == manifest["scope"] == "/offline/" and manifest["display"] == "standalone"
    sw = client.get("/offline/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript") and "/.well-known/ecert-status-list" in sw.text
