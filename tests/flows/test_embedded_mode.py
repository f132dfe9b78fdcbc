"""Embedded mode: the same services, outbox and inbox in one process on kombu's in-memory
broker and SQLite, for a laptop with neither RabbitMQ nor PostgreSQL — headquarters and two
dealer sites, the links between them bridged in memory."""

from __future__ import annotations

import sqlalchemy as sa

from simulator import demo


def count(path, sql: str) -> int:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text(sql))
    finally:
        engine.dispose()


def test_the_demo_runs_embedded_and_headquarters_sees_every_site_event(tmp_path, capsys):
    summary = demo.run(dealers=2, days=1, once=True, force_embedded=True, workdir=tmp_path,
                       base_port=0, bookings_per_day=(3, 4))

    assert "embedded mode" in capsys.readouterr().out
    assert summary["mode"] == "embedded"
    bookings = sum(count(tmp_path / f"{d}_booking.sqlite", "SELECT count(*) FROM appointments")
                   for d in ("d001", "d002"))
    assert summary["site"]["bookings"] == bookings > 0
    delivered = sum(count(tmp_path / f"{d}_workorder.sqlite",
                          "SELECT count(*) FROM repair_orders WHERE stage = 'VEHICLE_DELIVERED'")
                    for d in ("d001", "d002"))
    assert summary["headquarters"]["kpis"]["ros_delivered"] == delivered > 0
    assert summary["headquarters"]["events_applied"] == count(
        tmp_path / "hq_bi.sqlite", "SELECT count(*) FROM event_log")
