"""Which campaigns cover a car at reception, and the model year a VIN encodes."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.vin import model_year
from workorder.domain.campaigns import Campaign, covers_by_model, open_campaigns, same_model
from workorder.domain.workshop import operations_done

TODAY = date(2025, 4, 20)
VIN_2022 = "LSVAU2187N2183740"  # position 10: N
VIN_2019 = "1M8GDM9AXKP042788"  # position 10: K


@pytest.mark.parametrize(("code", "latest", "year"), [
    ("A", 2026, 2010), ("A", 2009, 1980), ("Y", 2026, 2000), ("1", 2026, 2001),
    ("9", 2026, 2009), ("N", 2026, 2022), ("S", 2026, 2025), ("T", 2026, 2026),
    ("V", 2026, 1997), ("K", 2026, 2019), ("1", 2031, 2031), ("A", 1979, None),
])
def test_model_year_is_the_latest_of_its_cycle_not_after_the_limit(code, latest, year) -> None:
    vin = VIN_2022[:9] + code + VIN_2022[10:]
    assert model_year(vin, latest) == year


@pytest.mark.parametrize("code", ["0", "U", "Z"])
def test_characters_that_encode_no_year(code: str) -> None:
    assert model_year(VIN_2022[:9] + code + VIN_2022[10:], 2026) is None


def test_model_year_needs_a_vin() -> None:
    with pytest.raises(ValueError):
        model_year("LSVAU2187N", 2026)


def _campaign(code: str = "RC-1", **scope: object) -> Campaign:
    return Campaign(code=code, title="安全气囊召回", starts_on=date(2025, 4, 1), **scope)


def test_a_listed_vin_is_covered_whatever_its_model() -> None:
    found = open_campaigns([_campaign(), _campaign("RC-2")], ["RC-1"], vin=VIN_2022,
                           model=None, today=TODAY)
    assert [c.code for c in found] == ["RC-1"]


def test_model_and_model_year_range() -> None:
    lavida = _campaign(model="Lavida", year_from=2021, year_to=2022)
    assert covers_by_model(lavida, VIN_2022, "LAVIDA ", TODAY)
    assert not covers_by_model(lavida, VIN_2019, "Lavida", TODAY)      # 2019: before the range
    assert not covers_by_model(lavida, VIN_2022, "Passat", TODAY)
    assert not covers_by_model(lavida, VIN_2022, None, TODAY)          # model unknown
    assert covers_by_model(_campaign(model="Lavida"), VIN_2019, "lavida", TODAY)  # any year
    assert covers_by_model(_campaign(model="Lavida", year_from=2022), VIN_2022, "Lavida", TODAY)
    assert not covers_by_model(_campaign(model="Lavida", year_to=2018), VIN_2019, "Lavida",
                               TODAY)
    no_year = VIN_2022[:9] + "0" + VIN_2022[10:]
    assert not covers_by_model(lavida, no_year, "Lavida", TODAY)      # reception never guesses


def test_a_listed_campaign_without_model_is_not_matched_by_model() -> None:
    assert not covers_by_model(_campaign(), VIN_2022, "Lavida", TODAY)


def test_only_started_campaigns_are_open_oldest_first() -> None:
    later = Campaign(code="RC-0", title="t", starts_on=date(2025, 5, 1), model="Lavida")
    early = Campaign(code="RC-9", title="t", starts_on=date(2025, 1, 1), model="Lavida")
    found = open_campaigns([_campaign(model="Lavida"), later, early], [], vin=VIN_2022,
                           model="Lavida", today=TODAY)
    assert [c.code for c in found] == ["RC-9", "RC-1"]
    assert same_model("帕萨特  330TSI", "帕萨特 330tsi")


def test_a_campaign_done_on_the_car_is_no_longer_open() -> None:
    by_model = _campaign("RC-2", model="Lavida")
    found = open_campaigns([_campaign(), by_model], ["RC-1"], vin=VIN_2022, model="Lavida",
                           today=TODAY, completed=["RC-1"])
    assert [c.code for c in found] == ["RC-2"]


def test_only_finished_jobs_count_as_work_done() -> None:
    jobs = [{"operation_code": "RCL-ABG-02", "status": "DONE"},
            {"operation_code": "MNT-OIL-01", "status": "IN_PROGRESS"},
            {"operation_code": "RCL-ABG-02", "status": "DONE"},
            {"operation_code": "BRK-PAD-F", "status": "ASSIGNED"}]
    assert operations_done(jobs) == ["RCL-ABG-02"]
    assert operations_done([]) == []
