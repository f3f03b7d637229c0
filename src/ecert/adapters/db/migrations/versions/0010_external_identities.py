"""external identities

Create Date: 2026-12-06

Holders' single sign-on with the government service platform (issue 17, R-ACC-1):
``external_identities`` links a platform identity (issuer, subject) to the holder account it signs in
as; ``platform_logins`` holds a sign-in on its way through the platform (state, nonce, PKCE verifier;
single use); ``platform_sessions`` keeps a platform session's ID token for the end-session request.
Hand-written (new tables only).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecert.adapters.db.migrations.shared import instant, primary_key

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "external_identities",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        instant("linked_at"),
        primary_key("external_identities", "issuer", "subject"),
        sa.UniqueConstraint("issuer", "username", name=op.f("uq_external_identities_issuer_username")),
    )
    op.create_table(
        "platform_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_path", sa.Text(), nullable=True),
        instant("expires_at"),
        primary_key("platform_logins", "state_hash"),
    )
    op.create_table(
        "platform_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("id_token", sa.Text(), nullable=False),
        instant("expires_at"),
        primary_key("platform_sessions", "token_hash"),
    )


def downgrade() -> None:
    op.drop_table("platform_sessions")
    op.drop_table("platform_logins")
    op.drop_table("external_identities")
