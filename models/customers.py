"""Customers (the bill-to party), their locations (where work is done) and contact methods."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Column, Enum, Float, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import ID_LEN, Base, IdMixin, StampMixin, utcnow


class CustomerType(enum.StrEnum):
    RESIDENTIAL = "Residential"
    COMMERCIAL = "Commercial"


class ContactKind(enum.StrEnum):
    PHONE = "Phone"
    MOBILE = "MobilePhone"
    EMAIL = "Email"
    FAX = "Fax"

    @property
    def is_phone(self) -> bool:
        return self is not ContactKind.EMAIL


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as the readable value, checked by a named constraint on both databases.
    return Enum(
        cls,
        name=name,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        length=16,
        create_constraint=True,
    )


class AddressMixin:
    street: Mapped[str] = mapped_column(String(120), default="")
    unit: Mapped[str] = mapped_column(String(40), default="")
    city: Mapped[str] = mapped_column(String(60), default="")
    state: Mapped[str] = mapped_column(String(30), default="")
    zip: Mapped[str] = mapped_column(String(10), default="")
    country: Mapped[str] = mapped_column(String(2), default="US")


customer_tags = Table(
    "customer_tags",
    Base.metadata,
    Column("customer_id", String(ID_LEN), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_type_id", String(ID_LEN), ForeignKey("tag_types.id"), primary_key=True),
)

location_tags = Table(
    "location_tags",
    Base.metadata,
    Column("location_id", String(ID_LEN), ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_type_id", String(ID_LEN), ForeignKey("tag_types.id"), primary_key=True),
)


class TagType(IdMixin, Base):
    __tablename__ = "tag_types"
    name: Mapped[str] = mapped_column(String(60), unique=True)
    color: Mapped[str] = mapped_column(String(9), default="#607d8b")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Customer(IdMixin, StampMixin, AddressMixin, Base):
    """The bill-to party. The address columns are the billing address."""

    __tablename__ = "customers"
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[CustomerType] = mapped_column(
        _enum(CustomerType, "customer_type"), default=CustomerType.RESIDENTIAL
    )
    do_not_service: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_service_reason: Mapped[str] = mapped_column(String(200), default="")
    do_not_mail: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    locations: Mapped[list[Location]] = relationship(
        back_populates="customer", order_by="Location.created_at"
    )
    contacts: Mapped[list[ContactMethod]] = relationship(
        back_populates="customer",
        order_by="ContactMethod.created_at",
        primaryjoin="and_(ContactMethod.customer_id == Customer.id, ContactMethod.location_id.is_(None))",
        viewonly=True,
    )
    tags: Mapped[list[TagType]] = relationship(secondary=customer_tags, order_by="TagType.name")
    notes: Mapped[list[Note]] = relationship(
        back_populates="customer",
        order_by="Note.created_at.desc()",
        primaryjoin="and_(Note.customer_id == Customer.id, Note.location_id.is_(None))",
        viewonly=True,
    )
    memberships: Mapped[list[Membership]] = relationship(back_populates="customer")

    __table_args__ = (Index("ix_customers_name", "name"),)


class Location(IdMixin, StampMixin, AddressMixin, Base):
    """Where work is done; belongs to exactly one customer."""

    __tablename__ = "locations"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    access_notes: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    address_key: Mapped[str] = mapped_column(String(200), default="", index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    customer: Mapped[Customer] = relationship(back_populates="locations")
    contacts: Mapped[list[ContactMethod]] = relationship(
        back_populates="location", order_by="ContactMethod.created_at"
    )
    tags: Mapped[list[TagType]] = relationship(secondary=location_tags, order_by="TagType.name")


class ContactMethod(IdMixin, StampMixin, Base):
    """A phone, mobile, fax or email on a customer, or on one of its locations.

    ``customer_id`` is always set (for a location's contact too) so one index answers
    "which customers own this number".
    """

    __tablename__ = "contact_methods"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None, index=True)
    kind: Mapped[ContactKind] = mapped_column(_enum(ContactKind, "contact_kind"))
    value: Mapped[str] = mapped_column(String(120))  # E.164 for phones, lower-cased email
    memo: Mapped[str] = mapped_column(String(200), default="")
    notifications: Mapped[bool] = mapped_column(Boolean, default=True)
    do_not_text: Mapped[bool] = mapped_column(Boolean, default=False)
    # Search keys for phones (empty for email): national digits, and the same reversed so that
    # "the last 4 or more digits" is an index range scan too.
    digits: Mapped[str] = mapped_column(String(20), default="")
    digits_rev: Mapped[str] = mapped_column(String(20), default="")

    customer: Mapped[Customer] = relationship(foreign_keys=[customer_id])
    location: Mapped[Location | None] = relationship(back_populates="contacts")

    # Covering indexes: a phone lookup answers "which customers" from the index alone, without
    # touching the (large) table — what keeps it fast when the cache file is not in memory.
    __table_args__ = (
        Index("ix_contact_methods_value", "value", "customer_id"),
        Index("ix_contact_methods_digits", "digits", "customer_id"),
        Index("ix_contact_methods_digits_rev", "digits_rev", "customer_id"),
    )


class Membership(IdMixin, StampMixin, Base):
    __tablename__ = "memberships"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), default="Active")  # Active / Expired / Canceled
    starts_on: Mapped[date | None] = mapped_column(default=None)
    ends_on: Mapped[date | None] = mapped_column(default=None)

    customer: Mapped[Customer] = relationship(back_populates="memberships")


class Note(IdMixin, Base):
    __tablename__ = "notes"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None)
    text: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="notes", foreign_keys=[customer_id])
