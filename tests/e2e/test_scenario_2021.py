"""A year of the pilot, scripted over the real calendar of 2021 through the ``ecert`` CLI (ECERT_TODAY stepped
day by day), on SQLite and PostgreSQL. Five holders, one story each:

- A: specialty expired in 2020, renewed under the transitional rule (R-REN-2): apply 2021-05-10, approved
  2021-05-20 → valid until 2024-05-19 (R-REN-5).
- B: specialty ended 2021-05-31, no application: still ``expired`` through 2021-06-30, lapsed by the sweep
  of 2021-07-01 (R-REN-3, R-LAPSE-1), and then no longer renewable.
- C: valid until 2021-08-15, applies on 2021-07-16 (exactly 30 days before, R-REN-1), approved on
  2021-08-20 after the end → valid until 2024-08-19; the sweeps in between leave it (R-REN-3).
- D: born 1957-09-10, approval on 2021-09-01 capped at the 65th birthday 2022-09-10 (R-REN-5, R-DATE-2).
- E: a pilot-province (沪) holder: certificate issued 2021-03-01, employer changed 2021-04-01 → the old PDF
  verifies ``superseded``, a new one ``valid`` (R-CHG-1, R-CHG-3, R-SCOPE-1).
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from ecert.adapters.db.tables import registrations, specialty_registrations
from ecert.adapters.synthetic_signature import signature_png
from ecert.domain.ids import make_id_number, make_registration_no, make_uscc
from ecert.domain.model import Gender
from helpers_cli import COLUMNS

HEADER = COLUMNS  # the import's required columns
ZJ_USCC = make_uscc("330100", "MA21KJ0A1")
SH_USCC = make_uscc("310100", "MA21HP0E5")
NEW_SH_USCC = make_uscc("310100", "MA21HP9N2")

# name, province abbreviation, province code, serial, birth date, specialty, validity end
HOLDERS = {
    "A": ("赵一鸣", "浙", "33", 101, date(1975, 3, 3), "建筑工程", "2020-10-31"),
    "B": ("钱二虎", "浙", "33", 102, date(1982, 11, 20), "公路工程", "2021-05-31"),
    "C": ("孙三立", "浙", "33", 103, date(1978, 8, 8), "机电工程", "2021-08-15"),
    "D": ("李四海", "浙", "33", 104, date(1957, 9, 10), "市政公用工程", "2021-09-20"),
    "E": ("周五洲", "沪", "31", 105, date(1985, 4, 12), "建筑工程", "2023-06-30"),
}


class Registry:
    """The CLI, as an operator drives it, with the day to act on."""

    def __init__(self, ecert: Any, engine: Engine, tmp_path: Path) -> None:
        self.ecert, self.engine, self.tmp = ecert, engine, tmp_path
        self.no = {k: make_registration_no(h[1], h[2], 2010, 2012, h[3]) for k, h in HOLDERS.items()}

    def ok(self, *args: str, today: str, input: str | None = None) -> Any:
        res = self.ecert(*args, "--json", today=today, input=input)
        assert res.exit_code == 0, (args, today, res.stdout, res.stderr)
        return res.json()

    def refused(self, *args: str, today: str) -> str:
        res = self.ecert(*args, "--json", today=today)
        assert res.exit_code == 1, (args, today, res.stdout, res.stderr)
        return str(res.json()["error"]["code"])

    def load(self, today: str) -> None:
        path = self.tmp / "registry-2021.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            for key, (name, abbr, code, serial, birth, specialty, valid_until) in HOLDERS.items():
                idn = make_id_number(f"{code}0101", birth, serial % 100, Gender.MALE)
                employer = ("上海浦江建设有限公司", SH_USCC) if abbr == "沪" else ("浙江之江建设有限公司", ZJ_USCC)
                w.writerow([self.no[key], name, "男", birth.isoformat(), idn, *employer, specialty, valid_until])
        assert self.ok("import", str(path), today=today)["imported"] == len(HOLDERS)

    def state(self, key: str, today: str) -> tuple[str, str]:
        """(valid_until, state) of the holder's one specialty as ``holder show`` says on ``today``."""
        out = self.ok("holder", "show", self.no[key], today=today)
        (spec,) = out["specialties"]
        assert spec["specialty"] == HOLDERS[key][5]
        return spec["valid_until"], spec["state"]

    def stored(self, key: str) -> tuple[date, str, str | None]:
        sr, r = specialty_registrations, registrations
        with self.engine.connect() as conn:
            row = conn.execute(
                select(sr.c.valid_until, sr.c.state, sr.c.lapse_reason)
                .join(r, r.c.id == sr.c.registration_id)
                .where(r.c.registration_no == self.no[key])
            ).one()
        return row.valid_until, row.state, row.lapse_reason

    def apply(self, key: str, today: str) -> int:
        out = self.ok("renewal", "apply", self.no[key], "--specialty", HOLDERS[key][5], "--commit-ce", "--ce-hours",
                      "120", today=today)  # fmt: skip
        assert out["status"] == "pending"
        return int(out["application_id"])

    def approve(self, app_id: int, today: str) -> str:
        out = self.ok("renewal", "decide", str(app_id), "--approve", "--reviewer", "rev_zj", today=today)
        assert out["status"] == "approved"
        (spec,) = out["specialties"]
        return str(spec["valid_until"])

    def sweep(self, today: str) -> int:
        out = self.ok("sweep", today=today)
        assert out.get("today", today) == today
        return int(out["lapsed"])

    def verify(self, pdf: Path, today: str) -> dict[str, Any]:
        out: dict[str, Any] = self.ok("verify", str(pdf), today=today)
        return out


