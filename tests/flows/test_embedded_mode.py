"""Embedded mode: the same services, outbox and inbox in one process on kombu's in-memory
broker and SQLite, for a laptop with neither RabbitMQ nor PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from simulator import demo


def test_the_demo_slice_runs_embedded_and_every_booking_reaches_its_workshop(tmp_path, capsys):
    summary = demo.run(dealers=2, bookings=5, once=True, force_embedded=True,
                       workdir=tmp_path, base_port=0)

    assert "embedded mode" in capsys.readouterr().out
    assert summary["mode"] == "embedded"
    assert summary["bookings_accepted"] == 10
    assert summary["appointments_stored"] == 10
    assert summary["events_published"] == 10
    assert summary["expected_arrivals_recorded"] == 10
    for dealer in ("d001", "d002"):
        engine = sa.create_engine(f"sqlite:///{tmp_path / f'{dealer}_workorder.sqlite'}")
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM inbox")) == 5
        engine.dispose()
