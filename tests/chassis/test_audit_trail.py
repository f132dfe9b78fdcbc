"""`uow.audit(...)` writes its row in the transaction of the action it records: on the real
PostgreSQL, an action and its audit row are stored together or not at all, with who called
(as their token proved it) and from where.

A small service stands in for a real one: a discount at the service desk, audited, and then
perhaps refused after the audit row was written.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa
from nameko.standalone.rpc import ClusterRpcProxy
from werkzeug.wrappers import Request, Response

from chassis.audit import define_audit_log
from chassis.db import Database, define_backbone_tables
from chassis.errors import Conflict
from chassis.http import http, identity_of, json_response
from chassis.identity import Identity, Role
from chassis.rpc import rpc
from chassis.service import PlatformService
from chassis.testing import HQ_ISSUER, auth, make_settings, rows
from chassis.unit_of_work import FakeUnitOfWork, UnitOfWork, UnitOfWorkProvider

metadata = sa.MetaData()
define_backbone_tables(metadata)
define_audit_log(metadata)
discounts = sa.Table("discounts", metadata, sa.Column("id", sa.String(40), primary_key=True),
                     sa.Column("amount", sa.Numeric(12, 2), nullable=False))


class Discounts:
    def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
        self.session = session

    def add(self, ro_id: str, amount: Decimal) -> None:
        self.session.execute(discounts.insert().values(id=ro_id, amount=amount))


class DeskUnitOfWork(UnitOfWork):
    def __init__(self, session, events) -> None:  # type: ignore[no-untyped-def]
        super().__init__(session, events)
        self.discounts = Discounts(session)


def give_discount(uow: DeskUnitOfWork, *, actor: Identity, ro_id: str, amount: Decimal,
                  refuse: bool = False) -> None:
    """The use case: the discount, its audit row, and then perhaps a refusal."""
    uow.discounts.add(ro_id, amount)
    uow.audit("INVOICE_DISCOUNTED", actor=actor, subject=ro_id, detail={"discount": amount})
    if refuse:
        raise Conflict("refused after the audit row was written")


class DeskService(PlatformService):
    name = "desk"
    db = Database(metadata)
    uow = UnitOfWorkProvider(DeskUnitOfWork)

    @http("POST", "/discounts/<string:ro_id>", roles={Role.ADVISOR})
    def discount(self, request: Request, ro_id: str) -> Response:
        give_discount(self.uow, actor=identity_of(request), ro_id=ro_id,
                      amount=Decimal(request.args.get("amount", "50.00")),
                      refuse="refuse" in request.args)
        return json_response({"id": ro_id}, status=201)

    @rpc
    def remote_discount(self, ro_id: str) -> str:
        give_discount(self.uow, actor=Identity("SA-9", Role.ADVISOR, "D001"), ro_id=ro_id,
                      amount=Decimal("10.00"))
        return ro_id


@pytest.fixture
def desk(database, amqp_uri, services):  # type: ignore[no-untyped-def]
    settings = make_settings("desk", database("desk", metadata=metadata), amqp_uri)
    services(DeskService, settings)
    return settings


def stored(settings, ro_id: str) -> tuple[int, list]:  # type: ignore[no-untyped-def]
    """(discount rows, audit rows) of a repair order."""
    return (len(rows(settings.database_url, "SELECT 1 FROM discounts WHERE id = :id", id=ro_id)),
            rows(settings.database_url, "SELECT * FROM audit_log WHERE subject = :id", id=ro_id))


@pytest.mark.integration
def test_an_audited_action_is_stored_with_its_audit_row_who_and_from_where(desk):
    answer = requests.post(f"http://127.0.0.1:{desk.http_port}/discounts/RO-1?amount=120.00",
                           headers=auth("advisor", subject="SA-017"), timeout=10)
    assert answer.status_code == 201, answer.text

    count, [row] = stored(desk, "RO-1")
    assert count == 1
    assert (row.service, row.action, row.subject) == ("desk", "INVOICE_DISCOUNTED", "RO-1")
    assert (row.actor_subject, row.actor_role, row.actor_dealer_code, row.actor_issuer) == (
        "SA-017", "advisor", "D001", HQ_ISSUER)
    assert row.detail == {"discount": "120.00"}
    assert row.client_address == "127.0.0.1"
    assert row.at is not None and row.at.tzinfo is not None


@pytest.mark.integration
def test_an_action_refused_after_its_audit_row_was_written_leaves_neither(desk):
    answer = requests.post(f"http://127.0.0.1:{desk.http_port}/discounts/RO-2?refuse=1",
                           headers=auth("advisor", subject="SA-017"), timeout=10)
    assert answer.status_code == 409
    assert stored(desk, "RO-2") == (0, [])


@pytest.mark.integration
def test_an_rpc_call_is_audited_without_a_client_address(desk):
    config = {"AMQP_URI": desk.amqp_uri, "serializer": "json"}
    with ClusterRpcProxy(config, timeout=10) as cluster:
        assert cluster.desk.remote_discount("RO-3") == "RO-3"
    count, [row] = stored(desk, "RO-3")
    assert (count, row.actor_subject, row.client_address) == (1, "SA-9", None)


@pytest.mark.unit
def test_a_unit_of_work_whose_service_keeps_no_audit_log_refuses_to_audit():
    uow = UnitOfWork(None, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="no audit_log table"):
        uow.audit("INVOICE_DISCOUNTED", actor=Identity("SA-1", Role.ADVISOR, "D001"),
                  subject="RO-4", detail={})


@pytest.mark.unit
def test_a_fake_unit_of_work_keeps_audit_rows_as_the_database_would():
    uow = FakeUnitOfWork()
    uow.audit("INVOICE_DISCOUNTED", actor=Identity("SA-1", Role.ADVISOR, "D001", "iss"),
              subject="RO-5", detail={"discount": Decimal("5.50"), "lines": {"L2", "L1"}})
    [entry] = uow.audited
    assert entry["detail"] == {"discount": "5.50", "lines": ["L1", "L2"]}
    assert (entry["actor_subject"], entry["actor_role"], entry["actor_issuer"]) == (
        "SA-1", "advisor", "iss")
    assert uow.audits.actions() == ["INVOICE_DISCOUNTED"]
    with pytest.raises(ValueError, match="audit subject"):
        uow.audit("X", actor=Identity("SA-1", Role.ADVISOR, "D001"), subject="", detail={})
    with pytest.raises(TypeError, match="not kept in an audit detail"):
        uow.audit("X", actor=Identity("SA-1", Role.ADVISOR, "D001"), subject="RO-5",
                  detail={"what": object()})

