"""The composition root: the one place that picks concrete adapters from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine

from ecert.adapters import keystore
from ecert.adapters.clock import Clock
from ecert.adapters.db.engine import make_engine
from ecert.adapters.db.second_factor import SecretBox
from ecert.adapters.db.unit_of_work import SqlUnitOfWork
from ecert.config import Settings, load_policy
from ecert.domain.policy import Policy

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyhanko.sign.signers import Signer

    from ecert.adapters.db.audit import NoteKey, Sequenced
    from ecert.adapters.db.sessions import FailureStore
    from ecert.adapters.db.verification_log import VerificationLog
    from ecert.adapters.documents.fonts import FontSet
    from ecert.adapters.email import SmtpMailer
    from ecert.adapters.oidc import OidcClient
    from ecert.adapters.ratelimit import Limiter
    from ecert.adapters.sealing import OfdChecker, OfdMaker
    from ecert.adapters.signing.jws import JwsSigner
    from ecert.adapters.webhooks import WebhookSender
    from ecert.domain.verification import VerificationSnapshot
    from ecert.services.attestation import Attestation
    from ecert.services.ports import DocumentServices
    from ecert.services.qr_verify import FastVerify
    from ecert.services.verification import PdfSignatureChecker, SnapshotLoader


@dataclass
class App:
    settings: Settings
    clock: Clock
    policy: Policy
    keys: keystore.KeySettings
    _engine: Engine | None = field(default=None, repr=False)

    @cached_property
    def engine(self) -> Engine:
        db = self.settings.db
        return self._engine or make_engine(
            self.settings.database_url, pool_size=db.pool_size, pool_overflow=db.pool_overflow
        )

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.secret_box, on_outbox=self._on_outbox)

    @cached_property
    def _on_outbox(self) -> Callable[[Connection], None] | None:
        """PostgreSQL: queue the notifications' delivery job in the transaction that wrote them (issue 14)."""
        from ecert.adapters import queue

        if queue.backend_for(self.engine) != queue.BACKEND_PROCRASTINATE:
            return None
        papp = queue.procrastinate_app(self.engine)
        return lambda conn: queue.defer_outbox(papp, conn)

    def webhook_sender(self) -> WebhookSender:
        """A sender of signed notifications with this service's limits (``ECERT_WEBHOOK_*``)."""
        from ecert.adapters.webhooks import WebhookSender

        w = self.settings.webhooks
        return WebhookSender(timeout=w.timeout, allow_http=w.allow_http, allow_private=w.allow_private)

    @cached_property
    def secret_box(self) -> SecretBox:
        """The key of the staff's TOTP secrets at rest (issue 16 §3), read from the keys directory on
        first use only."""
        return SecretBox(lambda: keystore.app_secret(self.keys, "totp-at-rest"))

    @cached_property
    def seal_signer(self) -> Signer:
        """The seal key (R-DOC-2), loaded on first use; ``keys_missing`` or ``bad_keys`` if it cannot be."""
        from ecert.adapters.signing.keys import SealKeyError, load_signer
        from ecert.domain.errors import EcertError

        try:
            return load_signer(keystore.seal_config(self.keys))
        except SealKeyError as exc:  # names the file, never the secret
            raise EcertError("bad_keys", params={"reason": str(exc)}) from exc

    @cached_property
    def demo_seal(self) -> bool:
        """Whether this service seals with a DEMO key: the one answer behind the DEMO mark on every
        certificate it renders and the DEMO banner on every web page. The seal certificate decides
        (:func:`.signing.pki.is_demo_certificate`: it or its issuer is OU=DEMO), however the key is
        configured. While no seal key can be loaded, a service with none configured counts as DEMO
        (``ecert init`` makes it a DEMO PKI); one whose configured key fails to load does not."""
        from cryptography import x509

        from ecert.adapters.signing import pki
        from ecert.adapters.signing.keys import signer_certificate
        from ecert.domain.errors import EcertError

        try:
            cert = x509.load_der_x509_certificate(signer_certificate(self.seal_signer).dump())
        except EcertError:
            return self.keys.is_demo
        return pki.is_demo_certificate(cert)

    @cached_property
    def documents(self) -> DocumentServices:
        """Renderer, seal and QR signer; built on first use (loading keys and fonts costs time)."""
        from ecert.adapters.documents import CertificateRenderer
        from ecert.adapters.sealing import Ed25519QrSigner, PadesSealer
        from ecert.services.ports import DocumentServices

        signer = self.seal_signer
        profile = keystore.seal_profile(self.keys)
        long_term = profile in ("B-LT", "B-LTA")
        renderer = CertificateRenderer(demo=self.demo_seal)
        ofd, ofd_problem = self._ofd_maker(renderer.fonts)
        return DocumentServices(
            renderer=renderer,
            sealer=PadesSealer(
                signer,
                timestamper=self.timestamper if profile != "B-B" else None,
                profile=profile,
                # B-LT/B-LTA gather the validation data against the roots, with the configured CRLs
                trust_roots=keystore.trust_roots(self.keys) if long_term else [],
                crls=keystore.seal_crls(self.keys) if long_term else [],
            ),
            qr=Ed25519QrSigner(keystore.qr_private_key(self.keys), self.keys.base_url),
            ofd=ofd,
            ofd_problem=ofd_problem,
        )

    @cached_property
    def timestamper(self) -> Any:
        """The time-stamp authority's client (ECERT_TSA_URL; ``demo``: the DEMO TSA on the app clock), or None."""
        return keystore.timestamper(self.keys, self.clock.now)

    def _ofd_stamp(self) -> Callable[[bytes], bytes] | None:
        """The OFD seal's time-stamp (SES_Signature.timeStamp) wherever the PDF seal is time-stamped."""
        from ecert.adapters.signing.timestamps import stamp_bytes

        stamper = self.timestamper
        if stamper is None or keystore.seal_profile(self.keys) == "B-B":
            return None
        return lambda value: stamp_bytes(stamper, value)

    def _ofd_maker(self, fonts: FontSet) -> tuple[OfdMaker | None, Exception | None]:
        """The OFD maker (R-DOC-6) with the configured SM2 seal, or why there is none: a deployment
        without an SM2 seal still issues PDFs, and says why when an OFD is asked for."""
        from ecert.adapters.sealing import OfdMaker
        from ecert.domain.errors import EcertError

        try:
            cfg = keystore.sm2_seal_config(self.keys)
        except EcertError as exc:
            return None, exc
        files: list[bytes] = []
        for path in (cfg.key, cfg.cert, cfg.seal):
            try:
                files.append(path.read_bytes())
            except OSError:
                return None, EcertError("keys_missing", params={"what": "seal_key", "path": str(path)})
        key, cert, seal = files
        try:
            return OfdMaker.from_files(key, cert, seal, fonts, demo=self.demo_seal, stamp=self._ofd_stamp()), None
        except ValueError as exc:
            return None, EcertError("bad_keys", params={"reason": f"{cfg.key}: {exc}"})

    @cached_property
    def qr_public_keys(self) -> dict[str, Ed25519PublicKey]:
        return keystore.qr_public_keys(self.keys)

    @cached_property
    def attestation_signer(self) -> JwsSigner:
        """Signs attestations (issue 13) as JWS under the current QR key, whose kid the JWKS lists."""
        from ecert.adapters.signing.jws import JwsSigner

        return JwsSigner(keystore.qr_private_key(self.keys))

    def attestation_pdf(self, att: Attestation, lang: str = "zh") -> bytes:
        """The sealed one-page PDF of an attestation (its own QR points to the JSON of the question)."""
        from ecert.adapters.documents import default_fonts
        from ecert.adapters.documents.attestation_pdf import render_attestation

        fonts = default_fonts()
        page = render_attestation(att.document, att.jws, base_url=self.keys.base_url, fonts=fonts, lang=lang)
        return self.documents.sealer.seal(page, self.clock.now())

    @cached_property
    def audit_key(self) -> NoteKey:
        """The audit log's checkpoint key (R-ACC-1) and the name its checkpoints carry."""
        from ecert.adapters.db.audit import NoteKey

        return NoteKey(keystore.audit_log_name(self.keys), keystore.audit_private_key(self.keys))

    def sequence_audit(self, *, full: bool = False) -> Sequenced:
        """Sequence the committed audit events into the tree and sign a checkpoint (adapters/db/audit.py)."""
        from ecert.adapters.db.audit import sequence

        return sequence(self.engine, self.audit_key, self.clock.now, full=full)

    @cached_property
    def signature_checker(self) -> PdfSignatureChecker:
        from ecert.adapters.sealing import PdfSignatureChecker as Checker

        return Checker(keystore.trust_roots(self.keys))

    @cached_property
    def ofd_checker(self) -> OfdChecker:
        """The OFD seal check (R-DOC-6) against the SM2 roots (none configured: no OFD is trusted)."""
        from ecert.adapters.sealing import OfdChecker

        return OfdChecker(keystore.sm2_trust_roots(self.keys), tsa_roots=keystore.trust_roots(self.keys))


