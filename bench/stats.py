"""One way to summarise a benchmark's samples, for every `csr-bench` key.

Percentiles use the nearest-rank convention (the smallest sample with at least q % of the samples at or
below it). Every figure is reported with its sample count and maximum, and a p99 only from at least
MIN_P99_SAMPLES samples: below that a "p99" is just one of the last few samples — close to the maximum
in disguise — so it is reported as null and the count says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

MIN_P99_SAMPLES = 1_000


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (0 < q ≤ 100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def p99(values: Sequence[float]) -> float | None:
    """The 99th percentile, or None below MIN_P99_SAMPLES samples."""
    return percentile(values, 99) if len(values) >= MIN_P99_SAMPLES else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summary(
    prefix: str, values: Sequence[float], unit: str = "ms", digits: int = 2, suffix: str = ""
) -> dict[str, Any]:
    """``{prefix}_p50_{unit}{suffix}``, ``_p99_…`` (None below 1,000 samples), ``_max_…`` and
    ``{prefix}_samples{suffix}``: the one shape every benchmark key takes (``suffix`` e.g. "_300")."""
    return {
        f"{prefix}_p50_{unit}{suffix}": _round(percentile(values, 50), digits),
        f"{prefix}_p99_{unit}{suffix}": _round(p99(values), digits),
        f"{prefix}_max_{unit}{suffix}": _round(max(values) if values else None, digits),
        f"{prefix}_samples{suffix}": len(values),
    }
