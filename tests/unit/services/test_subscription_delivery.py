"""The delivery loop of subscribers' notifications (issue 14 item 1) on a fake outbox: a sender that fails
on one event in a way nobody foresaw leaves a failed try in the log, and the rest of its batch is sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ecert.adapters.db.subscriptions import Claimed
from ecert.adapters.webhooks import Answer
from ecert.config import WebhookSettings
from ecert.domain import subscriptions as subs
from ecert.services.subscriptions import deliver_due

AT = datetime(2021, 3, 1, tzinfo=UTC)


class Outbox:
    def __init__(self, claimed: list[Claimed]) -> None:
        self.claimed, self.finished, self.retry_at = claimed, [], {}  # type: ignore[var-annotated]

    def claim(self, **_: Any) -> list[Claimed]:
        out, self.claimed = self.claimed, []
        return out

    def finish(self, outcomes: Any, *, now: datetime, retry_at: dict[str, Any]) -> None:
        self.finished += list(outcomes)
        self.retry_at.update(retry_at)


class Uow:
    def __init__(self, box: Outbox) -> None:
        self.subscriptions = box

    def __enter__(self) -> Uow:
        return self

    def __exit__(self, *_: Any) -> None:
        pass

    def commit(self) -> None:
        pass


class Sender:
    def deliver(self, url: str, secret: str, msg_id: str, body: bytes) -> Answer:
        if msg_id == "msg_bad":
            raise RuntimeError("surprise")
        return Answer(True, 204, None, 1, {})

    def close(self) -> None:
        pass


def _claimed(msg_id: str) -> Claimed:
    day = date(2021, 3, 1)
    event = subs.Event(msg_id, "s1", subs.CERTIFICATE_SUPERSEDED, "reseal", "浙1332010201200001", None, day, None, AT)
    return Claimed(event, 1, "https://hooks.example.com/", "whsec_" + "A" * 43)


def test_an_unforeseen_failure_is_a_failed_try_and_the_batch_goes_on__issue14() -> None:
    box = Outbox([_claimed("msg_ok1"), _claimed("msg_bad"), _claimed("msg_ok2")])
    run = deliver_due(lambda: Uow(box), Sender(), cfg=WebhookSettings(), base_url="https://e.test", now=lambda: AT)  # type: ignore[arg-type]
    assert run.as_dict() == {"sent": 3, "delivered": 2, "retrying": 1, "dead": 0}
    bad = next(o for o in box.finished if o.event_id == "msg_bad")
    assert not bad.ok and bad.error == "internal: RuntimeError: surprise"
    assert box.retry_at["msg_bad"] is not None and box.retry_at["msg_bad"] > AT
