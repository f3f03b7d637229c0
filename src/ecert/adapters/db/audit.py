"""The audit log (R-ACC-1): append-only, tamper-evident, and no bottleneck — a Merkle-tree
transparency log in the manner of Certificate Transparency (RFC 9162) with C2SP signed checkpoints.

- **Append** (:meth:`AuditLog.append`): an event is one INSERT in the transaction of the change that
  causes it, with no lock: it commits or rolls back with that change. Its ``hash`` column is its leaf
  hash, sha256(0x00 || canonical event).
- **Sequence** (:func:`sequence`): about once a second (the web process's lifespan, the job worker) and
  on demand (``ecert audit verify`` / ``audit checkpoint``, at startup), the sequencer takes the
  committed events that have no leaf yet, in id order, gives each the next leaf index
  (``audit_leaves``), extends the tree and writes a signed checkpoint (``audit_checkpoints``; C2SP
  ``tlog-checkpoint`` text in a signed note, adapters/signed_note.py, the dedicated audit key).
  Only sequencers wait for one another. An event committed but not yet sequenced when a process
  dies is sequenced by the next run: nothing is lost between commit and sequencing.
- **Check** (:func:`check`): every leaf's event is read again and hashed, the tree is rebuilt and its
  root compared with the latest signed checkpoint and, with ``--from-checkpoint``, a consistency proof
  (RFC 9162 §2.1.4) from a checkpoint kept elsewhere: a truncated, rewritten (even with every hash
  recomputed: the attacker has no audit key), reordered or shortened log is found.
- **Verification batches**: public verifications are rows of ``verification_events``; each batch is
  sealed by one ``verification.batch`` event whose payload names the batch's id range, row count and a
  SHA-256 digest over the rows (adapters/db/verification_log.py), recomputed by the check.
- **Registry rows**: the registry tables are not in the tree; each certificate row's digest
  (:func:`certificate_digest`) is in the ``certificate.issue`` event that records it, each write of
  registration rows logs theirs (:func:`log_registrations`, ``registry.rows``), migration 0014 logged
  the rows it found (``audit.baseline``): a certificate or registration row edited, removed or added by
  hand is found by the check. Specialties, applications and users are not covered yet (README, R-ACC-1).

PostgreSQL refuses UPDATE, DELETE and TRUNCATE on ``audit_events``, ``audit_leaves`` and
``audit_checkpoints`` (migration 0014's trigger); the application's role should also lack those
privileges (README). Events written before migration 0014 keep their old chain hashes
(``prev_hash``/``hash``); the migration gave them leaves in id order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text

from ecert.adapters import signed_note
from ecert.adapters.db.tables import (
    audit_checkpoints,
    audit_events,
    audit_leaves,
    certificates,
    registrations,
    verification_events,
)
from ecert.domain import merkle

GENESIS = "0" * 64  # the old chain's start (events written before migration 0014)
# Serialises the writers of verification batches (one per web process, and the CLI): a batch's rows
# then take increasing ids, and batches follow each other in id order as their events do in the
# log, which is what lets the check give every row exactly one batch. Issuance never waits for it.
_PG_VERIFICATION_LOCK_KEY = 0x65636576
# Serialises the sequencers (each web process runs one, and the CLI on demand); appends never take it.
_PG_SEQUENCER_LOCK_KEY = 0x65636573
_INSERT = insert(audit_events)
_HEAD_ID = select(audit_events.c.id, audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1)
BATCH_ACTION = "verification.batch"
ISSUE_ACTION = "certificate.issue"
BASELINE_ACTION = "audit.baseline"
# Rows read at a time when the check walks the log (a server-side cursor on PostgreSQL).
_CHUNK = 10_000
# Events one sequencing transaction takes at most (the next run takes the rest).
SEQUENCE_BATCH = 20_000
# The periodic sequencer looks for unsequenced events only among the last WINDOW ids above the
# highest sequenced one (an index range, not the whole table, every second); a transaction still
# open after WINDOW newer events is sequenced by the next full run (startup, the CLI, once a minute).
WINDOW = 10_000
# Problems of one kind listed at most; the rest are counted in the last one's message.
_MAX_PER_CODE = 10


def canonical(at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "at": at.astimezone(UTC).isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": payload,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def chain_hash(prev_hash: str, body: str) -> str:
    """The old chain's link (events before migration 0014; its downgrade rebuilds the chain)."""
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def event_leaf(body: str) -> bytes:
    """The event's Merkle leaf hash: sha256(0x00 || canonical event, UTF-8) (RFC 9162 §2.1.1)."""
    return merkle.leaf_hash(body.encode("utf-8"))


