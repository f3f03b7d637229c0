"""Where a notification may go (issue 14 item 1): the sender checks every address a name resolves to
and connects to the one it checked (no second lookup, so no DNS rebinding), follows no redirect."""

from __future__ import annotations

import socket

from standardwebhooks import Webhook

from ecert.adapters.webhooks import WebhookSender, signed_headers


def test_a_name_resolving_to_loopback_or_metadata_is_refused_in_production__issue14() -> None:
    for address in ("127.0.0.1", "169.254.169.254"):
        sender = WebhookSender(timeout=0.2, allow_http=False, allow_private=False, resolver=lambda h, p, a=address: [a])
        got = sender.deliver("https://hooks.example.com/x", "whsec_" + "A" * 43, "msg_1", b"{}")
        assert not got.ok and got.error is not None and got.error.startswith("address_not_allowed"), got
    # One bad address among good ones is enough to refuse (the connection could be steered to it).
    mixed = WebhookSender(timeout=0.2, allow_http=False, allow_private=False,
                          resolver=lambda h, p: ["93.184.216.34", "10.0.0.7"])  # fmt: skip
    assert mixed.deliver("https://hooks.example.com/x", "whsec_" + "A" * 43, "m", b"{}").error.startswith(  # type: ignore[union-attr]
        "address_not_allowed"
    )


def test_connects_to_the_checked_address_not_a_second_lookup__issue14() -> None:
    """The resolver is asked once and answers loopback (allowed here); a later answer would say
    otherwise — the request still goes to the checked address, with the name as Host."""
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"] if len(calls) == 1 else ["203.0.113.9"]

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        srv.settimeout(2)
        sender = WebhookSender(timeout=1, allow_http=True, allow_private=True, resolver=rebinding)
        import threading

        seen: list[bytes] = []

        def serve() -> None:
            conn, _ = srv.accept()
            with conn:
                seen.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n")

        t = threading.Thread(target=serve)
        t.start()
        got = sender.deliver(f"http://rebind.example:{port}/hook", "whsec_" + "A" * 43, "msg_1", b'{"a":1}')
        t.join()
    assert calls == ["rebind.example"]
    assert not got.ok and got.status_code == 302 and got.error.startswith("redirect_not_followed")  # type: ignore[union-attr]
    assert f"Host: rebind.example:{port}".encode() in seen[0]


def test_signature_is_what_the_standardwebhooks_verifier_accepts__issue14() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = signed_headers(secret, "msg_abc", b'{"type":"x"}')
    assert Webhook(secret).verify(b'{"type":"x"}', headers) == {"type": "x"}
