"""customer merges with their undo record; a campaign's monthly cost (issue 19: manager's tools)

Revision ID: 0015_manager_tools
Revises: 0014_work_orders
"""
from alembic import op
import sqlalchemy as sa


revision = '0015_manager_tools'
down_revision = '0014_work_orders'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_merges',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('survivor_id', sa.String(length=32), nullable=False),
    sa.Column('merged_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('rows', sa.JSON(), nullable=False),
    sa.Column('merged_by', sa.String(length=100), nullable=False),
    sa.Column('merged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('undone_by', sa.String(length=100), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_merges'))
    )
    with op.batch_alter_table('customer_merges') as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_merges_survivor_id'), ['survivor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merges_merged_id'), ['merged_id'], unique=False)
    # What a campaign costs a month (issue 19, part 5: the campaign report); null: not known.
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.add_column(sa.Column('monthly_cost', sa.Numeric(precision=10, scale=2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('campaigns') as batch_op:
        batch_op.drop_column('monthly_cost')
    op.drop_table('customer_merges')