def test_the_year_2021__R_REN_1_to_6_R_LAPSE_1_R_CHG_1_R_DATE_1_R_DATE_2(
    ecert: Any, engine: Engine, tmp_path: Path
) -> None:
    reg = Registry(ecert, engine, tmp_path)
    no = reg.no

    # ---- 2021-01-04: the registry is loaded; a 浙 reviewer; E's signature image. Nothing is in rollout yet.
    assert reg.ok("init", today="2021-01-04")["schema"]
    reg.load("2021-01-04")
    reg.ok("user", "add", "rev_zj", "--role", "reviewer", "--province", "浙", "--password-stdin",
           today="2021-01-04", input="password123\n")  # fmt: skip
    sig = tmp_path / "e-signature.png"
    sig.write_bytes(signature_png(HOLDERS["E"][0]))
    reg.ok("holder", "set-signature", no["E"], str(sig), today="2021-01-04")
    assert {k: reg.state(k, "2021-01-04")[1] for k in HOLDERS} == {
        "A": "expired",
        "B": "valid",
        "C": "valid",
        "D": "valid",
        "E": "valid",
    }
    assert reg.ok("holder", "show", no["E"], today="2021-01-04")["in_rollout"] is False
    assert reg.refused("cert", "preview", no["E"], today="2021-01-31") == "not_in_rollout"
    assert reg.sweep("2021-01-04") == 0

    # ---- E, 2021-03-01: the pilot has started (沪); a certificate is issued and verifies.
    assert reg.ok("holder", "show", no["E"], today="2021-03-01")["in_rollout"] is True
    old_pdf = tmp_path / "e-2021-03-01.pdf"
    first = reg.ok("cert", "issue", no["E"], "--confirm", "--out", str(old_pdf), today="2021-03-01")
    assert (first["usage_from"], first["usage_until"]) == ("2021-03-01", "2021-08-28")  # + 180 days (R-USE-2)
    v = reg.verify(old_pdf, "2021-03-15")
    assert (v["status"], v["serial"], v["registration_no"]) == ("valid", first["serial"], no["E"])

    # ---- E, 2021-04-01: change of employer supersedes the old PDF; a new certificate is valid.
    changed = reg.ok("change", "employer", no["E"], "--name", "上海新城建设集团有限公司", "--uscc", NEW_SH_USCC,
                     today="2021-04-01")  # fmt: skip
    assert changed["employer"] == {"name": "上海新城建设集团有限公司", "uscc": NEW_SH_USCC}
    v = reg.verify(old_pdf, "2021-04-01")
    assert v["status"] == "superseded", v
    assert v["current"]["employer"]["name"] == "上海新城建设集团有限公司"  # R-CHG-3: the registry prevails
    new_pdf = tmp_path / "e-2021-04-01.pdf"
    second = reg.ok("cert", "issue", no["E"], "--confirm", "--out", str(new_pdf), today="2021-04-01")
    assert second["serial"] != first["serial"]
    assert (second["usage_from"], second["usage_until"]) == ("2021-04-01", "2021-09-28")
    v = reg.verify(new_pdf, "2021-04-01")
    assert (v["status"], v["serial"]) == ("valid", second["serial"]), v
    assert v["current"]["employer"]["name"] == "上海新城建设集团有限公司"

    # ---- A, 2021-05-10 / 2021-05-20: expired in 2020, renewed under the transitional rule.
    assert reg.state("A", "2021-05-10") == ("2020-10-31", "expired")
    a_app = reg.apply("A", "2021-05-10")
    assert reg.state("A", "2021-05-15") == ("2020-10-31", "expired")  # pending: nothing changes yet
    assert reg.approve(a_app, "2021-05-20") == "2024-05-19"
    assert reg.state("A", "2021-05-20") == ("2024-05-19", "valid")
    assert reg.stored("A") == (date(2024, 5, 19), "valid", None)

    # ---- B, 2021-05-31 … 2021-07-01: ends, stays expired through the transitional period, then lapses.
    assert reg.state("B", "2021-05-31") == ("2021-05-31", "renewable")  # its last valid day (R-DATE-1)
    assert reg.state("B", "2021-06-01") == ("2021-05-31", "expired")
    assert reg.sweep("2021-06-30") == 0  # nothing lapses before 2021-07-01
    assert reg.state("B", "2021-06-30") == ("2021-05-31", "expired")
    assert reg.stored("B") == (date(2021, 5, 31), "valid", None)
    assert reg.state("B", "2021-07-01") == ("2021-05-31", "lapsed")  # already, before the sweep has run
    assert reg.sweep("2021-07-01") == 1
    assert reg.stored("B") == (date(2021, 5, 31), "lapsed", "no_renewal")
    assert reg.sweep("2021-07-01") == 0  # idempotent
    assert reg.refused("renewal", "apply", no["B"], "--specialty", "公路工程", "--commit-ce",
                       today="2021-07-01") == "specialty_lapsed"  # fmt: skip
    assert reg.stored("A") == (date(2024, 5, 19), "valid", None)  # renewed in time: untouched

    # ---- C, 2021-07-15 … 2021-08-20: applies exactly 30 days before the end, approved after it.
    assert reg.refused("renewal", "apply", no["C"], "--specialty", "机电工程", "--commit-ce",
                       today="2021-07-15") == "outside_renewal_window"  # fmt: skip
    assert reg.state("C", "2021-07-15") == ("2021-08-15", "valid")
    assert reg.state("C", "2021-07-16") == ("2021-08-15", "renewable")
    c_app = reg.apply("C", "2021-07-16")
    assert reg.sweep("2021-08-15") == 0
    assert reg.state("C", "2021-08-15") == ("2021-08-15", "renewable")
    assert reg.sweep("2021-08-16") == 0  # ended, but the pending application holds it
    assert reg.state("C", "2021-08-16") == ("2021-08-15", "expired")
    assert reg.sweep("2021-08-19") == 0
    assert reg.stored("C") == (date(2021, 8, 15), "valid", None)
    assert reg.approve(c_app, "2021-08-20") == "2024-08-19"
    assert reg.sweep("2021-08-20") == 0
    assert reg.state("C", "2021-08-20") == ("2024-08-19", "valid")

    # ---- D, 2021-09-01: approval capped at the 65th birthday.
    assert reg.ok("holder", "show", no["D"], today="2021-09-01")["age65_date"] == "2022-09-10"
    d_app = reg.apply("D", "2021-09-01")
    assert reg.approve(d_app, "2021-09-01") == "2022-09-10"
    assert reg.state("D", "2021-09-01") == ("2022-09-10", "valid")

    # ---- E, 2021-09-28 / 2021-09-29: the new certificate's usage window ends; the old stays superseded.
    assert reg.verify(new_pdf, "2021-09-28")["status"] == "valid"
    assert reg.verify(new_pdf, "2021-09-29")["status"] == "expired"
    assert reg.verify(old_pdf, "2021-09-29")["status"] == "superseded"

    # ---- 2021-12-31: the year's last sweep lapses nothing more; where everyone stands.
    assert reg.sweep("2021-12-31") == 0
    assert {k: reg.state(k, "2021-12-31") for k in HOLDERS} == {
        "A": ("2024-05-19", "valid"),
        "B": ("2021-05-31", "lapsed"),
        "C": ("2024-08-19", "valid"),
        "D": ("2022-09-10", "valid"),
        "E": ("2023-06-30", "valid"),
    }

    # ---- 2021-12-31: C's registration is revoked, effective 2021-11-01 (decided after that date).
    reg.ok("revoke", no["C"], "--reason", "以欺骗手段取得注册", "--basis", "《注册建造师管理规定》第三十二条",
           "--effective", "2021-11-01", today="2021-12-31")  # fmt: skip
    attestations_2021(reg, first, second, old_pdf, new_pdf, tmp_path)


