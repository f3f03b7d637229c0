"""The attestation on paper (issue 13 item 2): one A4 page that states the signed answer — question,
answer with each reason in Chinese and English, the facts — with a QR code pointing to the JSON of
the same question (``/api/v1/attest``); the page then receives the seal like a certificate
(adapters/sealing.py ``PadesSealer``), and carries the JWS in its metadata (``EcertAttestation``)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas as pdfcanvas  # type: ignore[import-untyped]

from ecert.adapters.documents.fonts import FontSet
from ecert.adapters.documents.qr import draw_qr

MARGIN = 56.0
LINE = 15.0
WRAP = 46  # characters a line (CJK at 11 pt across the text block)


def json_url(base_url: str, question: Mapping[str, Any]) -> str:
    """Where the JSON of the same question is served (the public API)."""
    params = {"date": question["date"]}
    if question.get("serial"):
        params["serial"] = question["serial"]
    else:
        params["registration_no"] = question["registration_no"]
    return f"{base_url.rstrip('/')}/api/v1/attest?{urlencode(params)}"


def _lines(document: Mapping[str, Any], lang: str) -> list[tuple[float, str]]:
    q, a, f = document["question"], document["answer"], document["facts"]
    head = (document["audit"] or {}).get("head", "-")
    verdict = "有效 / VALID" if a["valid_on_date"] else "无效 / NOT VALID"
    out: list[tuple[float, str]] = [
        (16, "在某日是否有效 / Valid on a date"),
        (11, ""),
        (11, f"注册编号 / Registration no.: {q['registration_no']}"),
        (11, f"证书 / Certificate: {q['serial'] or '-'}"),
        (11, f"所问日期 / Date asked: {q['date']}    查询时间 / Asked at: {q['asked_at']}"),
        (14, f"结论 / Answer: {verdict}"),
    ]
    for r in a["reasons"]:
        out += [(10, f"[{r['code']}] {r['zh']}"), (10, f"    {r['en']}")]
    out += [
        (11, ""),
        (11, f"姓名 / Name: {f['name']}    身份证号 / ID: {f['id_number']}"),
        (11, f"聘用企业 / Employer: {f['employer']['name']} ({f['employer']['uscc']})"),
    ]
    for s in f["specialties"]:
        ok = "有效 valid" if s["valid_on_date"] else f"无效 {s['state']}"
        out.append((10, f"  {s['specialty']}: {ok} (至 / until {s['valid_until']})"))
    out += [
        (10, f"当日有效证书 / Valid certificates: {', '.join(f['serials_valid_on_date']) or '-'}"),
        (9, ""),
        (
            9,
            f"签名密钥 / Key id: {document['key_id']}   审计链 / Audit head: {head}",
        ),
        (9, "签名见文档元数据 EcertAttestation (JWS) / The JWS is in the document metadata"),
    ]
    return out


def _wrap(text: str) -> list[str]:
    return [text[i : i + WRAP * 2] for i in range(0, max(len(text), 1), WRAP * 2)] if len(text) > WRAP * 2 else [text]


def render_attestation(
    document: Mapping[str, Any], jws: str, *, base_url: str, fonts: FontSet, lang: str = "zh"
) -> bytes:
    """The unsealed one-page PDF of a signed attestation."""
    buf = io.BytesIO()
    c = pdfcanvas.Canvas(buf, pagesize=A4, invariant=True)
    c.setTitle("Attestation / 在某日是否有效")
    c.setSubject(jws)
    c.setCreator("ecert")
    c.setKeywords(f"EcertAttestation={jws}")
    width, height = A4
    y = height - MARGIN
    for size, text in _lines(document, lang):
        for part in _wrap(text):
            x = MARGIN
            for font, run in fonts.runs(part) if part else []:
                c.setFont(font, size)
                c.drawString(x, y, run)
                x += c.stringWidth(run, font, size)
            y -= size + (LINE - 11)
    draw_qr(c, json_url(base_url, document["question"]), width - MARGIN - 110, MARGIN, 110)
    c.showPage()
    c.save()
    return buf.getvalue()