def _utc(at: datetime) -> datetime:
    """SQLite returns the stored UTC instant without its offset; PostgreSQL in the session's zone."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _row_leaf(at: datetime, actor: str, action: str, subject: str | None, payload_json: str) -> bytes:
    return event_leaf(canonical(_utc(at), actor, action, subject, json.loads(payload_json)))


# The columns of a certificate row its digest covers, in this order: all but the surrogate reference.
CERTIFICATE_COLUMNS = (
    "serial", "registration_no", "data_version", "identifier", "usage_from", "usage_until", "issue_date",
    "content_digest", "seal_key_id", "qr_kid", "confirmed_by", "confirmed_at", "issued_at",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


# The same for a registration row: every column but the surrogate id.
REGISTRATION_COLUMNS = (
    "registration_no", "province_code", "name", "name_rare_chars", "gender", "birth_date", "id_number",
    "employer_name", "employer_uscc", "status", "status_reason", "status_basis", "status_effective", "ce_hours",
    "email", "data_version", "created_at", "updated_at",
)  # fmt: skip
ROWS_ACTION = "registry.rows"  # the digests of registry rows a change wrote (the change's own event says why)
_ROWS_PER_EVENT = 5_000


def _digest(row: Mapping[str, Any], columns: tuple[str, ...]) -> str:
    fields = [_plain(row[c]) for c in columns]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def certificate_digest(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a certificate row's columns (:data:`CERTIFICATE_COLUMNS`) as a JSON array."""
    return _digest(row, CERTIFICATE_COLUMNS)


