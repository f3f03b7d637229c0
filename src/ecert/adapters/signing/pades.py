"""REFERENCE PAdES seal and check (pyHanko); test_fast_seal.py and test_verify_parity.py hold the fast ones equal.

PAdES seal signature on the e-certificate PDF (R-DOC-2) and its validation.

Signing: PAdES baseline B-B (B-T with a time-stamp authority), ``/SubFilter /ETSI.CAdES.detached``, SHA-256,
an invisible signature field (default ``Seal``), ``/Contents`` pre-sized from the signer's certificate chain so
pyHanko never signs twice to estimate the size.

One clock for drills (R-DATE-1): the claimed signing time is the ``signing_time`` the caller passes (the app
clock's now, 2021 in a drill), never the wall clock. In PAdES that claim is the signature dictionary's ``/M``:
ETSI EN 319 142-1 forbids the CMS ``signing-time`` attribute, and pyHanko omits it for ``subfilter=PADES``.
pyHanko 0.38 takes the time for ``/M`` (and for ``signing-time`` in non-PAdES modes) from
``PdfSigningSession.system_time``, which ``PdfSigner.init_signing_session`` sets to ``datetime.now()`` with no
parameter to override it; :class:`_PinnedClockPdfSigner` overrides that one method and pins ``system_time``.
(A B-T signature time-stamp carries the TSA's own clock — that is its point; ``tsa.local_tsa`` can pin it.)

Validation: :func:`validate_pdf` never raises on bad input and returns a :class:`SignatureCheck`; trust is
judged at ``moment`` against the given roots only, without network (no revocation fetching, soft-fail).
Besides pyHanko's checks it requires the zero padding after the CMS inside ``/Contents`` to be untouched (it is
outside the signed byte ranges). Not detectable by anyone, by design of CMS: edits to *unsigned* parts of the
CMS (e.g. the SignedData digestAlgorithms set, extra copies of CA certificates) — they change nothing signed.

The sync functions call ``asyncio.run()``: inside async code (FastAPI) use the ``async_*`` variants.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import io
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeAlias, TypeVar, cast

from asn1crypto import crl as asn1_crl  # type: ignore[import-untyped]
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import parser as asn1_parser
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError, find_unique_cms_attribute
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, PdfTimeStamper, Signer
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

logger = logging.getLogger(__name__)

MD_ALGORITHM = "sha256"
DEFAULT_FIELD_NAME = "Seal"

# /Contents reservation, computed from the chain with no trial signature. NB pyHanko's ``bytes_reserved`` counts
# *hex digits* in the file (2 per DER byte), despite its name; :func:`estimate_bytes_reserved` returns that unit.
# Measured for the DEMO chain (seal cert 711 B + root 652 B, ECDSA P-256): CMS 2,023 DER bytes, i.e. 660 B
# besides the certificates (signed attributes 318 B, SignerInfo, ECDSA value 71 B). Estimate in DER bytes:
# fixed overhead + issuer name twice (SignerInfo sid, signing-certificate-v2) + certificates + raw signature +
# margin -> 2,816 B for the DEMO chain (~40 % headroom), bytes_reserved=5,632. Too small a guess is retried
# once with pyHanko's own sizing (a trial signature; logged).
_CMS_FIXED_OVERHEAD = 768
_MARGIN = 256
# A signature time-stamp token (DER bytes): TSTInfo + the TSA's SignerInfo (RSA-4096 worst case) + its certificates.
# Measured 2,688 B for the DEMO TSA (RSA-2048 cert + root); public TSAs embed 2-4 certs of up to RSA-4096.
TIMESTAMP_RESERVE = 6144
# Accept either usage on the seal certificate (pyHanko's default demands nonRepudiation only).
SEAL_KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})

# PAdES baseline levels (ETSI EN 319 142-1) the seal can be made at (ECERT_SEAL_PROFILE):
# B-B  the signature alone (the fast path: no network, 0.2 ms);
# B-T  + an RFC 3161 signature time-stamp: proof that the signature existed at that time, so the verifier
#        judges the seal certificate at that time, not today (a file sealed while it was valid stays valid);
# B-LT + the validation data (certificates, CRLs/OCSP as available) in a DSS revision;
# B-LTA + a document time-stamp over all of it, renewed by the archival job before its TSA key expires.
PROFILES = ("B-B", "B-T", "B-LT", "B-LTA")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def blocking(fn: Callable[_P, Coroutine[Any, Any, _R]]) -> Callable[_P, _R]:
    """The sync twin of the coroutine function ``fn``: same parameters, runs an event loop (so not
    from inside async code). The one wrapper behind :func:`sign_pdf`, :func:`validate_pdf` and
    :meth:`SealSigner.sign`."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return asyncio.run(fn(*args, **kwargs))

    run.__doc__ = f"Sync :func:`{fn.__name__}` (runs an event loop: not from inside async code)."
    return run


