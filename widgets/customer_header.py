"""The top of the customer panel: name, type, membership badge, do-not-mail, the red Do Not
Service banner, billing address and tag chips."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from models.records import CustomerRecord

# Scoped to these labels; the banner's colours live in resources/themes/console.qss.
BADGE_STYLE = "QLabel { background: #2e7d32; color: white; border-radius: 3px; padding: 1px 6px; }"
CHIP_STYLE = "QLabel { border: 1px solid palette(mid); border-radius: 8px; padding: 1px 6px; }"


def selectable_label(parent: QWidget, name: str, text: str = "") -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class CustomerHeader(QWidget):
    """Who the customer is and the flags a CSR must see before booking."""

    def __init__(self, parent: QWidget | None = None, trailing: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("customerHeader")
        self.name_label = selectable_label(self, "customerName")
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.name_label.setFont(font)
        self.type_label = selectable_label(self, "customerType")
        self.membership_badge = selectable_label(self, "membershipBadge")
        self.membership_badge.setStyleSheet(BADGE_STYLE)
        for badge in (self.type_label, self.membership_badge):
            badge.setWordWrap(False)
        self.do_not_mail_label = selectable_label(self, "doNotMailBadge", "Do not mail")
        self.merged_label = selectable_label(self, "mergedNotice")
        self.dns_banner = selectable_label(self, "doNotServiceBanner")
        self.dns_banner.setAccessibleName("Do Not Service warning")
        self.billing_label = selectable_label(self, "billingAddress")
        self.tags_box = QWidget(self)
        self.tags_box.setObjectName("customerTags")
        self.tags_box.setAccessibleName("Customer tags")
        self._tags_layout = QHBoxLayout(self.tags_box)
        self._tags_layout.setContentsMargins(0, 0, 0, 0)

        top = QHBoxLayout()
        top.addWidget(self.name_label, 1)
        for w in (self.type_label, self.membership_badge, self.do_not_mail_label, trailing):
            if w is not None:
                top.addWidget(w)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(top)
        for w in (self.merged_label, self.dns_banner, self.billing_label, self.tags_box):
            v.addWidget(w)

    def show_record(self, r: CustomerRecord) -> None:
        self.name_label.setText(r.name)
        self.type_label.setText(r.type)
        self.membership_badge.setText(r.membership or "")
        self.membership_badge.setVisible(bool(r.membership))
        self.membership_badge.setAccessibleName(f"Member: {r.membership}" if r.membership else "")
        self.do_not_mail_label.setVisible(r.do_not_mail)
        self.merged_label.setText("This customer was merged into another record." if r.merged_into_id else "")
        self.merged_label.setVisible(bool(r.merged_into_id))
        reason = r.do_not_service_reason.strip()
        self.dns_banner.setText("DO NOT SERVICE" + (f" — {reason}" if reason else ""))
        self.dns_banner.setVisible(r.do_not_service)
        self.billing_label.setText(
            f"Billing: {r.billing_address}" if r.billing_address else "No billing address"
        )
        while (item := self._tags_layout.takeAt(0)) is not None:
            if (old := item.widget()) is not None:
                old.hide()  # deleteLater waits for the event loop; don't paint it meanwhile
                old.deleteLater()
        for tag in r.tags:
            chip = QLabel(tag, self.tags_box)
            chip.setObjectName("tagChip")
            chip.setStyleSheet(CHIP_STYLE)
            self._tags_layout.addWidget(chip)
        self._tags_layout.addStretch(1)
        self.tags_box.setVisible(bool(r.tags))
