"""The Web Scheduler's per-address limit, kept in the database so every ``csr-server`` instance on one
database counts the same POSTs (behind a load balancer an address's tries spread over the instances;
counted per process, each would allow the whole limit).

One row per (address, minute) with the POSTs counted in that minute; an address's hits over the last
hour are the sum of its last 60 rows (a sliding hour in one-minute steps, at most 60 rows an address).
Counting locks the address's current row first (created race-free), so two instances counting the same
address queue on it and neither lets the one-too-many through; a refused POST is not counted.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, delete, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import Base

WINDOW_MINUTES = 60
ADDRESS_LEN = 64  # an IPv6 address with a zone fits; longer ones are cut (they still count)


class WebAddressHits(Base):
    """POSTs from one remote address in one minute (server only, never synced to consoles)."""

    __tablename__ = "web_address_hits"
    address: Mapped[str] = mapped_column(String(ADDRESS_LEN), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)  # UTC epoch minute
    hits: Mapped[int] = mapped_column(Integer, default=0)


def _insert(session: Session):  # noqa: ANN202 - the dialect's INSERT (with ON CONFLICT)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(WebAddressHits)


def take_address(session: Session, address: str, limit: int, now_epoch: float) -> bool:
    """Count one POST from ``address`` (in the caller's transaction); False, and nothing counted, when it
    already made ``limit`` of them in the last hour."""
    address = (address or "?")[:ADDRESS_LEN]
    minute = int(now_epoch // 60)
    session.execute(_insert(session).values(address=address, minute=minute, hits=0).on_conflict_do_nothing())
    # The lock: an UPDATE of this address's current row (no-op); another instance counting the same
    # address waits here until this transaction ends, then sees its count.
    session.execute(
        update(WebAddressHits)
        .where(WebAddressHits.address == address, WebAddressHits.minute == minute)
        .values(hits=WebAddressHits.hits)
    )
    total = session.scalar(
        select(func.coalesce(func.sum(WebAddressHits.hits), 0)).where(
            WebAddressHits.address == address, WebAddressHits.minute > minute - WINDOW_MINUTES
        )
    )
    if int(total or 0) >= limit:
        return False
    session.execute(
        update(WebAddressHits)
        .where(WebAddressHits.address == address, WebAddressHits.minute == minute)
        .values(hits=WebAddressHits.hits + 1)
    )
    return True


def purge_address_hits(session: Session, now_epoch: float) -> int:
    """Forget the minutes that left every address's hour (run now and then: the table stays as small as
    the last hour's distinct addresses × minutes)."""
    minute = int(now_epoch // 60)
    result = session.execute(delete(WebAddressHits).where(WebAddressHits.minute <= minute - WINDOW_MINUTES))
    return int(result.rowcount or 0)
