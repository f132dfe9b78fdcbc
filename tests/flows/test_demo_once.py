"""`make demo ARGS="--dealers 2 --days 1 --once"` at a small size: headquarters and two dealer
sites as processes on the real RabbitMQ and PostgreSQL, linked by shovels. What the summary
says must be what the databases hold."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from decimal import Decimal

import pytest
import requests

from chassis.testing import rows
from simulator import demo, topology


@pytest.fixture
def prefix(tmp_path):
    name = f"t_demo_{uuid.uuid4().hex[:8]}"
    yield name
    topology.remove(topology.plan(2, tmp_path / "cleanup", 0, prefix=name))


def test_the_demo_runs_once_and_its_summary_matches_the_databases(tmp_path, prefix, capsys):
    summary = demo.run(dealers=2, days=1, once=True, workdir=tmp_path, base_port=0,
                       bookings_per_day=(4, 6), prefix=prefix)
    printed = capsys.readouterr().out
    assert "Headquarters dashboard: http://" in printed
    assert json.loads(printed.strip().splitlines()[-2]) == json.loads(json.dumps(
        summary, default=str))  # the last JSON line is the summary
    assert summary["mode"] == "rabbitmq+postgresql"

    def db(stack: str, service: str) -> str:
        return f"{topology.POSTGRES}/{prefix}_{stack}_{service}"

    site = summary["site"]
    appointments = sum(rows(db(d, "booking"), "SELECT count(*) FROM appointments")[0][0]
                       for d in ("d001", "d002"))
    delivered = [Decimal(json.loads(payload)["data"]["grand_total"])
                 for d in ("d001", "d002")
                 for (payload,) in rows(db(d, "workorder"), "SELECT payload FROM outbox WHERE "
                                        "event_type = 'aftersales.VehicleDelivered.v1'")]
    stages: Counter = Counter()
    for d in ("d001", "d002"):
        stages.update(dict(rows(db(d, "workorder"),
                                "SELECT stage, count(*) FROM repair_orders GROUP BY 1")))
    assert site["bookings"] == appointments > 0
    assert site["deliveries"] == len(delivered) == stages.get("VEHICLE_DELIVERED", 0) > 0
    assert Decimal(site["revenue_invoiced"]) == sum(delivered)

    # Headquarters saw the same day through the broker links.
    hq = summary["headquarters"]
    assert hq["kpis"]["ros_delivered"] == len(delivered)
    assert Decimal(hq["kpis"]["revenue"]) == sum(delivered)
    assert hq["events_applied"] == rows(db("hq", "bi"), "SELECT count(*) FROM event_log")[0][0]
    answered = rows(db("hq", "crm"), "SELECT count(*) FROM surveys WHERE score IS NOT NULL")
    assert site["surveys_answered"] == answered[0][0]

    # Nobody minted a token: staff signed in at their own stack's identity, owners by code.
    def signed_in(stack: str, action: str) -> int:
        return rows(db(stack, "identity"),
                    "SELECT count(*) FROM audit_log WHERE action = :action", action=action)[0][0]

    for dealer in ("d001", "d002"):
        assert signed_in(dealer, "SIGNED_IN") >= 5  # manager, advisor, technician, clerk, ...
        assert signed_in(dealer, "OWNER_SIGNED_IN") == 0  # owners are headquarters' to sign in
    assert signed_in("hq", "OWNER_SIGNED_IN") > 0
    assert signed_in("hq", "OWNER_CODE_SENT") == signed_in("hq", "OWNER_SIGNED_IN")

    # Every process it started is gone: the URLs it printed no longer answer.
    with pytest.raises(requests.ConnectionError):
        requests.get(summary["dashboard"].split("#")[0], timeout=2)