def registration_digest(row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a registration row's columns (:data:`REGISTRATION_COLUMNS`) as a JSON array."""
    return _digest(row, REGISTRATION_COLUMNS)


def log_registrations(conn: Connection, which: Any, *, at: datetime, actor: str) -> int:
    """Log the digests of the registration rows ``which`` selects, as they stand in this transaction
    (``registry.rows`` events of at most 5,000 rows): called by every change that writes them
    (adapters/db/registry.py), so the check finds a row edited since. Returns the rows logged."""
    cols = [registrations.c[n] for n in REGISTRATION_COLUMNS]
    result = conn.execute(select(*cols).where(which).order_by(registrations.c.registration_no))
    log, n, chunk = AuditLog(conn), 0, {}
    for row in result.mappings():
        chunk[str(row["registration_no"])] = registration_digest(dict(row))
        if len(chunk) == _ROWS_PER_EVENT:
            log.append(at=at, actor=actor, action=ROWS_ACTION, subject="registrations",
                       payload={"table": "registrations", "rows": chunk})  # fmt: skip
            n, chunk = n + len(chunk), {}
    if chunk:
        log.append(at=at, actor=actor, action=ROWS_ACTION, subject="registrations",
                   payload={"table": "registrations", "rows": chunk})  # fmt: skip
    return n + len(chunk)


# (id, at, channel, serial, registration_no, status, batch_id): a verification_events row.
VerificationRow = tuple[int, datetime, str, str | None, str | None, str, str]


def verification_line(row: VerificationRow) -> bytes:
    """One verification row, canonically: a JSON array of every column (the id and batch included,
    so moving a row to another batch or renumbering it changes the digest too), one per line."""
    id_, at, channel, serial, registration_no, status, batch_id = row
    fields = [int(id_), _utc(at).isoformat(), channel, serial, registration_no, status, batch_id]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def batch_digest(rows: Iterable[VerificationRow]) -> str:
    """SHA-256 over the canonical lines of ``rows``, in id order (R-ACC-1)."""
    h = hashlib.sha256()
    for row in rows:
        h.update(verification_line(row))
    return h.hexdigest()


@dataclass(frozen=True)
class BatchClaim:
    """What a ``verification.batch`` event says: its rows are exactly those with ids in
    (the previous batch's last id, ``last_id``], ``count`` of them from ``first_id``, with this digest.
    An empty batch (count 0, no ids) records only verifications that could not be logged (``dropped``)."""

    event_id: int
    count: int
    first_id: int | None
    last_id: int | None
    sha256: str

    @classmethod
    def parse(cls, event_id: int, payload: Any) -> BatchClaim | None:
        """None for a payload that is not a well-formed claim (itself a finding)."""
        try:
            count, first, last, digest = payload["count"], payload["first_id"], payload["last_id"], payload["sha256"]
        except (KeyError, TypeError):
            return None
        if not isinstance(count, int) or count < 0 or not isinstance(digest, str):
            return None
        if count == 0:
            return cls(event_id, 0, None, None, digest) if first is None and last is None else None
        if not (isinstance(first, int) and isinstance(last, int) and 0 < first <= last and last - first + 1 >= count):
            return None
        return cls(event_id, count, first, last, digest)


@dataclass(frozen=True)
class ChainCheck:
    """The audit log's state (R-ACC-1), as the check found it. ``problems``: (code, zh, en) each; the
    log is intact when there are none. ``first_broken_id`` / ``unlogged_verification_id``: the fields
    the web's check has always given (the first event found missing, altered or whose verification
    batch does not match; a verification row no batch accounts for)."""

    first_broken_id: int | None
    unlogged_verification_id: int | None
    events: int
    verifications: int
    size: int = 0  # leaves in the tree
    checkpoint: Mapping[str, Any] | None = None  # the latest signed checkpoint (:func:`checkpoint_info`)
    problems: tuple[tuple[str, str, str], ...] = ()
    unsequenced: int = 0  # events committed and not yet sequenced when the check ended

    @property
    def intact(self) -> bool:
        return not self.problems

    def problem_dicts(self, lang: str = "zh") -> list[dict[str, str]]:
        return [{"code": c, "message": en if lang == "en" else zh} for c, zh, en in self.problems]


@dataclass
class _Problems:
    items: list[tuple[str, str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, code: str, zh: str, en: str) -> None:
        n = self.counts.get(code, 0) + 1
        self.counts[code] = n
        if n <= _MAX_PER_CODE:
            self.items.append((code, zh, en))

    def done(self) -> tuple[tuple[str, str, str], ...]:
        out = list(self.items)
        for code, n in self.counts.items():
            if n > _MAX_PER_CODE:
                more = n - _MAX_PER_CODE
                out.append((code, f"另有 {more} 处同类问题", f"and {more} more of the same kind"))
        return tuple(out)


@dataclass(frozen=True)
class NoteKey:
    """The audit key (Ed25519) and the name its checkpoints are signed under (the log's origin)."""

    name: str
    private_key: Any  # Ed25519PrivateKey

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    @property
    def verifier_key(self) -> str:
        return signed_note.verifier_key(self.name, self.public_key)

    @property
    def key_id(self) -> str:
        return f"{self.name}+{signed_note.key_hash(self.name, self.public_key).hex()}"


class AuditLog:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_verifications(self) -> None:
        """Take the verification-batch writers' lock for this transaction (PostgreSQL; SQLite has one
        writer at a time anyway, from the first insert on)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_VERIFICATION_LOCK_KEY})

    def append(self, *, at: datetime, actor: str, action: str, subject: str | None, payload: Mapping[str, Any]) -> str:
        """One INSERT in the caller's transaction, no lock (the sequencer orders events later).
        Returns the event's leaf hash (hex)."""
        # Stored in UTC: SQLite keeps no offset, so one zone everywhere keeps the hash reproducible.
        at_utc = at.astimezone(UTC)
        payload_json = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str)
        # The leaf is made from the payload as it will be read back (``default=str`` applied), so the
        # sequencer and the check, which hash the stored row, find the same leaf.
        leaf = event_leaf(canonical(at_utc, actor, action, subject, json.loads(payload_json))).hex()
        self.conn.execute(
            _INSERT,
            {"at": at_utc, "actor": actor, "action": action, "subject": subject, "payload": payload_json,
             "prev_hash": None, "hash": leaf},
        )  # fmt: skip
        return leaf

    def head(self) -> tuple[int, str] | None:
        """The log's last event: (its id, its hash), None while the log is empty."""
        row = self.conn.execute(_HEAD_ID).one_or_none()
        return None if row is None else (int(row.id), str(row.hash))

    def verify(self) -> int | None:
        """Id of the first event found missing or altered, or whose verification batch does not match
        its rows; None if none is. :func:`check` says more (a truncation has no such id)."""
        return check(self.conn, None).first_broken_id

    def check(self, key: NoteKey | None = None, trusted_note: str | None = None) -> ChainCheck:
        """:func:`check` on this connection (``key=None``: the checkpoints' signatures are not checked)."""
        return check(self.conn, key, trusted_note)


# ------------------------------------------------------------------------------------- sequencer


@dataclass(frozen=True)
class Sequenced:
    size: int  # the tree's size after this run
    added: int  # events sequenced by this run
    note: str | None  # the checkpoint written, if any


def _latest(conn: Connection) -> Any:
    c = audit_checkpoints.c
    return conn.execute(select(audit_checkpoints).order_by(c.tree_size.desc()).limit(1)).one_or_none()


def _unsequenced(conn: Connection, above: int, limit: int) -> list[Any]:
    e, lf = audit_events.c, audit_leaves.c
    stmt = (
        select(e.id, e.at, e.actor, e.action, e.subject, e.payload)
        .select_from(audit_events.outerjoin(audit_leaves, lf.event_id == e.id))
        .where(lf.event_id.is_(None), e.id > above)
        .order_by(e.id)
        .limit(limit)
    )
    return list(conn.execute(stmt).all())


def _low_water(conn: Connection, full: bool) -> int:
    if full:
        return 0
    top = conn.execute(select(func.max(audit_leaves.c.event_id))).scalar_one_or_none()
    return max(0, int(top or 0) - WINDOW)


class SequencerStopped(RuntimeError):
    """The stored tree does not match its latest checkpoint: the sequencer does not extend a tree it
    cannot vouch for (``audit verify`` says what is wrong)."""


def sequence_once(conn: Connection, key: NoteKey, now: datetime, *, full: bool = False) -> Sequenced:
    """One sequencing step in the caller's transaction (see the module's docstring)."""
    low = _low_water(conn, full)
    latest = _latest(conn)
    if latest is not None and not _unsequenced(conn, low, 1):
        return Sequenced(int(latest.tree_size), 0, None)  # nothing to do: no lock, no write
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_SEQUENCER_LOCK_KEY})
    else:  # SQLite: a write that changes nothing takes the write lock before the tree is read
        conn.execute(text("UPDATE audit_checkpoints SET tree_size = tree_size WHERE 0"))
    latest = _latest(conn)
    if latest is None:
        # The first run: the leaves migration 0014 gave the events written before it, if any.
        frontier = merkle.Frontier()
        for h in _leaf_hashes(conn, 2**62):
            frontier.append(h)
    else:
        frontier = merkle.Frontier(int(latest.tree_size), [bytes.fromhex(h) for h in json.loads(latest.frontier)])
    size = frontier.size
    leaves, top = conn.execute(select(func.count(), func.max(audit_leaves.c.leaf_index))).one()
    if int(leaves) != size or (size and int(top) != size - 1):
        raise SequencerStopped(f"{leaves} leaves up to index {top}, but the tree to extend has {size}")
    rows = _unsequenced(conn, low, SEQUENCE_BATCH)
    if not rows and latest is not None:
        return Sequenced(size, 0, None)
    new = []
    for r in rows:
        h = _row_leaf(r.at, r.actor, r.action, r.subject, r.payload)
        new.append({"leaf_index": frontier.size, "event_id": int(r.id), "leaf_hash": h.hex()})
        frontier.append(h)
    if new:
        conn.execute(insert(audit_leaves), new)
    when = now.astimezone(UTC).replace(microsecond=0)
    cp = signed_note.Checkpoint(key.name, frontier.size, frontier.root(), when)
    note = signed_note.sign(cp, key.name, key.private_key)
    conn.execute(
        insert(audit_checkpoints),
        {"tree_size": frontier.size, "root_hash": frontier.root().hex(), "at": when, "key_id": key.key_id,
         "note": note, "frontier": json.dumps([h.hex() for h in frontier.hashes])},
    )  # fmt: skip
    return Sequenced(frontier.size, len(new), note)


