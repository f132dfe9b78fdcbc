"""`aftersales audit list <service>` reads a service's audit log on the real PostgreSQL: newest
first, filtered by time and action, one line a row or JSON; and the table its migrations make
is the one `chassis.audit` describes, append-only.

Parts stands in for any service that keeps the chassis' audit log (its real migrations).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from chassis.audit import audit_entry, define_audit_log
from chassis.cli import main as aftersales
from chassis.identity import Identity, Role
from chassis.testing import service_database, trust_setting
from parts.service import PartsService

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
CLERK = Identity("PC-003", Role.PARTS_CLERK, "D001", issuer="https://id.d001.test")
MANAGER = Identity("M-001", Role.DEALER_MANAGER, "D001")


@pytest.fixture
def parts_db(database, monkeypatch) -> str:
    url = service_database(database, PartsService)
    monkeypatch.setenv("AFTERSALES_DEALER_CODE", "D001")
    monkeypatch.setenv("AFTERSALES_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/unused")
    monkeypatch.setenv("AFTERSALES_DATABASE_URL", url)
    monkeypatch.setenv("AFTERSALES_TRUST", json.dumps(trust_setting("site", "D001")))
    table = define_audit_log(sa.MetaData())
    entries = [
        ("STOCK_ADJUSTED", CLERK, "06L115562B", {"on_hand_before": "10", "on_hand_after": "8"},
         "10.0.0.5", T0),
        ("PARTS_RETURNED", CLERK, "RO-D001-20261201-0001", {"quantity": "1"}, None,
         T0 + timedelta(hours=1)),
        ("STOCK_ADJUSTED", MANAGER, "5QD698151B", {"on_hand_before": "3", "on_hand_after": "4"},
         None, T0 + timedelta(days=1)),
    ]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(table.insert(), [
            audit_entry(service="parts", action=action, actor=actor, subject=subject,
                        detail=detail, client_address=address, at=at)
            for action, actor, subject, detail, address, at in entries])
    engine.dispose()
    return url


def listed(capsys, *arguments: str) -> list[dict]:
    assert aftersales(["audit", "list", "parts", "--json", *arguments]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_the_audit_log_is_listed_newest_first_with_who_did_what(parts_db, capsys):
    rows = listed(capsys)
    assert [(r["action"], r["subject"]) for r in rows] == [
        ("STOCK_ADJUSTED", "5QD698151B"), ("PARTS_RETURNED", "RO-D001-20261201-0001"),
        ("STOCK_ADJUSTED", "06L115562B")]
    oldest = rows[-1]
    assert oldest["actor"] == {"subject": "PC-003", "role": "parts_clerk", "dealer_code": "D001",
                               "issuer": "https://id.d001.test"}
    assert (oldest["service"], oldest["client_address"], oldest["at"]) == (
        "parts", "10.0.0.5", T0.isoformat())
    assert oldest["detail"] == {"on_hand_before": "10", "on_hand_after": "8"}


def test_the_audit_log_is_filtered_by_time_action_and_count(parts_db, capsys):
    assert [r["subject"] for r in listed(capsys, "--action", "STOCK_ADJUSTED")] == [
        "5QD698151B", "06L115562B"]
    # A time without an offset is UTC: 01:30 UTC leaves out the 01:00 adjustment.
    assert [r["action"] for r in listed(capsys, "--since", "2026-12-01T01:30")] == [
        "STOCK_ADJUSTED", "PARTS_RETURNED"]
    assert [r["action"] for r in listed(capsys, "--since", "2026-12-01T09:30+08:00",
                                        "--action", "STOCK_ADJUSTED")] == ["STOCK_ADJUSTED"]
    assert [r["subject"] for r in listed(capsys, "--limit", "1")] == ["5QD698151B"]


def test_without_json_each_entry_is_one_line(parts_db, capsys):
    assert aftersales(["audit", "list", "parts", "--action", "PARTS_RETURNED"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line == ("2026-12-01T02:00:00+00:00  PARTS_RETURNED  RO-D001-20261201-0001  "
                    'by PC-003 (parts_clerk, D001, https://id.d001.test)  {"quantity":"1"}')


def test_nothing_found_says_so_and_bad_arguments_are_refused(parts_db, capsys):
    assert aftersales(["audit", "list", "parts", "--action", "NO_SUCH_ACTION"]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err.strip()) == ("", "parts: no audit entries")
    for bad in (["--since", "yesterday"], ["--limit", "0"], ["--limit", "x"]):
        with pytest.raises(SystemExit) as refused:
            aftersales(["audit", "list", "parts", *bad])
        assert refused.value.code == 2
    capsys.readouterr()


def test_a_service_that_keeps_no_audit_log_is_named(parts_db, capsys):
    assert aftersales(["audit", "list", "booking"]) == 1
    assert "booking keeps no audit log" in capsys.readouterr().err


def test_the_migrated_table_is_the_one_the_chassis_describes_and_append_only(parts_db):
    engine = sa.create_engine(parts_db)
    try:
        found = {c["name"]: c["nullable"] for c in sa.inspect(engine).get_columns("audit_log")}
        assert found == {c.name: c.nullable for c in define_audit_log(sa.MetaData()).columns}
        for statement in ("UPDATE audit_log SET action = 'NOTHING'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log"):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(sa.text(statement))
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM audit_log")) == 3
    finally:
        engine.dispose()
