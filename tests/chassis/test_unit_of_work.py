"""One transaction per entrypoint call, committed by the framework: a use case never commits.

A small service over the real PostgreSQL and RabbitMQ: what an HTTP call, an RPC call and a
timer wrote is stored once they return; what a call that raised wrote is not, events
included; a commit that fails is the answer (503, nothing stored), never a 200.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.timer import timer
from werkzeug.wrappers import Request, Response

import contracts
from chassis.db import Database, define_backbone_tables
from chassis.errors import Conflict
from chassis.http import PUBLIC, http, json_response
from chassis.outbox import Outbox
from chassis.rpc import rpc
from chassis.service import PlatformService
from chassis.testing import make_settings, rows, wait_for
from chassis.unit_of_work import FakeUnitOfWork, UnitOfWork, UnitOfWorkProvider
from contracts import ContractViolation, events

metadata = sa.MetaData()
define_backbone_tables(metadata)
notes = sa.Table("notes", metadata, sa.Column("id", sa.String(40), primary_key=True),
                 sa.Column("text", sa.Text, nullable=False))


class NoteBook:
    def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
        self.session = session

    def add(self, note_id: str, text: str) -> None:
        self.session.execute(notes.insert().values(id=note_id, text=text))


class NotesUnitOfWork(UnitOfWork):
    def __init__(self, session, events, **resources) -> None:  # type: ignore[no-untyped-def]
        super().__init__(session, events)
        self.notes = NoteBook(session)
        self.resources = resources


def write_note(uow: NotesUnitOfWork, note_id: str, text: str, *, fail: bool = False) -> None:
    """The use case: a row and an event, then perhaps a refusal."""
    uow.notes.add(note_id, text)
    uow.emit(events.AppointmentCancelled, _cancelled(note_id), subject=note_id,
             correlation_id=note_id)
    if fail:
        raise Conflict("refused after writing")


_EXAMPLE = json.loads((Path(contracts.__file__).parent
                       / events.AppointmentCancelled.example_file).read_text("utf-8"))


def _cancelled(appointment_id: str) -> dict:
    return {**_EXAMPLE["data"], "appointment_id": appointment_id}


TIMER_NOTE = f"timer-{uuid.uuid4().hex[:8]}"


class NotesService(PlatformService):
    name = "notes"
    db = Database(metadata)
    outbox = Outbox()
    uow = UnitOfWorkProvider(NotesUnitOfWork, resources=lambda settings: {"site": settings.site})

    @http("POST", "/notes/<string:note_id>", roles=PUBLIC)
    def post(self, request: Request, note_id: str) -> Response:
        write_note(self.uow, note_id, request.args.get("text", "brakes"),
                   fail="fail" in request.args)
        return json_response({"id": note_id, "site": self.uow.resources["site"]}, status=201)

    @http("POST", "/duplicate/<string:note_id>", roles=PUBLIC)
    def duplicate(self, request: Request, note_id: str) -> Response:
        # A deferred unique check is made at commit, after the entrypoint returned: the
        # framework's commit is what fails.
        self.uow.notes.add(note_id, "first")
        self.uow.session.execute(
            sa.text("CREATE TEMP TABLE IF NOT EXISTS must_fail (id int PRIMARY KEY "
                    "DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP"))
        self.uow.session.execute(sa.text("INSERT INTO must_fail VALUES (1), (1)"))
        return json_response({"id": note_id}, status=201)

    @rpc
    def remote_write(self, note_id: str, fail: bool = False) -> str:
        write_note(self.uow, note_id, "over rpc", fail=fail)
        return note_id

    @timer(interval=0.2)
    def tick(self) -> None:
        if not rows(self.settings.database_url, "SELECT 1 FROM notes WHERE id = :id",
                    id=TIMER_NOTE):
            write_note(self.uow, TIMER_NOTE, "from the timer")


@pytest.fixture
def notes_service(database, amqp_uri, services):  # type: ignore[no-untyped-def]
    url = database("notes", metadata=metadata)
    # Its events are booking's (a contract names its producer): it stands in for booking.
    settings = make_settings("booking", url, amqp_uri)
    services(NotesService, settings)
    return settings


def stored(settings, note_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(note rows, outbox rows) for a note."""
    return (len(rows(settings.database_url, "SELECT 1 FROM notes WHERE id = :id", id=note_id)),
            len(rows(settings.database_url, "SELECT 1 FROM outbox WHERE aggregate_id = :id",
                     id=note_id)))


@pytest.mark.integration
def test_an_http_call_is_committed_before_its_answer_leaves(notes_service):
    base = f"http://127.0.0.1:{notes_service.http_port}"
    answer = requests.post(f"{base}/notes/n-1", timeout=10)
    assert answer.status_code == 201
    assert answer.json() == {"id": "n-1", "site": "dealer/D001"}
    # No wait: by the time the answer arrived the row and its event were stored.
    assert stored(notes_service, "n-1") == (1, 1)


@pytest.mark.integration
def test_an_http_call_that_raised_stores_nothing_not_even_its_event(notes_service):
    base = f"http://127.0.0.1:{notes_service.http_port}"
    answer = requests.post(f"{base}/notes/n-2?fail=1", timeout=10)
    assert answer.status_code == 409
    assert stored(notes_service, "n-2") == (0, 0)


@pytest.mark.integration
def test_a_commit_that_fails_is_the_answer_and_nothing_is_stored(notes_service):
    base = f"http://127.0.0.1:{notes_service.http_port}"
    answer = requests.post(f"{base}/duplicate/n-3", timeout=10)
    assert answer.status_code == 500
    assert answer.json()["error"] == "INTERNAL"
    assert stored(notes_service, "n-3") == (0, 0)


@pytest.mark.integration
def test_an_rpc_call_is_committed_before_its_reply_and_rolled_back_when_it_raised(
        notes_service):
    config = {"AMQP_URI": notes_service.amqp_uri, "serializer": "json"}
    with ClusterRpcProxy(config, timeout=10) as cluster:
        assert cluster.notes.remote_write("n-4") == "n-4"
        assert stored(notes_service, "n-4") == (1, 1)
        with pytest.raises(Exception, match="Conflict"):
            cluster.notes.remote_write("n-5", fail=True)
    assert stored(notes_service, "n-5") == (0, 0)


@pytest.mark.integration
def test_a_timer_is_committed_when_its_worker_ends(notes_service):
    wait_for(lambda: stored(notes_service, TIMER_NOTE) == (1, 1), timeout=10)


def test_a_fake_unit_of_work_collects_events_checked_against_their_contract():
    uow = FakeUnitOfWork()
    uow.notes = type("Notes", (), {"add": lambda self, *a: None})()  # type: ignore[attr-defined]
    write_note(uow, "n-6", "text")  # type: ignore[arg-type]
    assert uow.events.types() == ["aftersales.AppointmentCancelled.v1"]
    assert uow.emitted[0]["sequence"] == 1 and uow.emitted[0]["subject"] == "n-6"
    with pytest.raises(ContractViolation):
        uow.emit(events.AppointmentCancelled, {"appointment_id": "x"}, subject="x",
                 correlation_id="x")