def sequence(engine: Engine, key: NoteKey, now: Callable[[], datetime], *, full: bool = False) -> Sequenced:
    """Sequence every committed event not yet in the tree, one transaction per SEQUENCE_BATCH events."""
    added = 0
    while True:
        with engine.begin() as conn:
            step = sequence_once(conn, key, now(), full=full)
        added += step.added
        if step.added < SEQUENCE_BATCH:
            return Sequenced(step.size, added, step.note)


# ------------------------------------------------------------------------------------ checkpoints


def checkpoint_info(row: Any, key: NoteKey | None = None) -> dict[str, Any]:
    out = {
        "size": int(row.tree_size),
        "root_hash": str(row.root_hash),
        "time": _utc(row.at).isoformat(),
        "key_id": str(row.key_id),
        "note": str(row.note),
    }
    if key is not None:
        out["verifier_key"] = key.verifier_key
    return out


def latest_checkpoint(conn: Connection, key: NoteKey | None = None) -> dict[str, Any] | None:
    row = _latest(conn)
    return None if row is None else checkpoint_info(row, key)


def _leaf_hashes(conn: Connection, size: int) -> list[bytes]:
    lf = audit_leaves.c
    stmt = select(lf.leaf_hash).where(lf.leaf_index < size).order_by(lf.leaf_index).execution_options(yield_per=_CHUNK)
    return [bytes.fromhex(h) for h in conn.execute(stmt).scalars()]


