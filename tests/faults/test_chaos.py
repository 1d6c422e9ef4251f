"""Seeded randomized sync runs through fault proxies (bench/chaos.py): bookings, new customers and
customer edits from 2–3 consoles while connections are delayed, dropped, cut mid-frame and
black-holed, the server restarts and consoles restart, some with their clock ±24 h off. After
quiescence nothing acknowledged is lost or doubled and every console equals the server. Some bookings are
forged (credited to another user): the server refuses each, and each refusal is in its console's durable
problems list exactly once, across kills.

CI runs CSR_CHAOS_SEEDS seeds (default 200, about a second each); `csr-bench chaos --runs N` runs more.
A failing seed replays alone: `csr-bench chaos --runs 1 --seed S --verbose`.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from bench.chaos import Params, run_one

SEEDS = int(os.environ.get("CSR_CHAOS_SEEDS", "200"))


def _assert_clean(result) -> None:
    assert result.ok, "\n".join(
        [
            f"seed {result.seed}: lost={result.lost} duplicated={result.duplicated} "
            f"diverged={result.diverged} stalled={result.stalled} "
            f"refusals_unshown={result.refusals_unshown} misattributed={result.misattributed}",
            *result.problems[:20],
        ]
    )


@pytest.mark.parametrize("seed", range(1, SEEDS + 1))
def test_chaos_seed(seed, templates, tmp_path):
    _assert_clean(asyncio.run(run_one(seed, templates, tmp_path, Params(deadline_s=40))))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10_001, 10_021))
def test_chaos_long_runs(seed, templates, tmp_path):
    """Longer runs: more consoles and writes, more restarts."""
    params = Params(consoles=(3, 6), ops=(20, 40), server_restarts=0.5, console_restarts=0.5, deadline_s=90)
    _assert_clean(asyncio.run(run_one(seed, templates, tmp_path, params)))


def test_chaos_refusals_are_exercised(templates, tmp_path):
    """The refusal path is really taken: over a few seeds, forged bookings are refused and shown."""
    shown = 0
    for seed in range(1, 13):
        result = asyncio.run(
            run_one(seed, templates, tmp_path / str(seed), Params(ops=(8, 12), deadline_s=40))
        )
        _assert_clean(result)
        shown += result.rejected
    assert shown > 0
