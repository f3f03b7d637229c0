"""A tiny local RFC 3161 time-stamp authority — DEMO / tests only (see ``pki.DEMO_WARNING``).

``demo_timestamper(directory, clock)`` is the DEMO TSA in-process (``ECERT_TSA_URL=demo`` with DEMO keys, the
tests, the benchmark): pyHanko's ``DummyTimeStamper`` on the DEMO TSA key, its time from ``clock`` (the app
clock: a drill on past dates is stamped on the drill's date), the RSA key parsed once rather than per stamp.

``with local_tsa(directory) as url:`` serves ``POST application/timestamp-query`` on 127.0.0.1 (random port)
from a daemon thread until the block ends, signing with pyHanko's ``DummyTimeStamper`` and the DEMO TSA
certificate in ``directory`` (created under the DEMO root there if missing). ``clock`` pins the TSA's time
(a drill on past dates); by default it is the real clock, like a real TSA.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder
from pyhanko.sign import general
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from ecert.adapters.signing.pki import ROOT_CERT, TSA_CERT, TSA_KEY, create_demo_tsa

MAX_REQUEST_BYTES = 64 * 1024


def _attribute(kind: str, value: Any) -> Any:
    return general.simple_cms_attribute(kind, value)  # type: ignore[no-untyped-call]  # unannotated


class DemoTimeStamper(DummyTimeStamper):
    """DEMO TSA in-process: time from ``clock``; the key parsed once. NOT FOR PRODUCTION."""

    def __init__(self, *args: Any, clock: Callable[[], datetime] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock
        self._lock = threading.Lock()
        self._key = serialization.load_der_private_key(self.tsa_key.dump(), password=None)

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        with self._lock:
            if self._clock is not None:
                self.fixed_dt = self._clock()
            return super().request_tsa_response(req)

    def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt: datetime) -> tuple[bytes, Any]:
        # DummyTimeStamper's own, without re-parsing the RSA key (about 60 ms) for every stamp
        md = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        md.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                _attribute("content_type", "tst_info"),
                _attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                _attribute("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                _attribute("message_digest", md.finalize()),
            ]
        )
        assert isinstance(self._key, rsa.RSAPrivateKey)
        signature = self._key.sign(
            signed_attrs.dump(), padding.PKCS1v15(), get_pyca_cryptography_hash(md_algorithm.upper())
        )
        return signature, signed_attrs


def demo_timestamper(directory: Path, *, clock: Callable[[], datetime] | None = None) -> DemoTimeStamper:
    """The DEMO TSA of the DEMO PKI in ``directory`` (its certificate made there if missing), in-process."""
    if not _tsa_matches_root(directory):
        create_demo_tsa(directory)
    tsa_cert, *_ = load_certs_from_pemder_data((directory / TSA_CERT).read_bytes())
    tsa_key = load_private_key_from_pemder(str(directory / TSA_KEY), passphrase=None)
    embed = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # unannotated __init__
    embed.register_multiple(load_certs_from_pemder_data((directory / ROOT_CERT).read_bytes()))
    return DemoTimeStamper(tsa_cert=tsa_cert, tsa_key=tsa_key, certs_to_embed=embed, clock=clock)


TSQ_TYPE = "application/timestamp-query"
TSR_TYPE = "application/timestamp-reply"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stamper: Any
    clock: Callable[[], datetime] | None
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, code: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 < length <= MAX_REQUEST_BYTES:
            self._reply(400, b"bad Content-Length")
            return
        try:
            req = tsp.TimeStampReq.load(self.rfile.read(length))
            _ = req.native  # parse everything now
            with self.server.lock:
                stamper = self.server.stamper
                stamper.fixed_dt = self.server.clock() if self.server.clock is not None else None
                resp = stamper.request_tsa_response(req)
        except Exception:
            self._reply(400, b"bad time-stamp request")
            return
        self._reply(200, resp.dump(), TSR_TYPE)


def _tsa_matches_root(directory: Path) -> bool:
    """A TSA certificate exists in ``directory`` and was issued by the root there (not by an older one)."""
    try:
        cert = x509.load_pem_x509_certificate((directory / TSA_CERT).read_bytes())
        root = x509.load_pem_x509_certificate((directory / ROOT_CERT).read_bytes())
        cert.verify_directly_issued_by(root)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    return (directory / TSA_KEY).exists()


@contextlib.contextmanager
def local_tsa(directory: Path, *, clock: Callable[[], datetime] | None = None) -> Iterator[str]:
    """Run a DEMO TSA on 127.0.0.1 until the ``with`` block ends; yields its URL."""
    if not _tsa_matches_root(directory):
        create_demo_tsa(directory)
    tsa_cert, *_ = load_certs_from_pemder_data((directory / TSA_CERT).read_bytes())
    tsa_key = load_private_key_from_pemder(str(directory / TSA_KEY), passphrase=None)
    roots = list(load_certs_from_pemder_data((directory / ROOT_CERT).read_bytes()))
    embed = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # unannotated __init__
    embed.register_multiple(roots)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.stamper = DummyTimeStamper(tsa_cert=tsa_cert, tsa_key=tsa_key, certs_to_embed=embed)
    server.clock = clock
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