def _aware(t: datetime, name: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return t


class _PinnedClockPdfSigner(PdfSigner):
    """``PdfSigner`` whose signing session uses the caller's clock for signing-time and ``/M``."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signing_time
        return session


def _signer_raw_signature_size(cert: asn1_x509.Certificate) -> int:
    algo = cert.public_key.algorithm
    if algo == "rsa":
        return int(cert.public_key.bit_size) // 8 + 16
    if algo == "ec":
        return 2 * ((int(cert.public_key.bit_size) + 7) // 8) + 16  # DER ECDSA-Sig-Value
    return 5000  # ML-DSA and anything unexpected


def estimate_bytes_reserved(signer: Signer, *, with_timestamp: bool = False) -> int:
    """pyHanko ``bytes_reserved`` (hex digits, = 2 x DER bytes) for the CMS of ``signer``, from its chain."""
    cert: asn1_x509.Certificate = signer.signing_cert
    certs = {cert.dump(), *(c.dump() for c in signer.cert_registry)}
    size = (
        _CMS_FIXED_OVERHEAD
        + 2 * len(cert.issuer.dump())
        + sum(len(c) for c in certs)
        + _signer_raw_signature_size(cert)
        + _MARGIN
    )
    if with_timestamp:
        size += TIMESTAMP_RESERVE
    return 2 * ((size + 255) // 256 * 256)


class SealSigner:
    """A prepared seal signer: the key, field, reason/location, time-stamper and ``/Contents`` size are fixed
    once; :meth:`sign` then does only the per-document work. Thread-safe for file keys; for a PKCS#11 token,
    serialise calls (one session)."""

    def __init__(
        self,
        signer: Signer,
        *,
        field_name: str = DEFAULT_FIELD_NAME,
        tsa_url: str | None = None,
        timestamper: TimeStamper | None = None,
        reason: str | None = None,
        location: str | None = None,
        bytes_reserved: int | None = None,
        tsa_timeout: float = 10.0,
        profile: str | None = None,
        trust_roots: Sequence[TrustRoot] = (),
        crls: Sequence[bytes] = (),
    ) -> None:
        if tsa_url is not None and timestamper is not None:
            raise ValueError("give tsa_url or timestamper, not both")
        if timestamper is None and tsa_url is not None:
            timestamper = HTTPTimeStamper(tsa_url, timeout=tsa_timeout)
        if profile is None:
            profile = "B-T" if timestamper is not None else "B-B"
        if profile not in PROFILES:
            raise ValueError(f"unknown seal profile {profile!r} (one of {', '.join(PROFILES)})")
        if profile != "B-B" and timestamper is None:
            raise ValueError(f"seal profile {profile} needs a time-stamp authority")
        self.signer = signer
        self.timestamper = timestamper if profile != "B-B" else None
        self.profile = profile
        # B-LT/B-LTA: what the signer's (and the TSA's) validation data is gathered against at signing; no fetching.
        self._roots = [_to_asn1(c) for c in trust_roots] + [c for c in signer.cert_registry if c.self_issued]
        self._crls = [asn1_crl.CertificateList.load(c) for c in crls]
        self.meta = PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=MD_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
        )
        self.bytes_reserved = bytes_reserved or estimate_bytes_reserved(
            signer, with_timestamp=self.timestamper is not None
        )

    @property
    def level(self) -> str:
        return self.profile

    def _meta(self, signing_time: datetime) -> PdfSignatureMetadata:
        if self.profile in ("B-B", "B-T"):
            return self.meta
        vc = ValidationContext(
            trust_roots=self._roots,
            crls=self._crls,
            moment=signing_time,
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        return dataclasses.replace(
            self.meta, embed_validation_info=True, use_pades_lta=self.profile == "B-LTA", validation_context=vc
        )

    async def async_sign(self, pdf: bytes, *, signing_time: datetime) -> bytes:
        _aware(signing_time, "signing_time")
        try:
            return await self._sign(pdf, signing_time, self.bytes_reserved)
        except SigningError as e:
            if "larger than expected" not in str(e):
                raise
            # Chain bigger than the estimate (e.g. a TSA embedding a long chain): let pyHanko size it.
            logger.warning(
                "seal signature larger than bytes_reserved=%d; retrying with pyHanko sizing: %s", self.bytes_reserved, e
            )
            return await self._sign(pdf, signing_time, None)

    async def _sign(self, pdf: bytes, signing_time: datetime, bytes_reserved: int | None) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        pdf_signer = _PinnedClockPdfSigner(
            self._meta(signing_time), self.signer, timestamper=self.timestamper, signing_time=signing_time
        )
        out = await pdf_signer.async_sign_pdf(writer, bytes_reserved=bytes_reserved)
        return cast(bytes, out.getvalue())

    sign = blocking(async_sign)


async def async_sign_pdf(pdf: bytes, signer: Signer, *, signing_time: datetime, **options: Any) -> bytes:
    """Seal ``pdf`` (PAdES B-B, or B-T with ``tsa_url``); ``signing_time`` (aware) goes into the CMS
    signing-time and ``/M``; ``options`` are :class:`SealSigner`'s. For many documents, build one
    :class:`SealSigner` and reuse it."""
    return await SealSigner(signer, **options).async_sign(pdf, signing_time=signing_time)


sign_pdf = blocking(async_sign_pdf)


# ----------------------------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class SignatureCheck:
    """What a relying party needs to know about the seal signature of a PDF.

    ``appended``: the file goes on after the signed revision (trailing bytes, or unsigned incremental
    updates of no more than LTA/DSS updates): the signed revision is intact and is what is read,
    but the file is not wholly signed (pdfsig: "Not total document signed").
    ``intact``: the signed bytes hash to the signed digest. ``valid``: the signature value verifies and the
    document is intact (and a time-stamp, if present, is cryptographically sound). ``trusted``: valid, and the
    signer chains to one of the trust roots at the validation moment. ``modified_after_signing``: the file has
    changes after the signed revision beyond LTA/DSS updates (or their nature could not be established).
    :attr:`ok` combines them. ``reasons`` explains every ``False`` in short English. ``readable``: False when the
    bytes could not be parsed as a PDF at all (garbage, truncated before the trailer). ``validation_path``: the
    chain pyHanko built for a trusted signer, trust root first. ``trusted_at``: set when the signer was
    not trusted at the validation moment but is at the time a time-stamp proves the signature existed (long-term
    validation: the seal certificate has expired or been revoked since); None when trusted at the moment itself.
    """

    signed: bool
    readable: bool = True
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    modified_after_signing: bool = False
    appended: bool = False
    signer_subject: str = ""
    signer_cn: str = ""
    signing_time: datetime | None = None
    timestamp_time: datetime | None = None
    trusted_at: datetime | None = None
    field_name: str | None = None
    reasons: list[str] = field(default_factory=list)
    validation_path: tuple[asn1_x509.Certificate, ...] = ()

    @property
    def ok(self) -> bool:
        return self.signed and self.intact and self.valid and self.trusted and not self.modified_after_signing


TrustRoot: TypeAlias = x509.Certificate | asn1_x509.Certificate


def _to_asn1(cert: TrustRoot) -> asn1_x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return cert


def _short(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg[:160]}" if msg else type(e).__name__


_RFC4514_NAMES = {
    "common_name": "CN",
    "organizational_unit_name": "OU",
    "organization_name": "O",
    "country_name": "C",
    "locality_name": "L",
    "state_or_province_name": "ST",
    "street_address": "STREET",
    "domain_component": "DC",
    "user_id": "UID",
}


def _rfc4514_escape(value: str) -> str:
    out = "".join("\\" + ch if ch in ',+"\\<>;' else ch for ch in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def _subject_strings(cert: asn1_x509.Certificate) -> tuple[str, str]:
    """RFC 4514 subject (most specific RDN first, like OpenSSL/cryptography) and the common name. Built from
    asn1crypto: cryptography warns on the seal's 27-character CN because it counts UTF-8 bytes against 64."""
    parts: list[str] = []
    cn = ""
    for rdn in reversed(list(cert.subject.chosen)):
        avas = []
        for ava in rdn:
            kind = ava["type"].native
            value = ava["value"].native
            text = _rfc4514_escape(value) if isinstance(value, str) else "#" + ava["value"].dump().hex()
            if kind == "common_name" and not cn and isinstance(value, str):
                cn = value
            avas.append(f"{_RFC4514_NAMES.get(kind, ava['type'].dotted)}={text}")
        parts.append("+".join(avas))
    return ",".join(parts), cn


def _select_signature(reader: Any, field_name: str | None) -> tuple[Any | None, list[str]]:
    sigs = list(reader.embedded_regular_signatures)
    if not sigs:
        return None, ["no signature in the document"]
    reasons: list[str] = []
    if field_name is not None:
        named = [s for s in sigs if s.field_name == field_name]
        if not named:
            return None, [f"no signature in field {field_name!r} (found {', '.join(s.field_name for s in sigs)})"]
        sig = named[0]
    else:
        sig = sigs[0]  # the first signature covers the original content; later ones are modifications of it
    if len(sigs) > 1:
        reasons.append(f"document carries {len(sigs)} signatures")
    return sig, reasons


def _padding_altered(sig: Any) -> bool:
    """/Contents is excluded from the signed digest: the CMS DER is followed by zero padding that nobody signs.
    pyHanko ignores it, so an edit there leaves the signature valid. The padding must stay zero; anything else
    is a change made after signing."""
    raw = bytes(sig.pkcs7_content)
    _cls, _method, _tag, header, contents, trailer = asn1_parser.parse(raw)
    return any(raw[len(header) + len(contents) + len(trailer) :])


def _modification(status: Any) -> tuple[bool, list[str]]:
    coverage = status.coverage
    level = status.modification_level
    reasons: list[str] = []
    if coverage is None or coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        reasons.append("signature does not cover a whole revision")
    if level is None:
        reasons.append("changes after signing could not be analysed")
    elif level > ModificationLevel.LTA_UPDATES:
        reasons.append(f"document modified after signing ({level.name.lower()})")
    if status.docmdp_ok is False:
        reasons.append("changes after signing violate the signature's modification policy")
    return bool(reasons), reasons


def _open(pdf: bytes, field_name: str | None) -> tuple[Any | None, list[str], SignatureCheck | None]:
    """The reader's choice of signature and notes on it, or the check that ends here (unreadable, unsigned)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sig, reasons = _select_signature(reader, field_name)
    except Exception as e:
        return None, [], SignatureCheck(signed=False, readable=False, reasons=[f"not a readable PDF ({_short(e)})"])
    if sig is None:
        return None, reasons, SignatureCheck(signed=False, reasons=reasons)
    return sig, reasons, None


def _digest_broken(sig: Any) -> bool:
    """True when the bytes under ``/ByteRange`` do not hash to the CMS message digest: pyHanko's ``intact`` is then
    False (it compares the same two values), and nothing else can change that verdict. Any doubt: False."""
    try:
        if sig.sig_object_type != "/Sig":
            return False
        # pyHanko's own extract_message_digest (not exported): the one message-digest attribute's value
        embedded = find_unique_cms_attribute(sig.signer_info["signed_attrs"], "message_digest").native
        return bool(sig.compute_digest() != embedded)
    except Exception:
        return False


async def async_validate_pdf(
    pdf: bytes,
    *,
    trust_roots: Sequence[TrustRoot],
    moment: datetime,
    field_name: str | None = None,
) -> SignatureCheck:
    """Check the seal signature (the first, or the one in ``field_name``) of ``pdf`` at ``moment`` against
    ``trust_roots``. Never raises on bad input: garbage, truncated, unsigned or modified files give a result."""
    _aware(moment, "moment")
    sig, reasons, done = _open(pdf, field_name)
    if done is not None:
        return done
    return await _validate_signature(sig, reasons, trust_roots, moment)


validate_pdf = blocking(async_validate_pdf)


def seal_verdict_check(pdf: bytes, *, trust_roots: Sequence[TrustRoot], moment: datetime) -> SignatureCheck:
    """:func:`validate_pdf` for a verdict only (``verify``): when the signed bytes do not match the signed digest,
    it stops there — the document is tampered whatever the certificate says — and leaves the signer fields,
    trust and modification analysis unset. Otherwise it is :func:`validate_pdf`."""
    _aware(moment, "moment")
    sig, reasons, done = _open(pdf, None)
    if done is not None or sig is None:
        return done or SignatureCheck(signed=False, reasons=reasons)
    if _digest_broken(sig):
        return SignatureCheck(
            signed=True, field_name=sig.field_name, reasons=[*reasons, "document bytes do not match the signed digest"]
        )
    return asyncio.run(_validate_signature(sig, reasons, trust_roots, moment))


def _embedded_validation_data(reader: Any) -> dict[str, Any]:
    """Certificates, CRLs and OCSP responses of the document's DSS (B-LT, LTA updates): ValidationContext
    arguments. Signed by their issuers, so taking them from the file trusts nothing more."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        certs = list(dss.load_certs())
        crls = [asn1_crl.CertificateList.load(ref.get_object().data) for ref in dss.crls]
        ocsps = [asn1_ocsp.OCSPResponse.load(ref.get_object().data) for ref in dss.ocsps]
    except NoDSSFoundError:
        return {}
    except Exception:  # a damaged DSS is no evidence: validate without it
        return {}
    return {"other_certs": certs, "crls": crls, "ocsps": ocsps}


def _context(
    roots: list[asn1_x509.Certificate], moment: datetime, data: dict[str, Any], *, past: bool = False
) -> ValidationContext:
    """A context judging certificates at ``moment``. ``past``: a moment a time-stamp proves, before today; a CRL
    issued after it still tells whether the certificate was revoked at it (revocation dates are kept; the seal
    CAs put no certificate on hold, the one reversible status this would misread)."""
    return ValidationContext(
        trust_roots=roots,
        moment=moment,
        allow_fetching=False,
        revocation_mode="soft-fail",
        retroactive_revinfo=past,
        **data,
    )


async def _validate_at(
    sig: Any,
    roots: list[asn1_x509.Certificate],
    signer_at: datetime,
    stamp_at: datetime,
    data: dict[str, Any],
    *,
    past: bool = False,
) -> Any:
    return await async_validate_pdf_signature(
        sig,
        signer_validation_context=_context(roots, signer_at, data, past=past),
        ts_validation_context=_context(roots, stamp_at, data, past=past),
        diff_policy=DEFAULT_DIFF_POLICY,
        key_usage_settings=KeyUsageConstraints(key_usage=set(SEAL_KEY_USAGE), match_all_key_usages=False),
    )


async def _document_timestamp_chain(
    sig: Any, roots: list[asn1_x509.Certificate], moment: datetime, data: dict[str, Any]
) -> datetime | None:
    """The time up to which the document time-stamps after the signature prove it existed: the newest is checked
    at ``moment`` (its TSA trusted now), each older one at the time of the one after it (it existed then, while
    its TSA was trusted). Returns the time of the oldest in that unbroken chain, or None (no chain)."""
    proven: datetime | None = None
    at = moment
    for ts in reversed(list(sig.reader.embedded_timestamp_signatures)):
        if ts.signed_revision <= sig.signed_revision:
            break
        try:
            st = await async_validate_pdf_timestamp(ts, validation_context=_context(roots, at, data, past=at < moment))
        except Exception:
            break
        if not (st.intact and st.valid and st.trusted) or st.timestamp is None:
            break
        at = proven = st.timestamp
    return proven


async def _proof_of_existence(
    sig: Any, status: Any, roots: list[asn1_x509.Certificate], moment: datetime, data: dict[str, Any]
) -> tuple[Any, datetime] | None:
    """The signature judged at the time it is proven to have existed, when it is not trusted today: the time of
    its signature time-stamp (the token checked today, or at the time of the document time-stamps that cover it),
    else the oldest of those document time-stamps. The status whose signer is trusted at that time and the time,
    or None."""
    chain = await _document_timestamp_chain(sig, roots, moment, data)
    stamp_at = chain or moment
    ts = status.timestamp_validity
    if ts is not None and ts.intact and ts.valid and ts.timestamp is not None:
        signer_at = ts.timestamp
    elif ts is None and chain is not None:
        signer_at = chain
    else:
        return None
    if signer_at > moment:
        return None
    again = await _validate_at(sig, roots, signer_at, stamp_at, data, past=True)
    ts_again = again.timestamp_validity
    if not again.trusted or (ts_again is not None and not (ts_again.intact and ts_again.valid and ts_again.trusted)):
        return None
    return again, signer_at


async def _validate_signature(
    sig: Any, reasons: list[str], trust_roots: Sequence[TrustRoot], moment: datetime
) -> SignatureCheck:
    subject = cn = ""
    name = sig.field_name
    try:
        subject, cn = _subject_strings(sig.signer_cert)
    except Exception as e:
        reasons.append(f"no readable signer certificate ({_short(e)})")
    trusted_at: datetime | None = None
    try:
        roots = [_to_asn1(c) for c in trust_roots]
        data = _embedded_validation_data(sig.reader)
        status = await _validate_at(sig, roots, moment, moment, data)
        stamp = status.timestamp_validity
        if status.intact and status.valid and (not status.trusted or (stamp is not None and not stamp.trusted)):
            # Long-term validation: a time-stamp proves the seal existed while its certificate was valid.
            try:
                past = await _proof_of_existence(sig, status, roots, moment, data)
            except Exception:  # odd time-stamps prove nothing: the verdict of today stands
                past = None
            if past is not None:
                status, trusted_at = past
    except Exception as e:
        return SignatureCheck(
            signed=True,
            modified_after_signing=True,
            signer_subject=subject,
            signer_cn=cn,
            field_name=name,
            reasons=[*reasons, f"signature could not be validated ({_short(e)})"],
        )

    intact = bool(status.intact)
    if not intact:
        reasons.append("document bytes do not match the signed digest")
    valid = intact and bool(status.valid)
    if intact and not status.valid:
        reasons.append("signature value does not verify")

    ts_time: datetime | None = None
    ts_trusted = True
    ts = status.timestamp_validity
    if ts is not None:
        if ts.intact and ts.valid:
            ts_time = ts.timestamp
            if not ts.trusted:
                ts_trusted = False
                reasons.append("signature time-stamp is not from a trusted TSA")
        else:
            valid = False
            reasons.append("signature time-stamp is invalid")

    trusted = valid and bool(status.trusted) and ts_trusted
    if valid and not status.trusted:
        indic = status.trust_problem_indic
        detail = f" ({getattr(indic, 'name', indic)})" if indic is not None else ""
        if status.revoked:
            reasons.append(f"signer certificate revoked{detail}")
        else:
            reasons.append(f"signer certificate not trusted at {moment.astimezone(UTC):%Y-%m-%d %H:%M}Z{detail}")

    modified, mod_reasons = _modification(status)
    reasons.extend(mod_reasons)
    try:
        padding_altered = _padding_altered(sig)
    except Exception:
        padding_altered = True
    if padding_altered:
        modified = True
        reasons.append("signature container padding altered after signing")
    return SignatureCheck(
        signed=True,
        intact=intact,
        valid=valid,
        trusted=trusted,
        modified_after_signing=modified,
        appended=_unsigned_after_seal(sig, status),
        signer_subject=subject,
        signer_cn=cn,
        signing_time=status.signer_reported_dt,
        timestamp_time=ts_time,
        trusted_at=trusted_at if trusted else None,
        field_name=name,
        reasons=reasons,
        validation_path=_path_certs(status) if trusted else (),
    )


def _unsigned_after_seal(sig: Any, status: Any) -> bool:
    """Whether the file goes on after the seal's signed revision with anything no signature covers and
    that is not validation data (issue 16 §3, pdfsig's "Not total document signed"): bytes after the
    last ``%%EOF``, or a later revision — not covered by a document time-stamp — that is not a DSS update
    (B-LT's validation data, ``extend_archival``: the DSS's objects, and the catalog, document
    information and XMP metadata the writer updates with them).
    Any doubt: True (a note, never a verdict)."""
    if status.coverage is None or status.coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return False
    try:
        reader = sig.reader
        data = reader.stream.getvalue()
        if not data.rstrip(b"\x00\t\n\r\x0c ").endswith(b"%%EOF"):
            return True
        last = reader.xrefs.total_revisions - 1
        stamped = max((ts.signed_revision for ts in reader.embedded_timestamp_signatures), default=-1)
        after = max(sig.signed_revision, stamped)
        if after >= last:
            return False
        root = reader.root
        if "/DSS" not in root:
            return True
        dss = _refs_under(root.raw_get("/DSS"))
        # What a DSS update also rewrites (pyHanko's writer: the catalog, the document information's
        # ModDate and Producer, the XMP metadata); nothing shown is read from them (pdf_inspect.py reads the
        # sealed revision), and the diff policy already refused anything beyond LTA updates.
        metadata = root.raw_get("/Metadata") if "/Metadata" in root else None
        written_with = (reader.trailer_view.raw_get("/Info"), metadata)
        bookkeeping = {reader.root_ref.idnum} | {r.idnum for r in written_with if isinstance(r, generic.IndirectObject)}
        for revision in range(after + 1, last + 1):
            changed = {ref.idnum for ref in reader.xrefs.explicit_refs_in_revision(revision)}
            if reader.xrefs.refs_freed_in_revision(revision) or not changed & dss or changed - dss - bookkeeping:
                return True
        return False
    except Exception:
        return True


def _refs_under(obj: Any, limit: int = 100_000) -> set[int]:
    """The object numbers reachable from ``obj`` (the DSS: its arrays, streams, VRI dictionaries)."""
    seen: set[int] = set()
    todo = [obj]
    while todo and len(seen) < limit:
        item = todo.pop()
        if isinstance(item, generic.IndirectObject):
            if item.idnum in seen:
                continue
            seen.add(item.idnum)
            ref: Any = item
            todo.append(ref.get_object())
        elif isinstance(item, generic.DictionaryObject):  # a stream is one too
            todo.extend(item.raw_get(key) for key in item)
        elif isinstance(item, generic.ArrayObject):
            todo.extend(item)
    return seen


def _path_certs(status: Any) -> tuple[asn1_x509.Certificate, ...]:
    path = status.validation_path
    return tuple(path.iter_certs(include_root=True)) if path is not None else ()


# ------------------------------------------------------------------------------------------------- archival


def _tst_signer_not_after(signed_data: Any) -> datetime | None:
    """When the certificate of the TSA that signed a time-stamp token (a CMS SignedData) ends."""
    sid = signed_data["signer_infos"][0]["sid"]
    if sid.name != "issuer_and_serial_number":
        return None
    serial = sid.chosen["serial_number"].native
    for choice in signed_data["certificates"] or []:
        cert = choice.chosen
        if isinstance(cert, asn1_x509.Certificate) and cert.serial_number == serial:
            end: datetime = cert["tbs_certificate"]["validity"]["not_after"].native
            return end
    return None


def _cms_certificates(signed_data: Any) -> list[asn1_x509.Certificate]:
    return [c.chosen for c in signed_data["certificates"] or [] if isinstance(c.chosen, asn1_x509.Certificate)]


def newest_timestamp_expiry(pdf: bytes) -> datetime | None:
    """When the TSA certificate of the newest time-stamp in ``pdf`` ends: the last document time-stamp, else the
    seal's signature time-stamp. None when the file carries no time-stamp (or is unreadable)."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        doc_ts = list(reader.embedded_timestamp_signatures)
        if doc_ts:
            return _tst_signer_not_after(doc_ts[-1].signed_data)
        sigs = list(reader.embedded_regular_signatures)
        if not sigs:
            return None
        unsigned = sigs[0].signer_info["unsigned_attrs"]
        for attr in unsigned if unsigned else []:
            if attr["type"].native == "signature_time_stamp_token":
                return _tst_signer_not_after(attr["values"][0]["content"])
    except Exception:
        return None
    return None


async def async_extend_archival(
    pdf: bytes,
    *,
    timestamper: TimeStamper,
    trust_roots: Sequence[TrustRoot],
    moment: datetime,
    crls: Sequence[bytes] = (),
) -> bytes:
    """Make ``pdf`` PAdES B-LTA, or renew its archival time-stamp chain: the validation data of the seal and of
    the time-stamps so far (certificates, and the given CRLs) go into the DSS, then a new document time-stamp
    covers everything. Run before the newest time-stamp's TSA certificate ends (:func:`newest_timestamp_expiry`):
    the new stamp proves the older ones existed while their TSAs were trusted. ``moment`` is when the data is
    checked (now). Raises on a file without a seal (nothing to keep)."""
    _aware(moment, "moment")
    roots = [_to_asn1(c) for c in trust_roots]
    extra = {"crls": [asn1_crl.CertificateList.load(c) for c in crls]} if crls else {}
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    sig, _ = _select_signature(reader, None)
    if sig is None:
        raise ValueError("the file carries no seal signature")
    data = _embedded_validation_data(reader)
    if crls:
        data = {**data, "crls": [*data.get("crls", []), *extra["crls"]]}
    # The DSS gets the certificates of the seal and of its time-stamps, the roots and the CRLs as they are, not
    # through a validation at ``moment``: after a rotation the seal certificate may be revoked or ended today,
    # and its data is exactly what a verifier needs to judge it at the time the time-stamps prove.
    certs = [*_cms_certificates(sig.signed_data), *roots]
    for ts in reader.embedded_timestamp_signatures:
        certs += _cms_certificates(ts.signed_data)
    unsigned = sig.signer_info["unsigned_attrs"]
    for attr in unsigned if unsigned else []:
        if attr["type"].native == "signature_time_stamp_token":
            certs += _cms_certificates(attr["values"][0]["content"])
    with_data = io.BytesIO(pdf)
    DocumentSecurityStore.add_dss(with_data, None, certs=certs, crls=extra.get("crls") or None, force_write=True)
    with_data.seek(0)
    reader = PdfFileReader(with_data, strict=False)
    stamper = PdfTimeStamper(timestamper)
    out = await stamper.async_update_archival_timestamp_chain(reader, _context(roots, moment, data), in_place=False)
    return cast(bytes, out.getvalue())


extend_archival = blocking(async_extend_archival)