def bootstrap(settings: Settings, engine: Engine | None = None, keys: keystore.KeySettings | None = None) -> App:
    """Validate the policy at start (a bad policy file fails here, not mid-request)."""
    return App(
        settings=settings,
        clock=Clock(settings.today_override),
        policy=load_policy(settings.policy_file),
        keys=keys or keystore.key_settings(settings.keys),
        _engine=engine,
    )


# --- Builders from the settings (issue 11 item 5) ----------------------------------------------
# Each builds one adapter from :class:`ecert.config.Settings` (or an :class:`App`), on call: no
# module holds a mailer, limiter, log or queue of its own. Imports are local: a CLI command that
# sends no mail loads no SMTP code, and the web and job modules load only what they use.


def make_mailer(settings: Settings) -> SmtpMailer:
    """The renewal reminders' SMTP mailer (``ECERT_SMTP_*``). Raises
    :class:`ecert.adapters.email.MailConfigError` naming the variable missing or malformed."""
    from ecert.adapters.email import SmtpMailer

    return SmtpMailer.from_env(settings.mail.variables)


def make_rate_limiter(settings: Settings) -> Limiter:
    """The public verification pages' per-client limit (R-DOC-4): Redis windows shared by every
    process when ``ECERT_REDIS_URL`` is set (this process's own buckets while Redis does not
    answer), else token buckets of this process."""
    from ecert.adapters.ratelimit import ClientBuckets, RedisWindows

    rl = settings.ratelimit
    if rl.redis_url:
        return RedisWindows(rl.redis_url, int(rl.per_minute), rl.redis_prefix)
    return ClientBuckets(rl.per_minute)


