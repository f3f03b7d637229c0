"""The SM2/SM3 electronic seal on an OFD package (GB/T 38540-2020 v4 in GB/T 33190 layout), R-DOC-6.

Sealing adds, as the Java reference implementation ofdrw lays a seal out::

    OFD.xml                                   DocBody gains <Signatures>Doc_0/Signs/Signatures.xml
    Doc_0/Signs/Signatures.xml                <Signature ID="1" Type="Seal" BaseLoc=…/Sign_0/Signature.xml>
    Doc_0/Signs/Sign_0/Signature.xml          SignedInfo: Provider, SignatureMethod (SM2-with-SM3),
                                              SignatureDateTime, References (SM3 of every other file),
                                              StampAnnot over the seal picture, Seal → Seal.esl;
                                              SignedValue → SignedValue.dat
    Doc_0/Signs/Sign_0/Seal.esl               the DER SESeal (the same as inside the signature)
    Doc_0/Signs/Sign_0/SignedValue.dat        the DER SES_Signature: TBS_Sign (the seal, the time,
                                              dataHash = SM3 of Signature.xml, propertyInfo = its
                                              path) signed SM2 over its DER with the default user ID

Every file of the package except ``Signature.xml`` (covered by ``dataHash``) and ``SignedValue.dat``
(the signature itself) is listed in ``References``; verification refuses a file it does not cover.

:class:`OfdSealVerifier` gives the same :class:`~ecert.domain.verification.SignatureVerdict` as the
PDF seal check, and a stable ``problem`` code saying which check failed. It never raises on bad
input: size and entry limits stop zip bombs, paths must stay inside the package, XML with a DTD is
refused.
"""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from asn1crypto import core, x509  # type: ignore[import-untyped]
from asn1crypto import parser as asn1_parser
from PIL import Image

from ecert.adapters.documents.ofd_render import OFD_NS, SEAL_NAME_ON_PAGE, SEAL_PX_PER_MM, zip_package
from ecert.adapters.signing import ses
from ecert.adapters.signing.sm2 import (
    SM2_WITH_SM3,
    SM3,
    Sm2Key,
    public_key_of,
    signed_by,
    sm2_verify,
    sm3,
    valid_at,
)
from ecert.adapters.signing.timestamps import token_time
from ecert.domain.certificate import SEAL_NAME
from ecert.domain.verification import SignatureVerdict

SIGNS_DIR = "Doc_0/Signs"
SIGNATURES = f"{SIGNS_DIR}/Signatures.xml"
SIGN_DIR = f"{SIGNS_DIR}/Sign_0"
SIGNATURE = f"{SIGN_DIR}/Signature.xml"
SIGNED_VALUE = f"{SIGN_DIR}/SignedValue.dat"
SEAL_FILE = f"{SIGN_DIR}/Seal.esl"
PROVIDER = "ecert"

MAX_PACKAGE = 20 * 1024 * 1024  # bytes of the zip
MAX_UNPACKED = 64 * 1024 * 1024  # bytes of all files once inflated
MAX_ENTRIES = 256
_CACHE_MAX = 1024
SEAL_TYPE_OFFICIAL = 1  # SES_ESPropertyInfo.type: 单位印章

_NS = {"ofd": OFD_NS}
_Q = "{" + OFD_NS + "}"


# ---------------------------------------------------------------------------------------------
# The seal (SESeal): made once per seal certificate, by the seal maker.


