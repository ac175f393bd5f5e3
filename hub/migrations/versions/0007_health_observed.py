"""connector health: server-observed counts, hub-held count, learned credentials expiry

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 14:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connector_health") as batch:
        batch.add_column(sa.Column("observed", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("fetched", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("credentials_expire_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connector_health") as batch:
        batch.drop_column("credentials_expire_at")
        batch.drop_column("fetched")
        batch.drop_column("observed")