def inclusion(conn: Connection, event_id: int) -> dict[str, Any] | None:
    """The inclusion proof (RFC 9162 §2.1.3) of event ``event_id`` in the tree of the latest
    checkpoint; None when the event is not (yet) in it."""
    latest = _latest(conn)
    leaf = conn.execute(select(audit_leaves).where(audit_leaves.c.event_id == event_id)).one_or_none()
    if latest is None or leaf is None or int(leaf.leaf_index) >= int(latest.tree_size):
        return None
    hashes = _leaf_hashes(conn, int(latest.tree_size))
    return {
        "event_id": event_id,
        "leaf_index": int(leaf.leaf_index),
        "leaf_hash": str(leaf.leaf_hash),
        "tree_size": int(latest.tree_size),
        "root_hash": str(latest.root_hash),
        "proof": [h.hex() for h in merkle.inclusion_proof(int(leaf.leaf_index), hashes)],
        "checkpoint": str(latest.note),
    }


def consistency(conn: Connection, first: int, second: int | None = None) -> dict[str, Any] | None:
    """The consistency proof (RFC 9162 §2.1.4) from the tree of size ``first`` to the checkpoint of
    size ``second`` (default: the latest); None when there is no such checkpoint."""
    c = audit_checkpoints.c
    row = (
        _latest(conn)
        if second is None
        else conn.execute(select(audit_checkpoints).where(c.tree_size == second)).one_or_none()
    )
    if row is None or not 0 <= first <= int(row.tree_size):
        return None
    hashes = _leaf_hashes(conn, int(row.tree_size))
    return {
        "first": first,
        "second": int(row.tree_size),
        "root_hash": str(row.root_hash),
        "proof": [h.hex() for h in merkle.consistency_proof(first, hashes)],
        "checkpoint": str(row.note),
    }


# ------------------------------------------------------------------------------------------ check


def _walk(conn: Connection) -> Iterator[Any]:
    e, lf = audit_events.c, audit_leaves.c
    stmt = (
        select(lf.leaf_index, lf.event_id, lf.leaf_hash, e.id, e.at, e.actor, e.action, e.subject, e.payload)
        .select_from(audit_leaves.outerjoin(audit_events, e.id == lf.event_id))
        .order_by(lf.leaf_index)
        .execution_options(yield_per=_CHUNK)
    )
    result = conn.execute(stmt)
    try:
        yield from result
    finally:
        result.close()


def _note_problem(
    problems: _Problems, note: str, key: NoteKey, code: str, what_zh: str, what_en: str
) -> signed_note.Checkpoint | None:
    try:
        return signed_note.verify(note, key.name, key.public_key)
    except signed_note.NoteError as exc:
        problems.add(
            code, f"{what_zh}的签名或格式无效:{exc.reason}", f"{what_en}: bad signature or format: {exc.reason}"
        )
        return None