def make_seal(
    *,
    es_id: str,
    picture_png: bytes,
    signer_cert: x509.Certificate,
    maker_key: Sm2Key,
    maker_cert: x509.Certificate,
    valid_start: datetime,
    valid_end: datetime,
    name: str = SEAL_NAME,
) -> ses.SESeal:
    """The electronic seal (GB/T 38540 v4) for ``signer_cert``, made and signed by the seal maker:
    header ES/4, the seal's id and name, the certificates allowed to use it, its picture (PNG, size in mm)."""
    with Image.open(io.BytesIO(picture_png)) as im:
        width_mm, height_mm = round(im.width / SEAL_PX_PER_MM), round(im.height / SEAL_PX_PER_MM)
    info = ses.SESSealInfo(
        {
            "header": {"id": ses.SEAL_HEADER_ID, "version": ses.SEAL_VERSION, "vid": PROVIDER},
            "es_id": es_id,
            "property": {
                "type": SEAL_TYPE_OFFICIAL,
                "name": name,
                "cert_list_type": ses.CERT_LIST_CERTS,
                "cert_list": [signer_cert.dump()],
                "create_date": valid_start,
                "valid_start": valid_start,
                "valid_end": valid_end,
            },
            "picture": {"type": "PNG", "data": picture_png, "width": width_mm, "height": height_mm},
        }
    )
    return ses.SESeal(
        {"eseal_info": info, "cert": maker_cert.dump(), "sign_alg_id": SM2_WITH_SM3,
         "signed_value": maker_key.sign(info.dump())}
    )  # fmt: skip


@dataclass(frozen=True)
class OfdSealer:
    """Seals OFD packages with one SM2 key, its certificate and the seal made for it."""

    key: Sm2Key
    cert: x509.Certificate
    seal: ses.SESeal
    # Long-term validation (issue 16 §2): bytes → an RFC 3161 time-stamp token over them (timestamps.stamp_bytes),
    # put in SES_Signature.timeStamp over the signature value; None: no time-stamp.
    stamp: Callable[[bytes], bytes] | None = None
    # Encoded once: the seal, and the signer's certificate and algorithm as SES_Signature fields.
    _seal_der: bytes = field(init=False, repr=False)
    _signer_fields: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_seal_der", self.seal.dump())
        signer = core.OctetString(self.cert.dump()).dump() + core.ObjectIdentifier(SM2_WITH_SM3).dump()
        object.__setattr__(self, "_signer_fields", signer)

    def seal_package(self, package: bytes, signing_time: datetime) -> bytes:
        """``package`` (as :func:`.documents.ofd_render.render_ofd` writes it) with the seal added."""
        return self.seal_files(_read_trusted(package), signing_time)

    def seal_files(self, files: dict[str, bytes], signing_time: datetime) -> bytes:
        """The sealed package of ``files`` (as :func:`.documents.ofd_render.ofd_files` gives them)."""
        files = dict(files)
        when = signing_time.astimezone(UTC).replace(microsecond=0)
        ofd_xml = files["OFD.xml"].decode("utf-8")
        if "<ofd:Signatures>" in ofd_xml:
            raise ValueError("the package is sealed already")
        files["OFD.xml"] = ofd_xml.replace(
            "</ofd:DocRoot>", f"</ofd:DocRoot><ofd:Signatures>{SIGNATURES}</ofd:Signatures>", 1
        ).encode("utf-8")
        files[SIGNATURES] = _xml(
            f'<ofd:Signatures xmlns:ofd="{OFD_NS}"><ofd:MaxSignId>1</ofd:MaxSignId>'
            f'<ofd:Signature ID="1" Type="Seal" BaseLoc="/{SIGNATURE}"/></ofd:Signatures>'
        )
        files[SEAL_FILE] = self._seal_der
        references = "".join(
            f'<ofd:Reference FileRef="/{escape(name)}"><ofd:CheckValue>'
            f"{base64.b64encode(sm3(data)).decode('ascii')}</ofd:CheckValue></ofd:Reference>"
            for name, data in files.items()
        )
        page_id, boundary = _stamp_place(files)
        files[SIGNATURE] = _xml(
            f'<ofd:Signature xmlns:ofd="{OFD_NS}"><ofd:SignedInfo>'
            f'<ofd:Provider ProviderName="{PROVIDER}" Version="4" Company="{PROVIDER}"/>'
            f"<ofd:SignatureMethod>{SM2_WITH_SM3}</ofd:SignatureMethod>"
            f"<ofd:SignatureDateTime>{when:%Y%m%d%H%M%S}Z</ofd:SignatureDateTime>"
            f'<ofd:References CheckMethod="{SM3}">{references}</ofd:References>'
            f'<ofd:StampAnnot ID="1" PageRef="{page_id}" Boundary="{boundary}"/>'
            f"<ofd:Seal><ofd:BaseLoc>/{SEAL_FILE}</ofd:BaseLoc></ofd:Seal>"
            f"</ofd:SignedInfo><ofd:SignedValue>/{SIGNED_VALUE}</ofd:SignedValue></ofd:Signature>"
        )
        # TBS_Sign and SES_Signature (ses.TBSSign, ses.SESSignature) written field by field around the
        # seal encoded once: the same DER as building the asn1crypto values, without re-encoding the seal.
        tbs = _der_sequence(
            core.Integer(ses.SEAL_VERSION).dump() + self._seal_der + core.GeneralizedTime(when).dump()
            + core.OctetBitString(sm3(files[SIGNATURE])).dump() + core.IA5String(f"/{SIGNATURE}").dump()
        )  # fmt: skip
        value = self.key.sign(tbs)
        signature = core.OctetBitString(value).dump()
        # GB/T 38540: timeStamp [0] — a time-stamp of the signature value (its DER SEQUENCE {r, s})
        stamped = _explicit0(core.OctetBitString(self.stamp(value)).dump()) if self.stamp is not None else b""
        files[SIGNED_VALUE] = _der_sequence(tbs + self._signer_fields + signature + stamped)
        return zip_package(files.items())


