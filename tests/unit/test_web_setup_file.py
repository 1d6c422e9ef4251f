"""The setup file's ``online_booking`` section: read, checked, imported, exported (docs/setup-file.md)."""

from __future__ import annotations

import pytest

from models.db import open_cache
from models.setup_doc import SetupFileError
from models.setup_export import export_setup
from models.setup_file import demo_setup_path, import_setup, import_setup_file, read_setup_text
from models.setup_validate import parse_setup
from models.web_booking import load_web_settings

DEMO = read_setup_text(demo_setup_path())


def test_the_demo_opens_online_booking_and_it_round_trips(tmp_path) -> None:
    a = open_cache(tmp_path / "a.db")
    import_setup_file(a, demo_setup_path())
    with a.sessions() as s:
        w = load_web_settings(s)
        text = export_setup(s)
    assert w.enabled and not w.auto_book and w.capacity_share_percent == 50 and w.hold_minutes == 10
    assert [j.public_name for j in w.job_types][0] == "My air conditioning isn't cooling"
    assert "online_booking:" in text and "public_name: My air conditioning isn't cooling" in text
    with a.sessions.begin() as s:
        assert not import_setup(s, parse_setup(text)).changed  # export → import: nothing to change
    a.close()


def test_service_area_origins_and_settings_change_on_reimport(tmp_path) -> None:
    cache = open_cache(tmp_path / "c.db")
    text = DEMO.replace("service_area_zips: []", 'service_area_zips: ["75201", "02134"]').replace(
        "allowed_origins: []", "allowed_origins: [https://www.example.com/]"
    )
    with cache.sessions.begin() as s:
        summary = import_setup(s, parse_setup(text))
    assert summary["online_booking"].created == 1
    with cache.sessions() as s:
        w = load_web_settings(s)
        assert w.service_area_zips == {"75201", "02134"} and w.allowed_origins == ("https://www.example.com",)
        assert '"02134"' in export_setup(s)  # a ZIP keeps its leading zero
    cache.close()


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "{job_type: Drain Clog,",
            "{job_type: Drain Clogg,",
            "job type 'Drain Clogg', which the file doesn't have",
        ),
        ("service_area_zips: []", "service_area_zips: [7520]", "not a 5-digit ZIP"),
        ("allowed_origins: []", "allowed_origins: [www.example.com/path]", "not a web origin"),
        ("capacity_share_percent: 50", "capacity_share_percent: 150", "between 0 and 100"),
        (
            "campaign: Web Scheduler\n  job_types",
            "campaign: Billboards\n  job_types",
            "campaign 'Billboards'",
        ),
        (
            '{job_type: Drain Clog, public_name: "A clogged drain"}',
            '{job_type: Drain Clog, public_name: "A clogged drain", business_unit: HVAC Service}',
            "isn't booked in business unit 'HVAC Service'",
        ),
    ],
)
def test_a_bad_online_booking_section_is_refused_with_its_line(old, new, says) -> None:
    assert old in DEMO
    with pytest.raises(SetupFileError) as err:
        parse_setup(DEMO.replace(old, new))
    assert any(says in message for _line, message in err.value.problems), err.value.problems
    assert all(line > 0 for line, _ in err.value.problems)
