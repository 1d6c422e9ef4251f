"""sync problems kept until acknowledged (console), job-number prefixes registered (server)

Revision ID: 0009_sync_problems
Revises: 0008_agents
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_sync_problems'
down_revision = '0008_agents'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_problems',
    sa.Column('mutation_id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('receipt', sa.JSON(), nullable=False),
    sa.Column('restore', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('mutation_id', name=op.f('pk_sync_problems'))
    )
    op.create_table('job_prefixes',
    sa.Column('prefix', sa.String(length=8), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_job_prefixes')),
    sa.UniqueConstraint('client_id', name=op.f('uq_job_prefixes_client_id'))
    )
    # A plain ADD COLUMN (SQLite supports it with a constant default): a batch copy of client_state would
    # trip the outbox's foreign key.
    op.add_column('client_state', sa.Column('prefix_confirmed', sa.Boolean(), nullable=False,
                                            server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('client_state') as batch_op:
        batch_op.drop_column('prefix_confirmed')
    op.drop_table('job_prefixes')
    op.drop_table('sync_problems')