def _der_sequence(body: bytes) -> bytes:
    return bytes(core.Sequence(contents=body).dump())


def _explicit0(encoded: bytes) -> bytes:
    """``[0] EXPLICIT`` (constructed, context class) around an encoded value."""
    n = len(encoded)
    head = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return b"\xa0" + head + encoded


def _der_children(der: bytes) -> list[bytes]:
    """The DER encodings of the elements of the SEQUENCE ``der``: slices of it, as signed, not re-encodings."""
    contents = asn1_parser.parse(der, strict=True)[4]
    out: list[bytes] = []
    at = 0
    while at < len(contents):
        size = asn1_parser.peek(contents[at:])
        out.append(contents[at : at + size])
        at += size
    return out


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def _stamp_place(files: dict[str, bytes]) -> tuple[str, str]:
    """(page ID, boundary) of the seal picture the renderer named on the first page. The page is searched,
    not parsed (as :func:`_page_seal_picture` does): it is the largest file, and ours."""
    document = _parse(files["Doc_0/Document.xml"])
    page = document.find("ofd:Pages/ofd:Page", _NS)
    if page is None:
        raise ValueError("the package has no page")
    found = _SEAL_ON_PAGE.search(files["Doc_0/" + page.get("BaseLoc", "")])
    boundary = _BOUNDARY.search(found.group(0)) if found else None
    if boundary is None:
        raise ValueError("the page has no seal picture to stamp")
    return page.get("ID", "1"), boundary.group(1).decode("ascii")


def _parse(data: bytes) -> ET.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # no DTDs: entity expansion is a bomb
        raise ValueError("XML with a DTD")
    return ET.fromstring(data)