def make_login_failures(app: App) -> FailureStore:
    """The sign-in throttle's failure counts: in Redis beside the verification limit when
    ``ECERT_REDIS_URL`` is set (the database table while Redis is unreachable), else the table."""
    from ecert.adapters.db.sessions import SqlFailures
    from ecert.adapters.ratelimit import RedisFailures

    table = SqlFailures(app.engine)
    rl = app.settings.ratelimit
    return RedisFailures(rl.redis_url, rl.redis_prefix, table) if rl.redis_url else table


def make_verification_log(app: App, *, on_drop: Callable[[int], None] | None = None) -> VerificationLog:
    """One process's verification log (R-ACC-1) with the configured buffer and interval."""
    from ecert.adapters.db.verification_log import VerificationLog

    cfg = app.settings.verification_log
    return VerificationLog(app.engine, app.clock.now, capacity=cfg.buffer, interval=cfg.interval, on_drop=on_drop)


def make_job_queue(app: App) -> Any | None:
    """The job queue's procrastinate ``App`` on the application's PostgreSQL database, with no task
    registered yet (entrypoints/jobs/tasks.py ``register_jobs`` adds them); ``None`` on SQLite, where
    jobs run in process (adapters/queue.py)."""
    from ecert.adapters import queue

    if queue.backend_for(app.engine) != queue.BACKEND_PROCRASTINATE:
        return None
    return queue.procrastinate_app(app.engine)


