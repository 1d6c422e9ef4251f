"""customer notifications: the outbox of texts and emails, customers' texts, appointments confirmed by text

Revision ID: 0013_notifications
Revises: 0012_web_booking
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_notifications'
down_revision = '0012_web_booking'
branch_labels = None
depends_on = None


def _enum(name, values):
    return sa.Enum(*values, name=name, native_enum=False, length=16, create_constraint=True)


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', _enum('notice_kind', ['confirmation', 'reminder', 'reschedule', 'cancel', 'on_the_way',
                                            'reply', 'help']), nullable=False),
    sa.Column('channel', _enum('notice_channel', ['sms', 'email']), nullable=False),
    sa.Column('status', _enum('notice_status', ['pending', 'sending', 'queued', 'sent', 'delivered',
                                                'undelivered', 'failed', 'canceled', 'suppressed']),
              nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('appointment_id', sa.String(length=32), nullable=True),
    sa.Column('contact_id', sa.String(length=32), nullable=True),
    sa.Column('to_address', sa.String(length=120), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=64), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('error_code', sa.String(length=16), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.String(length=32), nullable=True),
    sa.Column('in_reply_to_id', sa.String(length=32), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_notifications_customer_id_customers')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_notifications_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('key', name=op.f('uq_notifications_key'))
    )
    op.create_index(op.f('ix_notifications_customer_id'), 'notifications', ['customer_id'], unique=False)
    op.create_index(op.f('ix_notifications_job_id'), 'notifications', ['job_id'], unique=False)
    op.create_index(op.f('ix_notifications_provider_id'), 'notifications', ['provider_id'], unique=False)
    op.create_index('ix_notifications_status_next_attempt_at', 'notifications', ['status', 'next_attempt_at'],
                    unique=False)
    op.create_table('inbound_messages',
    sa.Column('provider_id', sa.String(length=64), nullable=False),
    sa.Column('from_number', sa.String(length=40), nullable=False),
    sa.Column('to_number', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('kind', _enum('inbound_kind', ['opt_out', 'opt_in', 'help', 'confirm', 'message']),
              nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('handled', sa.Boolean(), nullable=False),
    sa.Column('handled_by_id', sa.String(length=32), nullable=True),
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'],
                            name=op.f('fk_inbound_messages_customer_id_customers')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_inbound_messages_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('provider_id', name=op.f('uq_inbound_messages_provider_id'))
    )
    op.create_index(op.f('ix_inbound_messages_customer_id'), 'inbound_messages', ['customer_id'], unique=False)
    op.add_column('appointments', sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('appointments') as batch_op:
        batch_op.drop_column('confirmed_at')
    op.drop_index(op.f('ix_inbound_messages_customer_id'), table_name='inbound_messages')
    op.drop_table('inbound_messages')
    op.drop_index('ix_notifications_status_next_attempt_at', table_name='notifications')
    op.drop_index(op.f('ix_notifications_provider_id'), table_name='notifications')
    op.drop_index(op.f('ix_notifications_job_id'), table_name='notifications')
    op.drop_index(op.f('ix_notifications_customer_id'), table_name='notifications')
    op.drop_table('notifications')