def _read_trusted(package: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        return {info.filename: z.read(info) for info in z.infolist() if not info.is_dir()}


# ---------------------------------------------------------------------------------------------
# Verification.


@dataclass(frozen=True)
class OfdSealCheck:
    """The verdict (as for a PDF) and which check decided it: ``problem`` is None for a good seal."""

    verdict: SignatureVerdict
    problem: str | None = None
    signer: x509.Certificate | None = field(default=None, compare=False, repr=False)
    files: dict[str, bytes] | None = field(default=None, compare=False, repr=False)  # of a package that verified
    trusted_at: datetime | None = None  # set when trusted at the time its time-stamp proves, not at the moment


def _unreadable(problem: str) -> OfdSealCheck:
    return OfdSealCheck(SignatureVerdict(False, False, False, False, False), problem)


def _unsigned(problem: str) -> OfdSealCheck:
    return OfdSealCheck(SignatureVerdict(True, False, False, False, False), problem)


def _broken(problem: str) -> OfdSealCheck:
    return OfdSealCheck(SignatureVerdict(True, True, False, False, False), problem)


def _untrusted(problem: str, signer: x509.Certificate) -> OfdSealCheck:
    return OfdSealCheck(SignatureVerdict(True, True, True, False, False), problem, signer)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*$")


def unpack(package: bytes) -> dict[str, bytes] | str:
    """The package's files, or the problem that stops reading it: ``too_large``, ``not_zip``,
    ``zip_bomb`` (too many entries or too many bytes once inflated), ``unsafe_path`` (absolute, ``..``,
    odd characters, duplicates)."""
    if len(package) > MAX_PACKAGE:
        return "too_large"
    try:
        z = zipfile.ZipFile(io.BytesIO(package))
        infos = [i for i in z.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):  # the last: unknown ZIP version
        return "not_zip"
    if len(infos) > MAX_ENTRIES or sum(i.file_size for i in infos) > MAX_UNPACKED:
        return "zip_bomb"
    names = [i.filename for i in infos]
    if len(set(names)) != len(names) or not all(_SAFE_NAME.match(n) and ".." not in n.split("/") for n in names):
        return "unsafe_path"
    files: dict[str, bytes] = {}
    budget = MAX_UNPACKED
    try:
        for info in infos:
            with z.open(info) as f:
                data = f.read(min(info.file_size, budget) + 1)  # the header's size may lie
            if len(data) > info.file_size or len(data) > budget:
                return "zip_bomb"
            budget -= len(data)
            files[info.filename] = data
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
        return "not_zip"
    return files


@dataclass
class OfdSealVerifier:
    """The seal check of an OFD certificate (R-DOC-6) against the configured SM2 roots, which also
    vouch for the seal makers. Callable like the PDF checker: ``verifier(ofd_bytes, moment)``."""

    roots: Sequence[x509.Certificate]
    # The roots of the time-stamp authorities (the PDF's trust roots): SES_Signature.timeStamp is checked against
    # them; without any, a time-stamp proves nothing and the seal is judged at the moment only.
    tsa_roots: Sequence[x509.Certificate] = ()
    # What was checked once holds for every certificate sealed alike: the signature on a certificate
    # (its dates are checked each time) and the seal maker's signature on a seal. Only successes are kept.
    _signed: set[tuple[bytes, bytes]] = field(default_factory=set, init=False, repr=False)
    _seals: set[bytes] = field(default_factory=set, init=False, repr=False)
    _root_ders: list[bytes] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self._root_ders = [r.dump() for r in self.roots]  # encoded once: built certificates re-encode per dump

    def __call__(self, package: bytes, moment: datetime) -> SignatureVerdict:
        return self.check(package, moment).verdict

    def check(self, package: bytes, moment: datetime) -> OfdSealCheck:
        """The verdict on ``package`` at ``moment`` (a naive moment is taken as UTC)."""
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        try:
            return self._check(package, moment)
        except Exception:  # a verdict, never a crash, whatever the bytes
            return _unreadable("malformed")

    def _trusted(self, cert: x509.Certificate, moment: datetime) -> bool:
        if not valid_at(cert, moment):
            return False
        der = cert.dump()
        for root, root_der in zip(self.roots, self._root_ders, strict=True):
            pair = (der, root_der)
            if der == pair[1] or pair in self._signed:
                return True
            if valid_at(root, moment) and signed_by(cert, root):
                if len(self._signed) < _CACHE_MAX:
                    self._signed.add(pair)
                return True
        return False

    def _seal_made(self, seal: ses.SESeal, der: bytes, maker: x509.Certificate) -> bool:
        """Whether the seal maker's signature on ``seal`` (encoded as ``der``) holds: over esealInfo's DER."""
        if der in self._seals:
            return True
        maker_key = public_key_of(maker)
        if seal["sign_alg_id"].dotted != SM2_WITH_SM3 or maker_key is None:
            return False
        if not sm2_verify(maker_key, _der_children(der)[0], bytes(seal["signed_value"])):
            return False
        if len(self._seals) < _CACHE_MAX:
            self._seals.add(der)
        return True

    def _check(self, package: bytes, moment: datetime) -> OfdSealCheck:
        files = unpack(package)
        if isinstance(files, str):
            return _unreadable(files)
        if "OFD.xml" not in files:
            return _unreadable("not_ofd")
        try:
            ofd = _parse(files["OFD.xml"])
        except (ValueError, ET.ParseError):
            return _unreadable("malformed")
        loc = ofd.findtext("ofd:DocBody/ofd:Signatures", None, _NS)
        if not loc or loc.strip("/") != SIGNATURES or SIGNATURES not in files:
            return _unsigned("not_signed")
        signatures = _parse(files[SIGNATURES])
        entries = signatures.findall("ofd:Signature", _NS)
        if len(entries) != 1 or entries[0].get("BaseLoc", "").strip("/") != SIGNATURE or SIGNATURE not in files:
            return _unsigned("not_signed")
        signature_xml = files[SIGNATURE]
        signature_root = _parse(signature_xml)
        info = signature_root.find("ofd:SignedInfo", _NS)
        value_loc = signature_root.findtext("ofd:SignedValue", "", _NS).strip("/")
        if info is None or value_loc != SIGNED_VALUE or SIGNED_VALUE not in files:
            return _unsigned("not_signed")
        try:
            sig = ses.SESSignature.load(files[SIGNED_VALUE], strict=True)
            tbs, seal = sig["to_sign"], sig["to_sign"]["eseal"]
            tbs_der = _der_children(files[SIGNED_VALUE])[0]
            seal_der = _der_children(tbs_der)[1]
            signer = x509.Certificate.load(sig["cert"].native, strict=True)
            signer_key = public_key_of(signer)
            data_hash = bytes(tbs["data_hash"])
            prop = seal["eseal_info"]["property"]
            in_force = (prop["valid_start"].native, prop["valid_end"].native)
            allowed = [c.native for c in prop["cert_list"]]
            picture = bytes(seal["eseal_info"]["picture"]["data"])
        except Exception:  # whatever asn1crypto raises on bad DER
            return _broken("signature_unreadable")
        if signer_key is None or sig["signature_alg_id"].dotted != SM2_WITH_SM3 or tbs["version"].native != 4:
            return _broken("signature_unreadable")
        # 1. The signature: SM2 over TBS_Sign, which holds the SM3 of Signature.xml (R-DOC-6).
        if data_hash != sm3(signature_xml):
            return _broken("signature_mismatch")
        if not sm2_verify(signer_key, tbs_der, bytes(sig["signature"])):
            return _broken("signature_invalid")
        # 2. The seal: Seal.esl is the seal inside the signature, its maker's signature holds, and the
        # page shows the seal's own picture.
        if files.get(SEAL_FILE) != seal_der:
            return _broken("seal_mismatch")
        maker = x509.Certificate.load(seal["cert"].native)
        if not self._seal_made(seal, seal_der, maker):
            return _broken("seal_invalid")
        if _page_seal_picture(files) != picture:
            return _broken("seal_picture_mismatch")
        # 3. Every file of the package, by its SM3 digest; nothing the signature does not cover.
        refs = info.find("ofd:References", _NS)
        if (
            refs is None
            or refs.get("CheckMethod") != SM3
            or info.findtext("ofd:SignatureMethod", "", _NS) != SM2_WITH_SM3
        ):
            return _broken("signature_unreadable")
        covered = {SIGNATURE, SIGNED_VALUE}
        for ref in refs.findall("ofd:Reference", _NS):
            name = ref.get("FileRef", "").lstrip("/")
            data = files.get(name)
            if data is None:
                return _broken("missing_file")
            if base64.b64decode(ref.findtext("ofd:CheckValue", "", _NS), validate=True) != sm3(data):
                return _broken("digest_mismatch")
            covered.add(name)
        if set(files) - covered:
            return OfdSealCheck(SignatureVerdict(True, True, True, False, True), "extra_file")
        # 4. Trust: the signer may use this seal, the seal is in force, both certificates chain to a root — at the
        # moment, or else at the time the signature's time-stamp proves it existed (long-term validation).
        if signer.dump() not in allowed:
            return _untrusted("signer_not_in_seal", signer)
        problem = self._trust_problem(maker, signer, in_force, moment)
        if problem is None:
            return OfdSealCheck(SignatureVerdict(True, True, True, True, False), None, signer, files)
        token = sig["time_stamp"]
        if isinstance(token, core.Void) or not self.tsa_roots:
            return _untrusted(problem, signer)
        proven = token_time(bytes(token), bytes(sig["signature"]), roots=self.tsa_roots, moment=moment)
        if proven is None or proven > moment or self._trust_problem(maker, signer, in_force, proven) is not None:
            return _untrusted(problem, signer)
        return OfdSealCheck(SignatureVerdict(True, True, True, True, False), None, signer, files, proven)

    def _trust_problem(
        self, maker: x509.Certificate, signer: x509.Certificate, in_force: tuple[datetime, datetime], at: datetime
    ) -> str | None:
        if not in_force[0] <= at <= in_force[1]:
            return "seal_not_in_force"
        if not self._trusted(maker, at) or not self._trusted(signer, at):
            return "untrusted_signer"
        return None


def custom_data(files: dict[str, bytes]) -> dict[str, str] | None:
    """The ``CustomData`` entries of ``OFD.xml``'s ``DocInfo`` (the certificate data and the QR text the
    renderer puts there, as the PDF's Info dictionary holds them), or None if it has none."""
    try:
        info = _parse(files["OFD.xml"]).find("ofd:DocBody/ofd:DocInfo/ofd:CustomDatas", _NS)
    except (KeyError, ValueError, ET.ParseError):
        return None
    if info is None:
        return None
    return {e.get("Name", ""): e.text or "" for e in info.findall("ofd:CustomData", _NS)}


_SEAL_ON_PAGE = re.compile(rb'<ofd:ImageObject [^>]*Name="' + SEAL_NAME_ON_PAGE.encode("ascii") + rb'"[^>]*>')
_RESOURCE_ID = re.compile(rb'ResourceID="([0-9]+)"')
_BOUNDARY = re.compile(rb' Boundary="([0-9. -]*)"')


def _page_seal_picture(files: dict[str, bytes]) -> bytes | None:
    """The bytes of the image the first page shows as the seal (named by the renderer), or None. The page
    is searched, not parsed: it is the largest file, and its digest is checked anyway."""
    found = _SEAL_ON_PAGE.search(files.get("Doc_0/Pages/Page_0/Content.xml", b""))
    rid = _RESOURCE_ID.search(found.group(0)) if found else None
    if rid is None:
        return None
    res = _parse(files.get("Doc_0/DocumentRes.xml", b"<x/>"))
    for media in res.iter(_Q + "MultiMedia"):
        if media.get("ID") == rid.group(1).decode("ascii"):
            return files.get(f"Doc_0/{res.get('BaseLoc', 'Res')}/{media.findtext('ofd:MediaFile', '', _NS)}")
    return None
