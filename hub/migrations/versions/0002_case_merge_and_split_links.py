"""case merge and split links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:01:34.313549
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("split_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_case_split_from", "case", ["split_from_id"], ["id"])
        batch_op.create_foreign_key("fk_case_merged_into", "case", ["merged_into_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_constraint("fk_case_merged_into", type_="foreignkey")
        batch_op.drop_constraint("fk_case_split_from", type_="foreignkey")
        batch_op.drop_column("split_from_id")
        batch_op.drop_column("merged_into_id")
