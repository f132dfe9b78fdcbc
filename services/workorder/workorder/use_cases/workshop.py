"""The workshop floor: technicians, jobs assigned and clocked, the quality checks (自检, 终检)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chassis.identity import Identity
from contracts import events
from workorder.domain import published, workshop
from workorder.domain.stages import WORKING_STAGES, Action, Stage, advance, require_in
from workorder.domain.workshop import CheckStage, JobStatus
from workorder.use_cases.views import Row, announce, job_views, one_job_view, repair_order

if TYPE_CHECKING:
    from workorder.store import WorkorderUnitOfWork


def add_technician(uow: WorkorderUnitOfWork, *, technician_id: str, name: str,
                   skills: Iterable[str], now: datetime) -> dict[str, Any]:
    """Put a technician on the site's roster, with their skills."""
    workshop.check_new_technician(uow.workshop.technician(technician_id), technician_id)
    skills = sorted(set(skills))
    uow.workshop.add_technician(technician_id=technician_id, name=name, skills=skills, at=now)
    return {"id": technician_id, "name": name, "skills": skills, "active": True,
            "load_hours": Decimal("0.00")}


def list_technicians(uow: WorkorderUnitOfWork) -> dict[str, Any]:
    """The active technicians with their load (flat-rate hours of unfinished jobs)."""
    return {"items": [{"id": t.id, "name": t.name, "skills": sorted(t.skills), "active": True,
                       "load_hours": t.load_hours} for t in uow.workshop.technicians_with_load()]}


def list_jobs(uow: WorkorderUnitOfWork, *, viewer: Identity, ro_id: str, now: datetime
              ) -> dict[str, Any]:
    ro = repair_order(uow, viewer, ro_id)
    return {"repair_order_id": ro_id, "items": job_views(uow, ro, now=now)}


def assign_job(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, line_id: str,
               technician_id: str | None, now: datetime) -> dict[str, Any]:
    """Give an approved job to the least-loaded qualified technician, or the one named."""
    ro = repair_order(uow, actor, ro_id, for_update=True)
    line = uow.quotes.line(ro_id, line_id)
    job = workshop.check_job(line, uow.workshop.job(ro_id, line_id), line_id)
    require_in(ro["stage"], WORKING_STAGES, "assigning jobs", work_approved=ro["work_approved"])
    workshop.check_assignable(job, line_id)
    assert line is not None  # check_job refused a missing line
    chosen = workshop.choose_technician(uow.workshop.technicians_with_load(), line["skill"],
                                        line_id, technician_id)
    uow.workshop.update_job(ro_id, line_id, technician_id=chosen.technician_id,
                            status=JobStatus.ASSIGNED.value, assigned_by=actor.subject,
                            assigned_at=now, assignment_overridden=chosen.overridden)
    return one_job_view(uow, ro, line_id, now=now)


def clock_on(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, line_id: str,
             now: datetime) -> dict[str, Any]:
    """A technician on the roster starts the clock on an approved job (one clock at a time)."""
    technician_id = actor.subject
    ro = repair_order(uow, actor, ro_id, for_update=True)
    workshop.check_on_roster(uow.workshop.technician(technician_id), technician_id)
    job = uow.workshop.job(ro_id, line_id)
    workshop.check_clock_on(line=uow.quotes.line(ro_id, line_id), job=job, line_id=line_id,
                            technician_id=technician_id,
                            open_clock=uow.workshop.open_clock(technician_id))
    require_in(ro["stage"], WORKING_STAGES, "clocking on", work_approved=ro["work_approved"])
    assert job is not None  # check_clock_on refused a line without a job
    uow.workshop.update_job(ro_id, line_id, **workshop.clock_on_changes(job, technician_id, now))
    uow.workshop.clock_on(ro_id=ro_id, line_id=line_id, technician_id=technician_id, at=now)
    return one_job_view(uow, ro, line_id, now=now)


def clock_off(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str, line_id: str,
              completed: bool, now: datetime) -> dict[str, Any]:
    """Stop the technician's clock on the job; `completed` marks the job done."""
    technician_id = actor.subject
    ro = repair_order(uow, actor, ro_id, for_update=True)
    running = workshop.running_here(uow.workshop.open_clock(technician_id), ro_id)
    workshop.check_clock_off(running, line_id, technician_id)
    assert running is not None
    uow.workshop.clock_off(running["id"], at=now)
    uow.workshop.update_job(ro_id, line_id, **workshop.clock_off_changes(completed, now))
    return one_job_view(uow, ro, line_id, now=now)


def self_check(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
               check: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The technician's self-check (自检): passed with every job done, the car goes to the QC
    inspector; failed, the jobs named (or all) go back to work."""
    workshop.check_qc_reason(check["passed"], check.get("reason"))
    ro = repair_order(uow, actor, ro_id, for_update=True)
    require_in(ro["stage"], {Stage.WORK_IN_PROGRESS}, "the self-check",
               work_approved=ro["work_approved"])
    who = actor.subject
    if check["passed"]:
        to = advance(ro["stage"], Action.FINISH_WORK, work_approved=True)
        workshop.check_all_done(uow.workshop.jobs(ro_id))
    recorded = _record_check(uow, ro, CheckStage.SELF, check, who, now)
    if check["passed"]:
        uow.repair_orders.set_stage(ro, to, action=Action.FINISH_WORK, actor=who, at=now)
    return {**recorded, "repair_order_stage": uow.repair_orders.get(ro_id)["stage"]}


def inspector_check(uow: WorkorderUnitOfWork, *, actor: Identity, ro_id: str,
                    check: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The QC inspector's check (终检): passed, to settlement; failed, back to work (rework,
    counted on the repair order and on each job sent back)."""
    workshop.check_qc_reason(check["passed"], check.get("reason"))
    ro = repair_order(uow, actor, ro_id, for_update=True)
    action = Action.PASS_QUALITY_CHECK if check["passed"] else Action.FAIL_QUALITY_CHECK
    to = advance(ro["stage"], action, work_approved=ro["work_approved"])
    who = actor.subject
    recorded = _record_check(uow, ro, CheckStage.INSPECTOR, check, who, now)
    changes = {} if check["passed"] else {"rework_count": ro["rework_count"] + 1}
    uow.repair_orders.set_stage(ro, to, action=action, actor=who, at=now, **changes)
    return {**recorded, "repair_order_stage": to.value}


def _record_check(uow: WorkorderUnitOfWork, ro: Row, stage: CheckStage,
                  check: Mapping[str, Any], who: str, now: datetime) -> dict[str, Any]:
    """Keep the check, send failed jobs back, announce it (QualityCheckCompleted)."""
    job_ids = [job["line_id"] for job in uow.workshop.jobs(ro["id"])]
    covered = workshop.jobs_to_rework(job_ids, check.get("line_ids"))
    recorded = workshop.quality_check(uow.workshop.next_check_id(ro["id"]), ro, stage,
                                      passed=check["passed"], reason=check.get("reason"),
                                      line_ids=covered, checked_by=who, checked_at=now)
    uow.workshop.add_check(recorded)
    if not check["passed"] and covered:
        uow.workshop.reopen_jobs(ro["id"], covered, rework=stage is CheckStage.INSPECTOR)
    announce(uow, events.QualityCheckCompleted, published.quality_check_completed(recorded),
             ro["id"])
    return recorded
