"""the Web Scheduler: requests' service, consent, claim and dismissal (online_bookings); window holds and
per-day lock rows (server)

Revision ID: 0012_web_booking
Revises: 0011_phone_seats
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_web_booking'
down_revision = '0011_phone_seats'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_holds',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('business_unit_id', sa.String(length=32), nullable=False),
    sa.Column('job_type_id', sa.String(length=32), nullable=False),
    sa.Column('arrival_window_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('start_min', sa.Integer(), nullable=False),
    sa.Column('end_min', sa.Integer(), nullable=False),
    sa.Column('duration', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('request_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_holds'))
    )
    with op.batch_alter_table('web_holds', schema=None) as batch_op:
        batch_op.create_index('ix_web_holds_group_id_day', ['group_id', 'day'], unique=False)
        batch_op.create_index(batch_op.f('ix_web_holds_request_id'), ['request_id'], unique=False)
    op.create_table('web_day_locks',
    sa.Column('group_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('group_id', 'day', name=op.f('pk_web_day_locks'))
    )
    with op.batch_alter_table('online_bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('job_type_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('business_unit_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('sms_consent', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('utm_campaign', sa.String(length=80), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('customer_match', sa.String(length=16), nullable=False, server_default='new'))
        batch_op.add_column(sa.Column('claimed_by_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('dismiss_reason', sa.String(length=200), nullable=False, server_default=''))
        batch_op.create_foreign_key(batch_op.f('fk_online_bookings_job_type_id_job_types'), 'job_types', ['job_type_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_online_bookings_business_unit_id_business_units'), 'business_units', ['business_unit_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_online_bookings_claimed_by_id_users'), 'users', ['claimed_by_id'], ['id'])
        batch_op.create_index('ix_online_bookings_status_created_at', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('online_bookings', schema=None) as batch_op:
        batch_op.drop_index('ix_online_bookings_status_created_at')
        batch_op.drop_constraint(batch_op.f('fk_online_bookings_claimed_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_online_bookings_business_unit_id_business_units'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_online_bookings_job_type_id_job_types'), type_='foreignkey')
        for column in ('dismiss_reason', 'claimed_at', 'claimed_by_id', 'customer_match', 'utm_campaign',
                       'sms_consent', 'business_unit_id', 'job_type_id'):
            batch_op.drop_column(column)
    op.drop_table('web_day_locks')
    with op.batch_alter_table('web_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_holds_request_id'))
        batch_op.drop_index('ix_web_holds_group_id_day')
    op.drop_table('web_holds')
