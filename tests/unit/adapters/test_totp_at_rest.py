"""The staff's TOTP secrets at rest (issue 16 §3): AES-256-GCM under a key from the keystore's
application secret (adapters/db/second_factor.py ``SecretBox``, adapters/keystore.py ``app_secret``)."""

from __future__ import annotations

import base64
from pathlib import Path
from unittest.mock import Mock

import pyotp
import pytest

from ecert.adapters import keystore
from ecert.adapters.db.second_factor import SecretBox, SqlSecondFactors
from ecert.domain.errors import EcertError


def _box(keys_dir: Path) -> SecretBox:
    ks = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(keys_dir)})
    return SecretBox(lambda: keystore.app_secret(ks, "totp-at-rest"))


def test_a_secret_is_stored_encrypted_and_opens_only_for_its_user_and_key(tmp_path: Path) -> None:
    box, secret = _box(tmp_path / "keys"), pyotp.random_base32()
    stored = box.seal(secret, "admin-a")
    assert stored.startswith("enc1:") and secret not in stored and len(stored) <= 200  # users.totp_secret
    assert stored != box.seal(secret, "admin-a")  # a fresh nonce each time
    assert box.open(stored, "admin-a") == secret
    with pytest.raises(EcertError) as moved:  # copied onto another account's row
        box.open(stored, "admin-b")
    assert moved.value.code == "bad_keys"
    with pytest.raises(EcertError):  # another keys directory (another application secret)
        _box(tmp_path / "other-keys").open(stored, "admin-a")
    raw = bytearray(base64.b64decode(stored[5:]))
    raw[-1] ^= 1
    with pytest.raises(EcertError):  # altered
        box.open("enc1:" + base64.b64encode(bytes(raw)).decode(), "admin-a")


def test_a_secret_stored_in_clear_before_still_reads(tmp_path: Path) -> None:
    secret = pyotp.random_base32()
    assert _box(tmp_path / "keys").open(secret, "admin-a") == secret


def test_the_application_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    ks = keystore.key_settings_from_env({"ECERT_KEYS_DIR": str(tmp_path / "keys")})
    first = keystore.app_secret(ks)
    path = tmp_path / "keys" / keystore.APP_SECRET
    assert path.read_bytes() == first and len(first) == 32 and path.stat().st_mode & 0o077 == 0
    assert keystore.app_secret(ks, "totp-at-rest") != keystore.app_secret(ks, "device-cookie")


def test_a_repository_without_a_key_refuses_to_store_a_secret() -> None:
    conn = Mock()
    with pytest.raises(EcertError) as refused:
        SqlSecondFactors(conn).begin("admin-a", pyotp.random_base32())
    assert refused.value.code == "bad_keys" and not conn.execute.called  # nothing in clear