def check(conn: Connection, key: NoteKey | None, trusted_note: str | None = None) -> ChainCheck:
    """Check the whole log (R-ACC-1; see the module's docstring): every leaf against its event, the
    tree against the checkpoints (the latest one's signature with ``key``), ``trusted_note`` (a
    checkpoint kept outside the database) by a consistency proof, every verification batch against
    its rows, every certificate row against its last logged digest."""
    problems = _Problems()
    first_broken: list[int] = []
    c = audit_checkpoints.c
    roots = {int(s): str(r) for s, r in conn.execute(select(c.tree_size, c.root_hash))}
    latest = _latest(conn)
    latest_cp: signed_note.Checkpoint | None = None
    if latest is not None and key is not None:
        latest_cp = _note_problem(
            problems, str(latest.note), key, "checkpoint_invalid", "最新检查点", "latest checkpoint"
        )
        if latest_cp is not None and (latest_cp.size, latest_cp.root.hex()) != (
            int(latest.tree_size),
            latest.root_hash,
        ):
            problems.add(
                "checkpoint_invalid",
                "最新检查点的记录与其签名内容不符",
                "the latest checkpoint's row differs from its signed text",
            )
            latest_cp = None
    trusted: signed_note.Checkpoint | None = None
    if trusted_note is not None and key is not None:
        trusted = _note_problem(
            problems, trusted_note, key, "trusted_checkpoint_invalid", "所给检查点", "the given checkpoint"
        )
    keep_leaves = trusted is not None
    all_leaves: list[bytes] = []
    frontier = merkle.Frontier()
    events = 0
    last_event_id = 0
    claims: list[BatchClaim] = []
    digests: dict[str, str] = {}

    def read_claims(event_id: int, action: str, payload: Any) -> None:
        """What an event claims, sequenced or not: a verification batch's claim, the registry rows' digests."""
        if action == BATCH_ACTION:
            claim = BatchClaim.parse(event_id, payload)
            if claim is None:
                problems.add(
                    "verification_batch_invalid",
                    f"核验批次事件 {event_id} 的内容无效",
                    f"verification batch event {event_id} is malformed",
                )
                first_broken.append(event_id)
            else:
                claims.append(claim)
        _note_digests(action, payload, digests)

    mismatched_root: int | None = None
    for row in _walk(conn):
        index = int(row.leaf_index)
        if index != frontier.size:
            problems.add(
                "leaf_missing",
                f"叶子 {frontier.size} 至 {index - 1} 缺失",
                f"leaves {frontier.size} to {index - 1} are missing",
            )
            break  # the tree cannot be rebuilt past a gap: every later root would differ anyway
        if row.id is None:
            problems.add(
                "event_missing",
                f"叶子 {index} 的事件 {row.event_id} 已被删除",
                f"event {row.event_id} (leaf {index}) is gone",
            )
            first_broken.append(int(row.event_id))
            h = bytes.fromhex(row.leaf_hash)
        else:
            events += 1
            last_event_id = max(last_event_id, int(row.id))
            payload = json.loads(row.payload)
            h = event_leaf(canonical(_utc(row.at), row.actor, row.action, row.subject, payload))
            if h.hex() != row.leaf_hash:
                problems.add(
                    "event_altered",
                    f"事件 {row.id}(叶子 {index})已被改动",
                    f"event {row.id} (leaf {index}) was altered",
                )
                first_broken.append(int(row.id))
            read_claims(int(row.id), row.action, payload)
        frontier.append(h)
        if keep_leaves:
            all_leaves.append(h)
        want = roots.get(frontier.size)
        if want is not None and want != frontier.root().hex() and mismatched_root is None:
            mismatched_root = frontier.size
    size = frontier.size
    # Committed, not yet in the tree (the sequencer runs every second): checked against the hash
    # written with each, and their batches and digests counted like the others'.
    tail = _unsequenced(conn, 0, SEQUENCE_BATCH)
    ids = [int(r.id) for r in tail]
    query = select(audit_events.c.id, audit_events.c.hash).where(audit_events.c.id.in_(ids))
    stored = {int(i): str(h) for i, h in conn.execute(query)} if ids else {}
    for r in tail:
        events += 1
        last_event_id = max(last_event_id, int(r.id))
        payload = json.loads(r.payload)
        if event_leaf(canonical(_utc(r.at), r.actor, r.action, r.subject, payload)).hex() != stored.get(r.id):
            problems.add(
                "event_altered", f"尚未排序的事件 {r.id} 已被改动", f"event {r.id} (not yet sequenced) was altered"
            )
            first_broken.append(int(r.id))
        read_claims(int(r.id), r.action, payload)
    if mismatched_root is not None:
        problems.add(
            "root_mismatch",
            f"从事件重算的树在大小 {mismatched_root} 时与检查点不符(改写、重排或插入)",
            f"the tree rebuilt from the events does not match the checkpoint of size {mismatched_root} "
            "(rewritten, reordered or inserted events)",
        )
    if latest is not None and int(latest.tree_size) > size:
        problems.add(
            "truncated",
            f"日志只有 {size} 条,少于最新检查点的 {int(latest.tree_size)} 条(被截断)",
            f"the log has {size} leaves, fewer than the {int(latest.tree_size)} of its latest checkpoint (truncated)",
        )
    if trusted is not None:
        _check_trusted(problems, trusted, all_leaves, latest_cp)
    batches_broken, checked = _check_batches(conn, sorted(claims, key=lambda cl: cl.event_id))
    if batches_broken is not None:
        problems.add(
            "verification_batch_mismatch",
            f"核验批次事件 {batches_broken} 与其记录不符",
            f"verification batch event {batches_broken} does not match its rows",
        )
        first_broken.append(batches_broken)
    unlogged = None
    if batches_broken is None:
        last = max((cl.last_id for cl in claims if cl.last_id is not None), default=0)
        unlogged = _unlogged_after(conn, last, last_event_id)
        if unlogged is not None:
            problems.add(
                "verification_unlogged",
                f"核验记录 {unlogged} 不属于任何批次",
                f"verification row {unlogged} belongs to no batch",
            )
    _check_rows(conn, problems, digests, last_event_id)
    return ChainCheck(
        first_broken_id=min(first_broken) if first_broken else None,
        unlogged_verification_id=unlogged,
        events=events,
        verifications=checked,
        size=size,
        checkpoint=None if latest is None else checkpoint_info(latest, key),
        problems=problems.done(),
        unsequenced=len(tail),
    )


