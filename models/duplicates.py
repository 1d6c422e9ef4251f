"""Duplicate check before a new customer is saved: existing customers with the same phone, the
same address or a similar name.

Every candidate comes from an index (contact_methods.value, locations.address_key, the search
index's name keys and FTS table), each lookup capped, so the check costs the same at 300 or at
1M customers; the exact comparison and the name score then run in Python over a few hundred rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from .address import SUFFIXES, address_key  # the suffix table is the one address_key canonicalizes with
from .customers import ContactKind, ContactMethod, Customer, Location
from .phone import format_phone
from .search_index import address_text, fold

NAME_THRESHOLD = 88  # token_sort_ratio; "Jon Smith" ~ "John Smith" is 95, "John Smyth" 90
CANDIDATES_PER_LOOKUP = 200  # a shared office number or a common name can't flood the check

# Street words that vary between spellings ("North"/"N", "Street"/"St"): useless as search tokens.
_ADDRESS_NOISE = frozenset(SUFFIXES) | frozenset(SUFFIXES.values())
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(slots=True)
class DuplicateCandidate:
    """An existing customer that may be the one being created, and why."""

    customer_id: str
    name: str
    address: str
    phone: str  # the matching phone when a phone matched, else the first one
    reasons: list[str]  # "Same phone (214) 555-0134", "Same address", "Similar name (92%)"
    do_not_service: bool = False
    same_phone: bool = False
    same_address: bool = False
    name_score: int = 0

    def sort_key(self) -> tuple[bool, bool, int, str]:
        """Strongest first: a shared phone, then a shared address, then the name score."""
        return not self.same_phone, not self.same_address, -self.name_score, self.name.casefold()


@dataclass(slots=True)
class _Evidence:
    phones: list[str] = field(default_factory=list)
    same_address: bool = False


def _has_search_index(session: Session) -> bool:
    # The name keys and the FTS table exist in the console's SQLite cache only.
    return session.get_bind().dialect.name == "sqlite"


def _fts_customer_ids(session: Session, column: str, tokens: list[str]) -> list[str]:
    """Customers whose search document has every token in ``column`` as a whole word (3+ characters,
    so the candidate set stays small)."""
    usable = [t for t in dict.fromkeys(tokens) if len(t) >= 3]
    if not usable:
        return []
    query = f"{column} : (" + " ".join('"' + t.replace('"', '""') + '"' for t in usable) + ")"
    rows = session.execute(
        text(
            "SELECT s.customer_id FROM customer_fts f JOIN customer_search s ON s.doc_id = f.rowid "
            "WHERE customer_fts MATCH :q LIMIT :n"
        ),
        {"q": query, "n": CANDIDATES_PER_LOOKUP},
    )
    return [r[0] for r in rows]


def _prefix_ids(session: Session, column: str, prefix: str) -> list[str]:
    # A B-tree range instead of LIKE, so the name_key / name_rev_key index answers it.
    rows = session.execute(
        text(f"SELECT customer_id FROM customer_search WHERE {column} >= :lo AND {column} < :hi LIMIT :n"),
        {"lo": prefix, "hi": prefix + "\U0010ffff", "n": CANDIDATES_PER_LOOKUP},
    )
    return [r[0] for r in rows]


def _name_candidates(session: Session, name: str) -> list[str]:
    words = fold(name).split()
    if not words:
        return []
    ids = _prefix_ids(session, "name_key", " ".join(words))
    if len(words) > 1:
        first, last = words[0], words[-1]
        # Same last name and first initial ("Jon"/"John"), same first name and last initial
        # ("Smyth"/"Smith"): sharp prefixes even for the commonest surnames.
        ids += _prefix_ids(session, "name_rev_key", f"{last} {first[0]}")
        ids += _prefix_ids(session, "name_key", f"{first} {last[0]}")
    # Every word anywhere in the name: word order and middle names don't matter.
    ids += _fts_customer_ids(session, "name", _WORD.findall(" ".join(words)))
    return ids


def _address_candidates(session: Session, street: str, zip_: str) -> list[str]:
    words = [w for w in _WORD.findall(fold(street)) if w not in _ADDRESS_NOISE]
    zip5 = (zip_ or "").strip()[:5]
    if not words or len(zip5) < 5:
        return []
    return _fts_customer_ids(session, "address", [*words, zip5])


def _name_score(a: str, b: str) -> int:
    return round(fuzz.token_sort_ratio(fold(a), fold(b), processor=default_process))


def find_duplicates(
    session: Session, name: str, phones: list[str], street: str, unit: str, zip: str, limit: int = 10
) -> list[DuplicateCandidate]:
    """Existing customers that look like this new one, strongest first (phone > address > name)."""
    evidence: dict[str, _Evidence] = {}
    wanted = [p for p in dict.fromkeys(phones) if p]
    if wanted:
        for cid, value in session.execute(
            select(ContactMethod.customer_id, ContactMethod.value)
            .where(ContactMethod.value.in_(wanted))
            .limit(CANDIDATES_PER_LOOKUP)
        ):
            ev = evidence.setdefault(cid, _Evidence())
            if value not in ev.phones:
                ev.phones.append(value)
    key = address_key(street, unit, zip)
    if key:
        for cid in session.scalars(
            select(Location.customer_id).where(Location.address_key == key).limit(CANDIDATES_PER_LOOKUP)
        ):
            evidence.setdefault(cid, _Evidence()).same_address = True
    maybe: list[str] = []
    if _has_search_index(session):
        if key:
            # Billing addresses carry no stored key: narrow by the street words and ZIP, compare below.
            maybe += _address_candidates(session, street, zip)
        if name.strip():
            maybe += _name_candidates(session, name)
    ids = list(dict.fromkeys([*evidence, *maybe]))
    if not ids:
        return []
    out: list[DuplicateCandidate] = []
    customers = session.execute(
        select(
            Customer.id,
            Customer.name,
            Customer.street,
            Customer.unit,
            Customer.city,
            Customer.state,
            Customer.zip,
            Customer.do_not_service,
        ).where(Customer.id.in_(ids), Customer.merged_into_id.is_(None))
    )
    for cid, cname, cstreet, cunit, ccity, cstate, czip, dns in customers:
        ev = evidence.get(cid, _Evidence())
        same_address = ev.same_address or (bool(key) and address_key(cstreet, cunit, czip) == key)
        score = _name_score(name, cname) if name.strip() else 0
        if score < NAME_THRESHOLD:
            score = 0
        if not (ev.phones or same_address or score):
            continue
        reasons = [f"Same phone {format_phone(p)}" for p in ev.phones]
        if same_address:
            reasons.append("Same address")
        if score:
            reasons.append("Same name" if score == 100 else f"Similar name ({score}%)")
        out.append(
            DuplicateCandidate(
                customer_id=cid,
                name=cname,
                address=address_text(cstreet, cunit, ccity, cstate, czip),
                phone=format_phone(ev.phones[0]) if ev.phones else "",
                reasons=reasons,
                do_not_service=bool(dns),
                same_phone=bool(ev.phones),
                same_address=same_address,
                name_score=score,
            )
        )
    out.sort(key=DuplicateCandidate.sort_key)
    out = out[:limit]
    _fill_phones(session, [c for c in out if not c.phone])
    return out


def _fill_phones(session: Session, candidates: list[DuplicateCandidate]) -> None:
    """Show each candidate's main phone (customer-level before location-level, oldest first)."""
    if not candidates:
        return
    by_id = {c.customer_id: c for c in candidates}
    rows = session.execute(
        select(ContactMethod.customer_id, ContactMethod.value)
        .where(ContactMethod.customer_id.in_(list(by_id)), ContactMethod.kind != ContactKind.EMAIL)
        .order_by(ContactMethod.location_id.is_not(None), ContactMethod.created_at)
    )
    for cid, value in rows:
        if not by_id[cid].phone:
            by_id[cid].phone = format_phone(value)
