"""A CSR's SIP seat, kept on the server (docs/phone.md): where their softphone signs in and what the
phone company dials to ring it. The SIP password is not here: the workstation keeps it in the OS
keyring, or asks for it at sign-in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

TRANSPORTS = ("udp", "tcp", "tls")


class PhoneSeat(Base):
    __tablename__ = "phone_seats"
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # What the phone company's <Dial><Sip> rings, e.g. sip:dana@acme.sip.twilio.com
    sip_address: Mapped[str] = mapped_column(String(200))
    registrar: Mapped[str] = mapped_column(String(200))  # sip:acme.sip.twilio.com
    proxy: Mapped[str] = mapped_column(String(200), default="")  # outbound proxy, if any
    sip_user: Mapped[str] = mapped_column(String(80))
    transport: Mapped[str] = mapped_column(String(4), default="udp")
    input_device: Mapped[str] = mapped_column(String(120), default="")  # "" = the system's default
    output_device: Mapped[str] = mapped_column(String(120), default="")
    ring_device: Mapped[str] = mapped_column(String(120), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def as_dict(self) -> dict[str, str]:
        """The seat as the console receives it (no password: there is none here)."""
        return {
            "sip_address": self.sip_address,
            "registrar": self.registrar,
            "proxy": self.proxy,
            "user": self.sip_user,
            "transport": self.transport,
            "input_device": self.input_device,
            "output_device": self.output_device,
            "ring_device": self.ring_device,
        }