def _check_trusted(
    problems: _Problems, trusted: signed_note.Checkpoint, leaves: list[bytes], latest: signed_note.Checkpoint | None
) -> None:
    """The checkpoint kept outside must be a prefix of the tree: by the events themselves, and by the
    consistency proof from it to the latest signed checkpoint (what any other verifier would check)."""
    if trusted.size > len(leaves):
        problems.add(
            "truncated",
            f"日志只有 {len(leaves)} 条,少于所给检查点的 {trusted.size} 条(被截断)",
            f"the log has {len(leaves)} leaves, fewer than the {trusted.size} of the given checkpoint (truncated)",
        )
        return
    if merkle.root(leaves[: trusted.size]) != trusted.root:
        problems.add(
            "inconsistent",
            f"日志的前 {trusted.size} 条与所给检查点不符(改写、重排或删除)",
            f"the first {trusted.size} leaves of the log do not match the given checkpoint "
            "(rewritten, reordered or removed)",
        )
        return
    if latest is not None and latest.size >= trusted.size and latest.size <= len(leaves):
        proof = merkle.consistency_proof(trusted.size, leaves[: latest.size])
        if not merkle.verify_consistency(trusted.size, latest.size, trusted.root, latest.root, proof):
            problems.add(
                "inconsistent",
                f"从所给检查点(大小 {trusted.size})到最新检查点(大小 {latest.size})的一致性证明不成立",
                f"no consistency proof from the given checkpoint (size {trusted.size}) "
                f"to the latest (size {latest.size})",
            )


_DIGESTED = {  # table -> (its key column, the columns its digest covers)
    "certificates": (certificates, "serial", CERTIFICATE_COLUMNS),
    "registrations": (registrations, "registration_no", REGISTRATION_COLUMNS),
}


def _note_digests(action: str, payload: Any, digests: dict[str, str]) -> None:
    """``digests``: "table key" -> the last digest logged for that row."""
    if not isinstance(payload, dict):
        return
    if action == ISSUE_ACTION and isinstance(payload.get("row_sha256"), str):
        digests[f"certificates {payload.get('serial')}"] = payload["row_sha256"]
    elif action in (BASELINE_ACTION, ROWS_ACTION) and payload.get("table") in _DIGESTED:
        rows = payload.get("rows")
        if isinstance(rows, dict):
            digests.update({f"{payload['table']} {k}": str(v) for k, v in rows.items()})


def _late_digests(conn: Connection, digests: dict[str, str], since_id: int) -> None:
    """Digests in events committed after the log was read (sequenced meanwhile or not, and their ids
    not in commit order): a row written during the check is not reported as unlogged. The events'
    own check is the next run's; here they only vouch for rows, in id order (the newest digest wins)."""
    e = audit_events.c
    recent = (
        select(e.action, e.payload)
        .where(e.id > since_id - WINDOW, e.action.in_((ISSUE_ACTION, ROWS_ACTION, BASELINE_ACTION)))
        .order_by(e.id)
    )
    for action, payload in conn.execute(recent):
        _note_digests(action, json.loads(payload), digests)


_ROW_WORDS = {"certificates": ("证书", "certificate"), "registrations": ("注册", "registration")}


