"""Address normalization for duplicate matching ("123 N. Main Street" == "123 north main st")."""

from __future__ import annotations

import re

from .search_index import fold

SUFFIXES = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "lane": "ln",
    "boulevard": "blvd",
    "court": "ct",
    "place": "pl",
    "circle": "cir",
    "parkway": "pkwy",
    "highway": "hwy",
    "terrace": "ter",
    "trail": "trl",
    "way": "way",
    "square": "sq",
    "apartment": "apt",
    "suite": "ste",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "unit": "unit",
    "#": "unit",
}
_WORD = re.compile(r"[a-z0-9]+")


def address_key(street: str, unit: str, zip_: str) -> str:
    """A canonical key of street + unit + 5-digit ZIP; empty when there is no street."""
    words = [SUFFIXES.get(w, w) for w in _WORD.findall(fold(f"{street} {unit}"))]
    if not words:
        return ""
    return " ".join(words) + "|" + (zip_ or "").strip()[:5]
