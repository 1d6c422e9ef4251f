"""availability entries: time off, company holidays, capacity adjustments (issue 19 part 4); users'
must_change_password (part 3: an admin's password reset)

Revision ID: 0016_availability
Revises: 0015_manager_tools
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_availability'
down_revision = '0015_manager_tools'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('availability_entries',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('technician_id', sa.String(length=32), nullable=False),
    sa.Column('start', sa.Time(), nullable=True),
    sa.Column('end', sa.Time(), nullable=True),
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('arrival_window_id', sa.String(length=32), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('overbooked', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_availability_entries'))
    )
    with op.batch_alter_table('availability_entries') as batch_op:
        batch_op.create_index(batch_op.f('ix_availability_entries_day'), ['day'], unique=False)
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('must_change_password')
    op.drop_table('availability_entries')
