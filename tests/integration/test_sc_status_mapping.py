"""Job actions beyond hold / release / cancel, over real HTTP to the stand-in: a job completed without a
check-in becomes the client's "complete" status (a check-out needs a check-in on the platform), and a
reschedule carries the client's ``rescheduleReasonCode``; both read from the setup file."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from models.jobs import JobStatus
from models.work_order_ingest import ScMapping
from sync.sc_config import ScConfigError, load
from sync.sc_outbound import OutboundWorker
from sync.scsim_data import DEFAULT_STATUSES
from tests.integration.test_servicechannel_outbound import _apply, _book, _drain, _job_action, _receive, rig


def test_complete_without_check_in_and_reschedule_with_its_reason_code(tmp_path):
    async def scenario():
        async with rig(str(tmp_path / "s.sqlite3")) as r:
            (wo,) = await _receive(r, 1)
            mapping = ScMapping(
                job_types={("HVAC", "*"): "AC Not Cooling"},
                statuses={wo.subscriber_id: {"complete": ("Completed", "Confirmed")}},
                reschedule_reasons={wo.subscriber_id: 4},
            )
            # This client configured Completed / Confirmed (the stand-in refuses what a client has not).
            r.sim.statuses[wo.subscriber_id] = [*DEFAULT_STATUSES, ("Completed", "Confirmed")]
            job = _book(r, wo)
            _apply(r, "accept_work_order", {"work_order_id": wo.id, "job_id": job})
            client = r.client()
            worker = OutboundWorker(r.sessions, client, mapping, interval=0.05)
            try:
                await _drain(worker)
                _job_action(r, job, JobStatus.SCHEDULED, move=timedelta(days=2))
                await _drain(worker)
                _job_action(r, job, JobStatus.COMPLETED, "Reset the breaker")
                await _drain(worker)
            finally:
                await client.close()
            writes = [(w["action"], w["body"]) for w in r.sim.writes if w["work_order"] == wo.sc_id]
            assert [a for a, _ in writes] == ["accept", "schedule", "status"]
            assert writes[1][1]["rescheduleReasonCode"] == "4"
            assert writes[2][1] == {
                "Status": {"Primary": "Completed", "Extended": "Confirmed"},
                "Note": "Reset the breaker",
            }
            assert r.sim.work_orders[wo.sc_id]["Status"]["Extended"] == "Confirmed"

    asyncio.run(scenario())


def _setup(tmp_path, statuses: str):
    for name in ("secret", "password"):
        (tmp_path / name).write_text("x\n")
        (tmp_path / name).chmod(0o600)
    cfg = tmp_path / "sc.yaml"
    cfg.write_text(
        "servicechannel:\n  client_id: app\n  client_secret_file: secret\n  username: api\n"
        f"  password_file: password\n  statuses:\n    2014917421:\n{statuses}"
    )
    return cfg


def test_the_setup_file_names_complete_and_the_reschedule_reason(tmp_path):
    cfg = _setup(tmp_path, "      complete: [Completed, Confirmed]\n      reschedule_reason: 3\n")
    mapping = load(cfg).mapping
    assert mapping.statuses[2014917421]["complete"] == ("Completed", "Confirmed")
    assert mapping.reschedule_reasons == {2014917421: 3}
    with pytest.raises(ScConfigError, match="reschedule_reason must be the reason's number"):
        load(_setup(tmp_path, "      reschedule_reason: soon\n"))
    with pytest.raises(ScConfigError, match="one of hold / release / cancel / complete"):
        load(_setup(tmp_path, "      finish: [Completed, Confirmed]\n"))
