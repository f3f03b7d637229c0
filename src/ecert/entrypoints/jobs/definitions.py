"""What each job does: thin wrappers over the services, one function a job, the same whether a
procrastinate worker or the in-process runner calls it. Each is idempotent (a queue runs a job
again after a worker dies mid-job): the services they call are (see each one's docstring).

Every function takes the composition root (:class:`ecert.bootstrap.App`) first, keyword arguments
that are plain JSON values (they are stored in the queue), and an optional ``progress(done, total)``
for a progress bar when a person runs it in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ecert.bootstrap import App, make_mailer
from ecert.domain.dates import in_cst
from ecert.domain.errors import BadInput, EcertError, problem
from ecert.services import reminders as reminders_service
from ecert.services import reseal as reseal_service
from ecert.services import roster as roster_service
from ecert.services import status_list as status_list_service
from ecert.services import subscriptions as subscriptions_service
from ecert.services import verification
from ecert.services.sweep import sweep as run_sweep
from ecert.services.views import export as export_service

Progress = Callable[[int, int], None]  # (done, total); total 0 when unknown
SYSTEM_ACTOR = "system:jobs"


def sweep(a: App, *, progress: Progress | None = None) -> dict[str, Any]:
    """The lapse sweep for today (R-LAPSE-1): set-based, running it twice lapses nothing more."""
    return run_sweep(a.uow(), today=a.clock.today(), now=a.clock.now(), policy=a.policy, actor=SYSTEM_ACTOR).as_dict()


def reminders(
    a: App, *, days: int = 30, send: bool = False, limit: int = 1000, progress: Progress | None = None
) -> dict[str, Any]:
    """Queue renewal reminders (R-REN-1; one per window, ever) and, with ``send``, deliver queued ones
    by SMTP (ECERT_SMTP_*; a reminder is marked sent only once the server accepted it)."""
    out: dict[str, Any] = {
        "queued": reminders_service.queue_reminders(
            a.uow(), today=a.clock.today(), days=days, policy=a.policy, now=a.clock.now(), actor=SYSTEM_ACTOR
        )
    }
    if send:
        from ecert.adapters.email import MailConfigError

        try:
            mailer = make_mailer(a.settings)
        except MailConfigError as exc:
            zh, en = f"邮件设置无效:{exc.variable}", f"Mail settings are incomplete or invalid: {exc.variable}"
            raise BadInput([problem(zh, en, column=exc.variable)]) from exc
        with mailer:
            out["sent"] = reminders_service.send_reminders(
                a.uow, mailer, now=a.clock.now(), policy=a.policy, limit=limit, actor=SYSTEM_ACTOR
            )
    return out


def export(
    a: App, *, kind: str = "registry", fmt: str = "csv", out: str, progress: Progress | None = None
) -> dict[str, Any]:
    """Write the registry or the certificate list to ``out`` (CSV or JSON Lines), replacing it whole."""
    rows_progress = (lambda n: progress(n, 0)) if progress is not None else None
    return export_service.export(a.uow(), kind=kind, fmt=fmt, out=Path(out), progress=rows_progress).as_dict()


def reseal(a: App, *, out_dir: str, progress: Progress | None = None) -> dict[str, Any]:
    """Replace every current certificate sealed with another key than today's (services/reseal.py)."""
    return reseal_service.reseal(
        a.uow,
        docs=a.documents,
        policy=a.policy,
        today=a.clock.today(),
        now=a.clock.now,
        actor=SYSTEM_ACTOR,
        out_dir=Path(out_dir),
        progress=progress,
    ).as_dict()


def archive(a: App, *, directory: str, days: int = 365, progress: Progress | None = None) -> dict[str, Any]:
    """Renew the archival time-stamps of the sealed PDFs under ``directory`` whose newest time-stamp's TSA
    certificate ends within ``days`` (or that have none): PAdES B-LTA (adapters/signing/archival.py)."""
    from datetime import timedelta

    from ecert.adapters import keystore
    from ecert.adapters.signing.archival import renew_archive
    from ecert.adapters.signing.pades import extend_archival

    stamper = keystore.timestamper(a.keys, a.clock.now)
    if stamper is None:
        raise EcertError("bad_keys", params={"reason": "the archival time-stamps need ECERT_TSA_URL"})
    roots, crls, now = keystore.trust_roots(a.keys), keystore.seal_crls(a.keys), a.clock.now()

    def extend(pdf: bytes) -> bytes:
        return extend_archival(pdf, timestamper=stamper, trust_roots=roots, moment=now, crls=crls)

    return renew_archive(
        Path(directory), extend=extend, now=now, renew_before=timedelta(days=days), progress=progress
    ).as_dict()


def status_list(a: App, *, progress: Progress | None = None) -> dict[str, Any]:
    """Build, sign and store the status list (issue 14 item 2), served at /.well-known/ecert-status-list.
    Running it again builds a newer list of the same certificates: harmless."""
    built = status_list_service.build(a.uow(), signer=a.attestation_signer, now=a.clock.now())
    return {
        "issued_at": in_cst(built.issued_at).isoformat(), "next_update": in_cst(built.next_update).isoformat(),
        "listed": built.listed, "covered": built.covered, "kid": built.kid,
    }  # fmt: skip