def _check_rows(conn: Connection, problems: _Problems, digests: dict[str, str], last_event_id: int) -> None:
    """Every certificate and registration row against the digest last logged for it."""
    seen: set[str] = set()
    late_read = False
    for name, (table, key, columns) in _DIGESTED.items():
        zh_word, en_word = _ROW_WORDS[name]
        cols = [table.c[n] for n in columns]
        result = conn.execute(select(*cols).order_by(table.c[key]).execution_options(yield_per=_CHUNK))
        try:
            for row in result:
                mapping = dict(row._mapping)
                k = f"{name} {mapping[key]}"
                seen.add(k)
                if k not in digests and not late_read:
                    _late_digests(conn, digests, last_event_id)
                    late_read = True
                want = digests.get(k)
                if want is None:
                    problems.add(
                        "registry_row_unlogged",
                        f"{zh_word} {mapping[key]} 的记录不在审计日志中",
                        f"{en_word} row {mapping[key]} is not in the audit log",
                    )
                elif want != _digest(mapping, columns):
                    problems.add(
                        "registry_row_changed",
                        f"{zh_word} {mapping[key]} 的记录与审计日志不符(被改动)",
                        f"{en_word} row {mapping[key]} differs from its last audit event (edited)",
                    )
        finally:
            result.close()
    for k in sorted(set(digests) - seen):
        name, _, value = k.partition(" ")
        zh_word, en_word = _ROW_WORDS[name]
        problems.add(
            "registry_row_missing",
            f"审计日志中的{zh_word} {value} 的记录已不存在",
            f"{en_word} row {value}, in the audit log, is gone",
        )


def _rows(conn: Connection, up_to: int) -> Generator[VerificationRow, None, None]:
    v = verification_events.c
    stmt = (
        select(v.id, v.at, v.channel, v.serial, v.registration_no, v.status, v.batch_id)
        .where(v.id <= up_to)
        .order_by(v.id)
        .execution_options(yield_per=_CHUNK)
    )
    result = conn.execute(stmt)
    try:
        for r in result:
            yield (int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6])
    finally:
        result.close()


def _check_batches(conn: Connection, claims: Iterable[BatchClaim]) -> tuple[int | None, int]:
    """(event id of the first batch that does not match its rows, or None; rows checked).

    The claims come in event order and their id ranges follow each other; each batch owns every
    row from just after the previous batch's last id to its own last id (ids a rolled-back batch
    took are simply unused), so a row added in a gap belongs to the next batch and breaks it."""
    claims = list(claims)
    up_to = max((c.last_id for c in claims if c.last_id is not None), default=0)
    if up_to == 0:
        return None, 0
    rows = _rows(conn, up_to)
    checked = 0
    try:
        current = next(rows, None)
        previous_last = 0
        for claim in claims:
            if claim.last_id is None or claim.first_id is None:
                continue  # an empty batch: nothing but the count of verifications lost
            if claim.first_id <= previous_last:
                return claim.event_id, checked
            h = hashlib.sha256()
            n, first, last = 0, None, None
            while current is not None and current[0] <= claim.last_id:
                h.update(verification_line(current))
                first = current[0] if first is None else first
                n, last = n + 1, current[0]
                current = next(rows, None)
            checked += n
            if (n, first, last, h.hexdigest()) != (claim.count, claim.first_id, claim.last_id, claim.sha256):
                return claim.event_id, checked
            previous_last = claim.last_id
    finally:
        rows.close()
    return None, checked


def _unlogged_after(conn: Connection, last_id: int, last_event_id: int) -> int | None:
    """The first verification row after ``last_id`` that no batch accounts for. Rows and their
    batch event commit together, so a batch committed while the log was being walked is looked
    up afterwards: the rows are read first, the events second, and only a row that even the newer
    events do not cover is reported (no false alarm from a flush running during the check)."""
    v = verification_events.c
    tail_max = conn.execute(select(func.max(v.id)).where(v.id > last_id)).scalar_one_or_none()
    if tail_max is None:
        return None
    # Event ids are not in commit order any more (no lock): a batch committed during the check may
    # have an id below the highest one read. Every recent batch event is looked at again.
    newer = conn.execute(
        select(audit_events.c.id, audit_events.c.payload).where(
            audit_events.c.id > last_event_id - WINDOW, audit_events.c.action == BATCH_ACTION
        )
    )
    covered = last_id
    for event_id, payload in newer:
        claim = BatchClaim.parse(int(event_id), json.loads(payload))
        if claim is not None and claim.last_id is not None:
            covered = max(covered, claim.last_id)
    if tail_max <= covered:
        return None
    first = conn.execute(select(func.min(v.id)).where(v.id > covered, v.id <= tail_max)).scalar_one()
    return int(first)