def attestations_2021(
    reg: Registry, first: dict[str, Any], second: dict[str, Any], old_pdf: Path, new_pdf: Path, tmp_path: Path
) -> None:
    """Issue 13's "done when": attestations on dates before and after a renewal, an employer change and a
    revocation, every answer right, every JWS verified by an independent JOSE implementation (jwcrypto)
    against the keys ``ecert keys export --jwks`` writes (R-CHG-1, R-REN-5, R-LAPSE-1)."""
    no, today = reg.no, "2021-12-31"
    jwks_file = tmp_path / "jwks.json"
    res = reg.ecert("keys", "export", "--jwks", "--out", str(jwks_file), today=today)
    assert res.exit_code == 0, res.stderr
    keys = independent_keys(jwks_file)

    def attest(target: str, day: str) -> dict[str, Any]:
        out = reg.ok("attest", target, "--date", day, today=today)
        doc = verified_payload(out["attestation"], keys)  # the signed document, checked independently
        assert doc["question"]["date"] == day and doc["answer"]["valid_on_date"] == out["valid_on_date"]
        assert doc["answer"]["reason_codes"] == out["reason_codes"]
        assert out["document"] == doc
        return doc

    # E's employer change on 2021-04-01: the employer and the valid certificate on either side of it.
    before = attest(no["E"], "2021-03-15")
    assert before["answer"]["valid_on_date"] is True
    assert before["facts"]["employer"] == {"name": "上海浦江建设有限公司", "uscc": SH_USCC}
    assert before["facts"]["serials_valid_on_date"] == [first["serial"]]
    assert before["facts"]["id_number"].count("*") == 8  # masked, as on the QR page
    after = attest(no["E"], "2021-04-02")
    assert after["facts"]["employer"] == {"name": "上海新城建设集团有限公司", "uscc": NEW_SH_USCC}
    assert after["facts"]["serials_valid_on_date"] == [second["serial"]]
    # The superseded PDF itself: valid on 2021-03-15 (superseded since, by the current one), not on 2021-04-02.
    old_then = attest(str(old_pdf), "2021-03-15")
    assert old_then["question"] == {**old_then["question"], "what": "certificate", "serial": first["serial"]}
    assert old_then["answer"]["valid_on_date"] is True
    assert old_then["answer"]["reason_codes"] == ["valid_on_date", "certificate_valid_on_date", "superseded_after_date"]
    assert old_then["facts"]["certificate"]["superseded_by"] == second["serial"]
    old_later = attest(str(old_pdf), "2021-04-02")
    assert old_later["answer"]["valid_on_date"] is False
    assert old_later["answer"]["reason_codes"] == ["valid_on_date", "certificate_superseded_on_date"]
    by_qr = attest(first["qr"], "2021-03-15")  # what a scanner read: the same answer
    assert by_qr["answer"] == old_then["answer"]
    # After its usage window (ended 2021-09-28) the new certificate is no longer valid, the registration is.
    late = attest(str(new_pdf), "2021-10-01")
    assert late["answer"]["reason_codes"] == ["valid_on_date", "no_certificate_on_date", "certificate_outside_window"]

    # A's renewal approved 2021-05-20 (expired since 2020-10-31): not valid before, valid after.
    a_before = attest(no["A"], "2021-05-15")
    assert a_before["answer"]["valid_on_date"] is False
    assert a_before["answer"]["reason_codes"] == ["no_valid_specialty_on_date"]
    assert a_before["facts"]["specialties"][0]["valid_until"] == "2020-10-31"
    a_after = attest(no["A"], "2021-05-21")
    assert a_after["answer"]["valid_on_date"] is True
    (spec,) = a_after["facts"]["specialties"]
    assert (spec["valid_from"], spec["valid_until"], spec["valid_on_date"]) == ("2021-05-20", "2024-05-19", True)
    assert a_after["answer"]["reason_codes"] == ["valid_on_date", "no_certificate_on_date"]

    # C: expired while the renewal was pending (2021-08-17), valid after approval; revoked 2021-12-31
    # effective 2021-11-01: valid on 2021-10-15 (revoked later), not on 2021-11-15 (decided after it).
    assert attest(no["C"], "2021-08-17")["answer"]["valid_on_date"] is False
    c_oct = attest(no["C"], "2021-10-15")
    assert c_oct["answer"]["valid_on_date"] is True
    assert c_oct["answer"]["reason_codes"] == ["valid_on_date", "ended_after_date", "no_certificate_on_date"]
    c_nov = attest(no["C"], "2021-11-15")
    assert c_nov["answer"]["valid_on_date"] is False
    assert c_nov["answer"]["reason_codes"] == ["revoked_on_date", "ended_decided_after_date"]
    end = c_nov["facts"]["end"]
    assert (end["status"], end["effective"], end["decided_at"][:10]) == ("revoked", "2021-11-01", "2021-12-31")
    assert "欺骗" not in json.dumps(c_nov, ensure_ascii=False)  # never the free-text reason
    assert c_nov["audit"]["head"] and len(c_nov["audit"]["head"]) == 64

    # B lapsed: valid on 2021-05-31 (its last day), not on 2021-06-01.
    assert attest(no["B"], "2021-05-31")["answer"]["valid_on_date"] is True
    assert attest(no["B"], "2021-06-01")["answer"]["reason_codes"] == ["no_valid_specialty_on_date"]

    # Refusals, nothing signed: a future date, a date before the rollout, an unknown number, a file that
    # is no certificate, a malformed date.
    assert reg.refused("attest", no["E"], "--date", "2022-01-05", today=today) == "date_in_future"
    assert reg.refused("attest", no["E"], "--date", "2021-01-15", today=today) == "date_before_rollout"
    unknown = make_registration_no("浙", "33", 2010, 2012, 999)
    assert reg.refused("attest", unknown, "--date", "2021-05-15", today=today) == "not_found"
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7 not really")
    assert reg.refused("attest", str(junk), "--date", "2021-05-15", today=today) == "not_attestable"
    bad = reg.ecert("attest", no["E"], "--date", "2021-5-15", "--json", today=today)
    assert bad.exit_code == 2 and bad.json()["error"]["code"] == "bad_input"

    # The sealed one-page PDF: one page, sealed, verifiable with the JWS in its metadata.
    pdf = tmp_path / "attestation.pdf"
    out = reg.ok("attest", no["E"], "--date", "2021-03-15", "--out", str(pdf), today=today)
    data = pdf.read_bytes()
    assert out["pdf"] == str(pdf) and data.startswith(b"%PDF") and b"/ByteRange" in data
    assert out["attestation"].encode() in data


def independent_keys(jwks_file: Path) -> dict[str, Any]:
    """The JWKS as jwcrypto reads it (not joserfc, which signs), by kid."""
    from jwcrypto import jwk

    keyset = jwk.JWKSet.from_json(jwks_file.read_text(encoding="utf-8"))
    return {k.get("kid"): k for k in keyset}


def verified_payload(token: str, keys: dict[str, Any]) -> dict[str, Any]:
    """Verify a compact JWS with jwcrypto under the key its header names; its payload is RFC 8785 JSON."""
    import rfc8785
    from jwcrypto import jws

    obj = jws.JWS()
    obj.deserialize(token)
    header = obj.jose_header
    assert header["alg"] == "EdDSA" and header["kid"] in keys
    obj.verify(keys[header["kid"]], alg="EdDSA")
    payload = obj.payload
    doc: dict[str, Any] = json.loads(payload)
    assert rfc8785.dumps(doc) == payload  # canonical (RFC 8785)
    return doc
