"""FAST seal check; tests/integration/test_verify_parity.py holds it equal to the pyHanko reference (pades.py).

Fast check of a seal in ecert's own PAdES layout (issue 6: verification no slower than pyHanko's).

pyHanko validates any PDF: it parses the file into objects (the ``/Contents`` hex string one token at a time),
walks the form to find the signature, runs the difference analysis on later revisions, and compares certificate
names through RFC 4518 string preparation — 8 to 20 ms a file, almost all of it bookkeeping around one SHA-256
and one ECDSA verification. A certificate that ecert sealed has the simplest shape PAdES allows, and this module
recognises that shape and checks it directly:

- one ``/ByteRange [0 a b c]`` in the file, covering every byte except the ``/Contents`` hex string ``<…>``
  (``b + c`` is the file length): then no byte was added after signing, so there is no later revision to analyse
  (pyHanko: coverage ``ENTIRE_FILE``, modification level ``NONE``), and everything outside that hole is covered
  by the signature — the signature dictionary, its ``/SubFilter``, the form that points to it, the trailer;
- the CMS in the hole is a detached SignedData with one SignerInfo whose signed attributes are exactly content
  type (id-data), message digest and ESS signing-certificate-v2 (what both seal paths write), SHA-256 with ECDSA
  or RSA PKCS#1 v1.5, no unsigned attributes (no time-stamp), no CRLs; the signer certificate is found by
  issuer and serial number and matches the ESS hash; the message digest equals the SHA-256 of the covered bytes;
  the signature value verifies (``cryptography``); the zero padding after the CMS is untouched;
- the signer is *known*: pyHanko's own validation (path building, signatures along the path, key usage, policy
  — everything but the clock) already found this exact set of embedded certificates trusted under the same trust
  roots, and ``moment`` lies inside every validity period of the path it built. Nothing else in that validation
  depends on the document or the moment (no revocation data is used: no fetching, none embedded).

Such a file is valid, trusted and unmodified, exactly as pyHanko would find it. Anything else — another shape,
any check failing, an unknown signer — returns ``None`` and the caller runs pyHanko's full validation, so every
negative verdict is pyHanko's own. The tamper-set test
(``tests/integration/adapters/signing/test_verify_parity.py``) and ``bench/verify.py`` hold both paths to
the same verdicts.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ecert.adapters.pdf_inspect import Layout, whole_file_layout

# The signature dictionary lies before /Contents in both seal paths; its /SubFilter must be one pyHanko accepts.
_SUBFILTER = re.compile(rb"/SubFilter\s*/(?:ETSI\.CAdES\.detached|adbe\.pkcs7\.detached)[\s/>]")
_SIG_DICT_WINDOW = 2048  # bytes before the hole searched for /SubFilter (the dictionary's head)
_HEX = re.compile(rb"[0-9A-Fa-f]*")


@dataclass(frozen=True)
class _Cms:
    signer_cert_der: bytes
    certs_key: bytes  # SHA-256 over every embedded certificate: what the learned trust is keyed on
    signed_attrs_der: bytes  # re-tagged as a SET, the bytes the signature covers
    signature: bytes
    signature_algorithm: bytes
    message_digest: bytes


class _Shape(Exception):
    """Not the expected DER shape: the caller falls back to pyHanko."""


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of element) of the DER element at ``pos`` (one-byte tags, definite lengths)."""
    if pos + 2 > end:
        raise _Shape("truncated")
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise _Shape("multi-byte tag")
    if first < 0x80:
        start, length = pos + 2, first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + 2 + n > end:
            raise _Shape("length")
        start, length = pos + 2 + n, int.from_bytes(buf[pos + 2 : pos + 2 + n], "big")
    if start + length > end:
        raise _Shape("overrun")
    return tag, start, start + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, contents start, element end) of every element in ``buf[start:end]``."""
    out = []
    pos = start
    while pos < end:
        tag, c, e = _tlv(buf, pos, end)
        out.append((tag, pos, c, e))
        pos = e
    return out


def _expect(child: tuple[int, int, int, int], tag: int) -> tuple[int, int, int, int]:
    if child[0] != tag:
        raise _Shape(f"tag {child[0]:#x} instead of {tag:#x}")
    return child


# DER of the identifiers the shape allows (both encodings of SHA-256: with and without NULL parameters).
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_CONTENT_TYPE = bytes.fromhex("06092a864886f70d010903")
_OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")
_OID_SIGNING_CERT_V2 = bytes.fromhex("060b2a864886f70d010910022f")
_SHA256 = {bytes.fromhex("300d06096086480165030402010500"), bytes.fromhex("300b0609608648016503040201")}
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
_RSA_ALGORITHMS = {bytes.fromhex("300d06092a864886f70d01010b0500"), bytes.fromhex("300d06092a864886f70d0101010500")}


def _parse_cms(der: bytes) -> _Cms:
    """The SignedData fields we check, if it has exactly the expected shape (see the module doc); else _Shape."""
    n = len(der)
    _, c, e = _tlv(der, 0, n)
    if e != n:
        raise _Shape("trailing bytes")
    oid, content = _children(der, c, e)
    if der[oid[1] : oid[3]] != _OID_SIGNED_DATA:
        raise _Shape("not signed-data")
    (sd,) = _children(der, _expect(content, 0xA0)[2], content[3])
    parts = _children(der, _expect(sd, 0x30)[2], sd[3])
    if len(parts) != 5:  # version, digestAlgorithms, encapContentInfo, certificates, signerInfos: no CRLs
        raise _Shape("SignedData fields")
    _, _, encap, certs, signer_infos = parts
    if der[encap[2] : encap[3]] != _OID_DATA:  # detached: id-data and no content
        raise _Shape("encapsulated content")
    cert_elems = _children(der, _expect(certs, 0xA0)[2], certs[3])
    cert_ders = [der[s:e] for tag, s, _, e in cert_elems if tag == 0x30]
    if not cert_ders or len(cert_ders) != len(cert_elems):
        raise _Shape("certificates")
    (si,) = _children(der, _expect(signer_infos, 0x31)[2], signer_infos[3])
    fields = _children(der, _expect(si, 0x30)[2], si[3])
    if len(fields) != 6:  # version, sid, digestAlgorithm, signedAttrs, signatureAlgorithm, signature: no unsigned
        raise _Shape("SignerInfo fields")
    version, sid, digest_alg, attrs, sig_alg, signature = fields
    if der[version[1] : version[3]] != b"\x02\x01\x01" or der[digest_alg[1] : digest_alg[3]] not in _SHA256:
        raise _Shape("SignerInfo version or digest")
    issuer, serial = _children(der, _expect(sid, 0x30)[2], sid[3])
    issuer_der, serial_der = der[issuer[1] : issuer[3]], der[serial[1] : serial[3]]
    signer = [d for d in cert_ders if _issuer_serial(d) == (issuer_der, serial_der)]
    same_serial = [d for d in cert_ders if _issuer_serial(d)[1] == serial_der]
    if len(signer) != 1 or len(same_serial) != 1:  # pyHanko compares names semantically: keep it unambiguous
        raise _Shape("signer certificate")
    values: dict[bytes, tuple[int, int, int, int]] = {}
    for attr in _children(der, _expect(attrs, 0xA0)[2], attrs[3]):
        attr_type, attr_values = _children(der, _expect(attr, 0x30)[2], attr[3])
        (value,) = _children(der, _expect(attr_values, 0x31)[2], attr_values[3])
        key = der[attr_type[1] : attr_type[3]]
        if key in values:
            raise _Shape("repeated attribute")
        values[key] = value
    if set(values) != {_OID_CONTENT_TYPE, _OID_MESSAGE_DIGEST, _OID_SIGNING_CERT_V2}:
        raise _Shape("signed attributes")
    ct = values[_OID_CONTENT_TYPE]
    if der[ct[1] : ct[3]] != _OID_DATA:
        raise _Shape("content-type attribute")
    md = _expect(values[_OID_MESSAGE_DIGEST], 0x04)
    _check_ess(der, values[_OID_SIGNING_CERT_V2], signer[0], issuer_der, serial_der)
    alg = der[sig_alg[1] : sig_alg[3]]
    if alg != _ECDSA_SHA256 and alg not in _RSA_ALGORITHMS:
        raise _Shape("signature algorithm")
    return _Cms(
        signer_cert_der=signer[0],
        certs_key=hashlib.sha256(b"".join(hashlib.sha256(d).digest() for d in cert_ders)).digest(),
        signed_attrs_der=b"\x31" + der[attrs[1] + 1 : attrs[3]],
        signature=der[_expect(signature, 0x04)[2] : signature[3]],
        signature_algorithm=alg,
        message_digest=der[md[2] : md[3]],
    )


def _issuer_serial(cert_der: bytes) -> tuple[bytes, bytes]:
    """(issuer Name DER, serial INTEGER DER) of a certificate."""
    (tbs, *_rest) = _children(cert_der, _tlv(cert_der, 0, len(cert_der))[1], len(cert_der))
    fields = _children(cert_der, _expect(tbs, 0x30)[2], tbs[3])
    if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
        fields = fields[1:]
    if len(fields) < 3:
        raise _Shape("certificate")
    serial, _alg, issuer = fields[:3]
    return cert_der[issuer[1] : issuer[3]], cert_der[serial[1] : serial[3]]


def _check_ess(der: bytes, value: tuple[int, int, int, int], cert_der: bytes, issuer: bytes, serial: bytes) -> None:
    """ESS signing-certificate-v2: the first ESSCertIDv2 is SHA-256 of the signer certificate (default algorithm)
    and, if present, names its issuer and serial number."""
    certs, *_policies = _children(der, _expect(value, 0x30)[2], value[3])
    first, *_others = _children(der, _expect(certs, 0x30)[2], certs[3])
    parts = _children(der, _expect(first, 0x30)[2], first[3])
    if parts and parts[0][0] == 0x30:  # an explicit hash algorithm: only SHA-256
        if der[parts[0][1] : parts[0][3]] not in _SHA256:
            raise _Shape("ESS hash algorithm")
        parts = parts[1:]
    if not parts or der[_expect(parts[0], 0x04)[2] : parts[0][3]] != hashlib.sha256(cert_der).digest():
        raise _Shape("ESS certificate hash")
    if len(parts) == 1:
        return
    if len(parts) != 2:
        raise _Shape("ESSCertIDv2")
    names, ess_serial = _children(der, _expect(parts[1], 0x30)[2], parts[1][3])
    (name,) = _children(der, _expect(names, 0x30)[2], names[3])
    if der[ess_serial[1] : ess_serial[3]] != serial or der[_expect(name, 0xA4)[2] : name[3]] != issuer:
        raise _Shape("ESS issuer and serial")


@dataclass(frozen=True)
class _Known:
    """A certificate set pyHanko found trusted: the signer's public key and when the path it built is valid."""

    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey
    not_before: datetime
    not_after: datetime