def audit_sequence(a: App, *, progress: Progress | None = None) -> dict[str, Any]:
    """Sequence every committed audit event into the Merkle tree and sign a checkpoint (R-ACC-1;
    adapters/db/audit.py). The web processes do it every second; a worker does it every minute too,
    so a deployment whose web tier is down still gets its events sequenced."""
    done = a.sequence_audit(full=True)
    return {"size": done.size, "added": done.added}


# ------------------------------------------------------------------------------------------ rosters


def roster_signing(a: App) -> tuple[str, roster_service.Sign]:
    """The key id and the JWS signer of roster reports: the attestations' (adapters/signing/jws.py), under
    the current QR key, so the keys of ``keys export --jwks`` and ``/.well-known/jwks.json`` check both."""
    signer = a.attestation_signer
    return signer.kid, signer.sign


def verify_certificate_file(a: App) -> roster_service.VerifyFile:
    """A certificate file of a zip, verified exactly as a single upload (``ecert verify``, the web's
    upload page): the same checks against the same keys, today."""

    def verify(data: bytes) -> Any:
        return verification.verify_pdf(
            a.uow(), data, check_signature=a.signature_checker, keys=a.qr_public_keys, policy=a.policy,
            check_ofd=a.ofd_checker if verification.is_ofd(data) else None, today=a.clock.today(), now=a.clock.now(),
        )  # fmt: skip

    return verify


def build_roster_report(
    a: App,
    roster: roster_service.RosterFile,
    *,
    uscc: str,
    on: date | None,
    actor: str,
    progress: Progress | None = None,
) -> roster_service.RosterReport:
    """Answer a roster and make its signed report (services/roster.py); the zip's verifications go to
    the verification log (R-ACC-1, channel ``roster``)."""
    from ecert.adapters.db.verification_log import verification as logged
    from ecert.adapters.db.verification_log import write_batch

    answer = roster_service.answer_roster(
        a.uow(), roster, uscc=uscc, on=on, now=a.clock.now(), policy=a.policy,
        verify_file=verify_certificate_file(a) if roster.members is not None else None, progress=progress,
    )  # fmt: skip
    checked = roster_service.verdict_log_rows(answer)
    if checked:
        now = a.clock.now()
        write_batch(a.engine, [logged(now, "roster", *row) for row in checked], now=now)
    kid, sign = roster_signing(a)
    return roster_service.make_report(
        a.uow(), answer, kid=kid, sign=sign, seal=a.documents.sealer.seal, actor=actor, lang=a.settings.lang
    )


def roster(a: App, *, run_id: str, progress: Progress | None = None) -> dict[str, Any]:
    """Answer the roster of run ``run_id`` (an employer's upload, adapters/db/rosters.py): the report
    files are stored with the run, or the refusal. Running it again after it finished does nothing."""
    uow = a.uow()
    with uow:
        run = uow.rosters.get(run_id)
        data = uow.rosters.input_data(run_id)
    if run is None or run.status in ("done", "failed") or data is None:
        return {"run_id": run_id, "status": run.status if run else "missing"}

    def report_progress(done: int, total: int) -> None:
        with uow:
            uow.rosters.progress(run_id, done, total)
            uow.commit()
        if progress is not None:
            progress(done, total)

    settings = a.settings.roster
    try:
        with roster_service.spooled(data, run.input_name) as path:
            roster_file = roster_service.read_roster(
                path, name=run.input_name, max_rows=settings.max_rows, max_bytes=settings.max_bytes
            )
        report = build_roster_report(
            a, roster_file, uscc=run.employer_uscc, on=run.on_date, actor=run.username, progress=report_progress
        )
    except EcertError as exc:
        with uow:
            uow.rosters.fail(run_id, error=exc.as_dict(a.settings.lang)["error"], now=a.clock.now())
            uow.commit()
        return {"run_id": run_id, "status": "failed", "error": exc.code}
    with uow:
        uow.rosters.finish(run_id, counts=report.body["counts"], files=report.files, now=a.clock.now())
        uow.commit()
    return {"run_id": run_id, "status": "done", "counts": report.body["counts"]}


def deliver(a: App, *, progress: Progress | None = None) -> dict[str, Any]:
    """Send the subscribers' notifications that are due (issue 14; services/subscriptions.py): signed,
    retried with back-off, dead after ``ECERT_WEBHOOK_MAX_ATTEMPTS``. Idempotent: an event is sent
    again only if its outcome was not recorded (the receiver drops the duplicate by its id)."""
    run = subscriptions_service.deliver_due(
        a.uow, a.webhook_sender(), cfg=a.settings.webhooks, base_url=a.keys.base_url
    )
    return run.as_dict()


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Callable[..., dict[str, Any]]
    # Jobs with the same lock never run at the same time; with ``dedupe`` a second one is not queued
    # while one is still waiting (it would do the same work).
    lock: str | None
    dedupe: bool


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("sweep", sweep, lock="ecert.sweep", dedupe=True),
        JobSpec("reminders", reminders, lock="ecert.reminders", dedupe=True),
        JobSpec("export", export, lock=None, dedupe=False),
        JobSpec("reseal", reseal, lock="ecert.reseal", dedupe=True),
        JobSpec("roster", roster, lock=None, dedupe=False),
        JobSpec("archive", archive, lock="ecert.archive", dedupe=True),
        JobSpec("deliver", deliver, lock="ecert.deliver", dedupe=True),
        JobSpec("status_list", status_list, lock="ecert.status_list", dedupe=True),
        JobSpec("audit_sequence", audit_sequence, lock="ecert.audit", dedupe=True),
    )
}