# ------------------------------------------------------------------------------------------ web parts
# What one web process shares between its requests, built when the application is (never at import):
# the public pages' rate limiter (R-DOC-4), the verification log (R-ACC-1) and the QR check's hot
# path with its registry read, PostgreSQL's async one-statement read or SQLite's synchronous one.


def make_platform_client(settings: Settings) -> OidcClient | None:
    """The holders' platform sign-in (OpenID Connect, ``ECERT_OIDC_*``), or None when no issuer is
    set (password accounts only). The provider is asked for its configuration on first use, not here."""
    if not settings.oidc.enabled:
        return None
    from ecert.adapters.oidc import OidcClient

    return OidcClient(settings.oidc)


@dataclass(frozen=True)
class WebParts:
    limiter: Limiter
    verification_log: VerificationLog
    fast_verify: FastVerify
    platform: OidcClient | None = None  # the platform sign-in, when configured
    login_failures: FailureStore | None = None  # the sign-in throttle's counts (None: the database's)


def _fast_snapshot(engine: Engine, pool_size: int) -> SnapshotLoader | None:
    """The QR check's registry read: one prepared statement on an async autocommit connection on
    PostgreSQL (no thread hop); None on SQLite (the unit of work's read, on a worker thread)."""
    if engine.dialect.name != "postgresql":
        return None
    from ecert.adapters.db.certificates import SNAPSHOT_SQL_PG, snapshot_from_rows
    from ecert.adapters.db.engine import AsyncReadPool

    pool = AsyncReadPool(engine, pool_size)

    async def snapshot(serial: str) -> VerificationSnapshot | None:
        return snapshot_from_rows(await pool.fetch(SNAPSHOT_SQL_PG, (serial,)))

    return snapshot


def web_parts(
    core: App,
    *,
    limiter: Limiter | None = None,
    verification_log: VerificationLog | None = None,
    on_log_drop: Callable[[int], None] | None = None,
    on_limiter_fallback: Callable[[bool], None] | None = None,
) -> WebParts:
    """The web process's shared parts; ``limiter`` and ``verification_log`` default to the configured
    ones (``make_rate_limiter``, ``make_verification_log``). ``on_log_drop`` counts
    verifications the log could not keep; ``on_limiter_fallback`` is told when the limits fall back to this
    process (Redis unreachable) and when they are shared again."""
    from ecert.adapters.ratelimit import RedisWindows
    from ecert.services.qr_verify import FastVerify

    vlog = verification_log or make_verification_log(core, on_drop=on_log_drop)
    rate_limiter = limiter or make_rate_limiter(core.settings)
    if on_limiter_fallback is not None and isinstance(rate_limiter, RedisWindows):
        rate_limiter.on_fallback = on_limiter_fallback
    fast = FastVerify(
        uow=core.uow,
        keys=lambda: core.qr_public_keys,
        today=core.clock.today,
        policy=core.policy,
        snapshot=_fast_snapshot(core.engine, core.settings.db.read_pool_size),
        log=vlog,
        cache_size=core.settings.web.qr_token_cache,  # verified tokens kept; 0 turns the cache off
    )
    return WebParts(
        limiter=rate_limiter,
        verification_log=vlog,
        fast_verify=fast,
        platform=make_platform_client(core.settings),
        login_failures=make_login_failures(core),
    )
