"""Seeded randomized sync runs through fault proxies (bench/chaos.py): bookings, new customers and
customer edits from 2–3 consoles while connections are delayed, dropped, cut mid-frame and
black-holed, the server restarts and consoles restart, some with their clock ±24 h off. After
quiescence nothing acknowledged is lost or doubled and every console equals the server.

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
    assert result.ok, "\n".join([f"seed {result.seed}: lost={result.lost} duplicated={result.duplicated} "
                                 f"diverged={result.diverged} stalled={result.stalled}", *result.problems[:20]])
    assert result.rejected == 0, result.problems


@pytest.mark.parametrize("seed", range(1, SEEDS + 1))
def test_chaos_seed(seed, templates, tmp_path):
    _assert_clean(asyncio.run(run_one(seed, templates, tmp_path, Params(deadline_s=40))))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10_001, 10_021))
def test_chaos_long_runs(seed, templates, tmp_path):
    """Longer runs: more consoles and writes, more restarts."""
    params = Params(consoles=(3, 6), ops=(20, 40), server_restarts=0.5, console_restarts=0.5, deadline_s=90)
    _assert_clean(asyncio.run(run_one(seed, templates, tmp_path, params)))
