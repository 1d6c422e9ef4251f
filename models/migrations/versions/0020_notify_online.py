"""notifications: the "online booking received" message (kind online_booking, docs/notifications.md)

Revision ID: 0020_notify_online
Revises: 0019_web_address_hits
"""
from alembic import op
import sqlalchemy as sa


revision = '0020_notify_online'
down_revision = "0019_web_address_hits"
branch_labels = None
depends_on = None

_OLD = ['confirmation', 'reminder', 'reschedule', 'cancel', 'on_the_way', 'reply', 'help']
_NEW = _OLD + ['online_booking']


def _kind(values):
    return sa.Enum(*values, name='notice_kind', native_enum=False, length=16, create_constraint=True)


def upgrade() -> None:
    # The kind's check constraint lists the kinds: the table is rebuilt with the new list (on both
    # databases, so they end up the same).
    with op.batch_alter_table('notifications', recreate='always') as batch_op:
        batch_op.alter_column('kind', type_=_kind(_NEW), existing_type=_kind(_OLD), existing_nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE kind = 'online_booking'")
    with op.batch_alter_table('notifications', recreate='always') as batch_op:
        batch_op.alter_column('kind', type_=_kind(_OLD), existing_type=_kind(_NEW), existing_nullable=False)
