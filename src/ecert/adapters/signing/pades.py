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
import functools
import io
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeAlias, TypeVar, cast

from asn1crypto import parser as asn1_parser  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError, find_unique_cms_attribute
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
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
    ) -> None:
        if tsa_url is not None and timestamper is not None:
            raise ValueError("give tsa_url or timestamper, not both")
        if timestamper is None and tsa_url is not None:
            timestamper = HTTPTimeStamper(tsa_url, timeout=tsa_timeout)
        self.signer = signer
        self.timestamper = timestamper
        self.meta = PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm=MD_ALGORITHM,
            subfilter=SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
        )
        self.bytes_reserved = bytes_reserved or estimate_bytes_reserved(signer, with_timestamp=timestamper is not None)

    @property
    def level(self) -> str:
        return "B-T" if self.timestamper is not None else "B-B"

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
            self.meta, self.signer, timestamper=self.timestamper, signing_time=signing_time
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
    chain pyHanko built for a trusted signer, trust root first.
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


async def _validate_signature(
    sig: Any, reasons: list[str], trust_roots: Sequence[TrustRoot], moment: datetime
) -> SignatureCheck:
    subject = cn = ""
    name = sig.field_name
    try:
        subject, cn = _subject_strings(sig.signer_cert)
    except Exception as e:
        reasons.append(f"no readable signer certificate ({_short(e)})")
    try:
        roots = [_to_asn1(c) for c in trust_roots]
        vc = ValidationContext(trust_roots=roots, moment=moment, allow_fetching=False, revocation_mode="soft-fail")
        status = await async_validate_pdf_signature(
            sig,
            signer_validation_context=vc,
            diff_policy=DEFAULT_DIFF_POLICY,
            key_usage_settings=KeyUsageConstraints(key_usage=set(SEAL_KEY_USAGE), match_all_key_usages=False),
        )
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
        appended=status.coverage is not None and status.coverage != SignatureCoverageLevel.ENTIRE_FILE,
        signer_subject=subject,
        signer_cn=cn,
        signing_time=status.signer_reported_dt,
        timestamp_time=ts_time,
        field_name=name,
        reasons=reasons,
        validation_path=_path_certs(status) if trusted else (),
    )


def _path_certs(status: Any) -> tuple[asn1_x509.Certificate, ...]:
    path = status.validation_path
    return tuple(path.iter_certs(include_root=True)) if path is not None else ()
