"""agents: the state each CSR chose (Available / Away with a reason / Wrap-up) and since when

Revision ID: 0008_agents
Revises: 0007_calls
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_agents'
down_revision = '0007_calls'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_states',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_states_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_agent_states'))
    )


def downgrade() -> None:
    op.drop_table('agent_states')
