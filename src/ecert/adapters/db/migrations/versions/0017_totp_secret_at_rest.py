"""totp secret encrypted at rest

Create Date: 2026-12-06

The staff's TOTP secrets are stored encrypted (issue 16 §3; adapters/db/second_factor.py
``SecretBox``: AES-256-GCM under a key derived from the keystore's application secret, the user
name as associated data): ``users.totp_secret`` holds ``enc1:`` and the Base64 of nonce and
ciphertext, longer than the Base32 secret it held. Secrets stored in clear before stay readable and
are encrypted at the next enrolment (a reset, or a new staff member). Hand-written (a wider column).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"  # after the status lists


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=200))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=200), type_=sa.String(length=64))