class FastSealVerifier:
    """Per trust-root set: recognises seals in the layout above and remembers which certificate sets pyHanko
    found trusted. Thread-safe (the web server verifies in a thread pool)."""

    def __init__(self, max_known: int = 64) -> None:
        self._known: dict[bytes, _Known] = {}
        self._max_known = max_known
        self._lock = threading.Lock()

    def check(self, pdf: bytes, moment: datetime) -> bool:
        """True: valid, trusted at ``moment`` and unmodified, as pyHanko would find it. False: not decided here."""
        layout = whole_file_layout(pdf)
        if layout is None or b"/Encrypt" in pdf:
            return False
        parsed = self._cms(pdf, layout)
        if parsed is None:
            return False
        known = self._known.get(parsed.certs_key)
        if known is None or not (known.not_before <= moment <= known.not_after):
            return False
        digest = hashlib.sha256()
        digest.update(memoryview(pdf)[: layout.hole_start])
        digest.update(memoryview(pdf)[layout.hole_end :])
        if digest.digest() != parsed.message_digest:
            return False
        return _verifies(known.public_key, parsed)

    def learn(self, pdf: bytes, path: list[asn1_x509.Certificate]) -> None:
        """Remember the certificate set of ``pdf``'s seal: pyHanko's full validation just found it trusted along
        ``path`` (trust root first). Only a file in the layout above teaches anything."""
        layout = whole_file_layout(pdf)
        parsed = self._cms(pdf, layout) if layout is not None else None
        if parsed is None or not path or path[-1].dump() != parsed.signer_cert_der:
            return
        key = x509.load_der_x509_certificate(parsed.signer_cert_der).public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            return
        known = _Known(
            public_key=key,
            not_before=max(c["tbs_certificate"]["validity"]["not_before"].native for c in path),
            not_after=min(c["tbs_certificate"]["validity"]["not_after"].native for c in path),
        )
        with self._lock:
            if len(self._known) >= self._max_known:  # a bound against hostile uploads with many trusted chains
                self._known.pop(next(iter(self._known)))
            self._known[parsed.certs_key] = known

    @staticmethod
    def _cms(pdf: bytes, layout: Layout) -> _Cms | None:
        hex_digits = pdf[layout.hole_start + 1 : layout.hole_end - 1]
        if len(hex_digits) % 2 or _HEX.fullmatch(hex_digits) is None:
            return None
        head = pdf[max(0, layout.hole_start - _SIG_DICT_WINDOW) : layout.hole_start]
        if _SUBFILTER.search(head) is None:
            return None
        raw = bytes.fromhex(hex_digits.decode("ascii"))
        try:
            length = _der_length(raw)
            if length is None or any(raw[length:]):  # the zero padding nobody signs must stay zero
                return None
            return _parse_cms(raw[:length])
        except (_Shape, ValueError):  # another shape or a malformed CMS: pyHanko's to judge
            return None


def _der_length(raw: bytes) -> int | None:
    """Total length of the DER SEQUENCE at the start of ``raw`` (definite lengths only)."""
    if len(raw) < 2 or raw[0] != 0x30:
        return None
    first = raw[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7F
    if n == 0 or n > 4 or len(raw) < 2 + n:
        return None
    return 2 + n + int.from_bytes(raw[2 : 2 + n], "big")


def _verifies(key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey, parsed: _Cms) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if parsed.signature_algorithm != _ECDSA_SHA256:
                return False
            key.verify(parsed.signature, parsed.signed_attrs_der, ec.ECDSA(hashes.SHA256()))
        else:
            if parsed.signature_algorithm == _ECDSA_SHA256:
                return False
            key.verify(parsed.signature, parsed.signed_attrs_der, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
