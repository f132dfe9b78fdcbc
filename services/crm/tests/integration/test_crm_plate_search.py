"""One plate rule for what crm stores and what it searches (`contracts.plate`): a walk-in
whose plate the advisor typed `京a 12345` is the car the call centre finds for `京A12345`,
and for the spellings the rule declares equal."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from chassis.db import migrate
from chassis.runner import migrations_dir
from chassis.testing import auth, wait_for
from crm import models as m
from crm.service import CrmService
from services.crm.tests.integration.crm_hq import VIN, opened

OTHER_VIN = "1M8GDM9AXKP042788"


def test_a_walk_in_typed_in_lower_case_with_a_space_is_found_by_its_plate(crm, sites) -> None:
    # A walk-in: the repair order is opened at reception, no booking before it.
    sites.publish(opened("D001", "RO-WALK-1", "walk-in-1", plate="京a 12345"))
    wait_for(lambda: crm.inbox() == 1, message="the walk-in applied")

    for typed in ("京A12345", "jing a12345", "京a 12345", "京Ａ１２３４５", "京A-12345"):
        answer = crm.get("/customers", plate=typed)
        assert answer.status_code == 200, answer.text
        [customer] = answer.json()["customers"]
        assert customer["customer_id"] == "walk-in-1", typed
        [vehicle] = customer["vehicles"]
        assert (vehicle["vin"], vehicle["plate"]) == (VIN, "京A12345")

    # The dealer that received the car finds it the same way; another dealer does not.
    advisor = auth("advisor", dealer_code="D001")
    assert len(crm.get("/customers", headers=advisor, plate="jing a12345"
                       ).json()["customers"]) == 1
    assert crm.get("/customers", headers=auth("advisor", dealer_code="D002"),
                   plate="京A12345").json()["customers"] == []
    assert crm.get("/customers", plate="京A54321").json()["customers"] == []


def test_plates_stored_as_typed_are_brought_to_the_normal_form(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    migrate(url, migrations_dir(CrmService), revision="0002")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for vin, plate in ((VIN, "京a 12345"), (OTHER_VIN, "沪B·88888"),
                               ("LFV3A23C1J3000001", None)):
                conn.execute(m.vehicles.insert().values(vin=vin, plate=plate,
                                                        first_seen_on=date(2025, 3, 18)))
        migrate(url, migrations_dir(CrmService))
        with engine.connect() as conn:
            plates = dict(conn.execute(sa.select(m.vehicles.c.vin, m.vehicles.c.plate)).all())
    finally:
        engine.dispose()
    assert plates == {VIN: "京A12345", OTHER_VIN: "沪B88888", "LFV3A23C1J3000001": None}
