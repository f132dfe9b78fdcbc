"""The workshop floor: jobs, technicians, clocking and the quality check.

A job exists only for an approved labour line. A technician works one job at a time (one open
clock), actual hours are what the clock says, flat-rate hours what was sold; the comparison
is the technician-efficiency KPI.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from workorder.domain.quote import GENERAL_SKILL, LineStatus


class JobStatus(StrEnum):
    PENDING = "PENDING"          # approved, nobody assigned yet
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"  # a technician's clock is running on it
    DONE = "DONE"


class CheckStage(StrEnum):
    SELF = "SELF"            # the technician's self-check (自检)
    INSPECTOR = "INSPECTOR"  # the QC inspector (终检)


@dataclass(frozen=True)
class Technician:
    id: str
    name: str
    skills: frozenset[str]
    load_hours: Decimal = Decimal(0)  # flat-rate hours of unfinished jobs assigned

    def qualified_for(self, skill: str) -> bool:
        return skill == GENERAL_SKILL or skill in self.skills


def suggest_technician(technicians: Iterable[Technician], skill: str) -> Technician | None:
    """The least-loaded technician qualified for `skill` (ties: by id, so it is stable)."""
    qualified = [t for t in technicians if t.qualified_for(skill)]
    if not qualified:
        return None
    return min(qualified, key=lambda t: (t.load_hours, t.id))


@dataclass(frozen=True)
class Assignment:
    technician_id: str
    overridden: bool  # not the technician the workshop suggested


def choose_technician(technicians: Iterable[Technician], skill: str, line_id: str,
                      named: str | None) -> Assignment:
    """Who does a job: the one named (an active technician here), else the suggestion; a job
    nobody is qualified for is refused (409) rather than given to someone unqualified."""
    technicians = list(technicians)
    suggested = suggest_technician(technicians, skill)
    if named is None:
        if suggested is None:
            raise Conflict(f"no active technician has the skill {skill} for job {line_id}",
                           skill=skill)
        named = suggested.id
    elif named not in {t.id for t in technicians}:
        raise InvalidInput("technician_id", f"{named} is not an active technician here")
    return Assignment(technician_id=named,
                      overridden=suggested is None or named != suggested.id)


def check_new_technician(known: Mapping[str, Any] | None, technician_id: str) -> None:
    if known is not None:
        raise Conflict(f"technician {technician_id} is already on the roster")


def check_on_roster(technician: Mapping[str, Any] | None, technician_id: str) -> None:
    """Only a technician on this site's active roster clocks on (403)."""
    if technician is None or not technician["active"]:
        raise Forbidden(f"{technician_id} is not on this site's technician roster")


def check_job(line: Mapping[str, Any] | None, job: Mapping[str, Any] | None,
              line_id: str) -> Mapping[str, Any]:
    """The job of an approved labour line; 404 for no such line, 409 for a line that is not
    (or not yet) approved: no work is planned or started on it."""
    if line is None:
        raise NotFound(f"no quote line {line_id} on this repair order")
    if line["kind"] != "LABOUR":
        raise Conflict(f"line {line_id} is a part line; jobs are labour lines")
    if line["status"] != LineStatus.APPROVED or job is None:
        raise Conflict(f"line {line_id} is {line['status']}, not approved by the owner: "
                       "no work may start on it (未经客户确认不得施工)",
                       line_status=line["status"])
    return job


def check_assignable(job: Mapping[str, Any], line_id: str) -> None:
    if job["status"] in (JobStatus.IN_PROGRESS, JobStatus.DONE):
        raise Conflict(f"job {line_id} is {job['status']}: reassign only a job not started",
                       job_status=job["status"])


def check_clock_on(*, line: Mapping[str, Any] | None, job: Mapping[str, Any] | None,
                   line_id: str, technician_id: str, open_clock: Mapping[str, Any] | None
                   ) -> None:
    """Refuse (409) to start work that is not approved, is someone else's, is done, or while
    the technician's clock already runs on another job."""
    job = check_job(line, job, line_id)
    if job["technician_id"] and job["technician_id"] != technician_id:
        raise Conflict(f"job {line_id} is assigned to technician {job['technician_id']}",
                       technician_id=job["technician_id"])
    if job["status"] == JobStatus.DONE:
        raise Conflict(f"job {line_id} is done; it reopens only when a quality check fails")
    if open_clock is not None:
        raise Conflict(
            f"technician {technician_id} is already clocked on "
            f"{open_clock['repair_order_id']} / {open_clock['line_id']}: clock off first",
            open_clock={"repair_order_id": open_clock["repair_order_id"],
                        "line_id": open_clock["line_id"]})


def clock_on_changes(job: Mapping[str, Any], technician_id: str, now: datetime
                     ) -> dict[str, Any]:
    """The job once its technician clocks on; an unassigned job is taken off the board by
    whoever clocks on it."""
    changes: dict[str, Any] = {"status": JobStatus.IN_PROGRESS.value}
    if job["technician_id"] is None:
        changes.update(technician_id=technician_id, assigned_by=technician_id, assigned_at=now)
    return changes


def running_here(open_clock: Mapping[str, Any] | None, repair_order_id: str
                 ) -> Mapping[str, Any] | None:
    """The technician's running clock if it runs on this repair order (a clock on another
    one is not clocked off from here)."""
    if open_clock is not None and open_clock["repair_order_id"] != repair_order_id:
        return None
    return open_clock


def clock_off_changes(completed: bool, now: datetime) -> dict[str, Any]:
    """The job once clocked off: done, or back to its technician's list."""
    return {"status": (JobStatus.DONE if completed else JobStatus.ASSIGNED).value,
            "completed_at": now if completed else None}


def check_clock_off(open_clock: Mapping[str, Any] | None, line_id: str,
                    technician_id: str) -> None:
    if open_clock is None or open_clock["line_id"] != line_id:
        raise Conflict(f"technician {technician_id} is not clocked on job {line_id}")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite drops the zone


def clocked_hours(entries: Iterable[Mapping[str, Any]], now: datetime) -> Decimal:
    """Hours clocked, to the hundredth; a running clock counts up to `now`."""
    seconds = Decimal(0)
    for entry in entries:
        end = entry.get("clocked_off_at") or now
        seconds += Decimal(str((_aware(end) - _aware(entry["clocked_on_at"])).total_seconds()))
    return (seconds / 3600).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def operations_done(jobs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The labour operation codes of the finished jobs, each once: the work the RO did (a
    line only quoted, or declined, has no job; a job not finished did not do it)."""
    return sorted({job["operation_code"] for job in jobs
                   if job["status"] == JobStatus.DONE and job.get("operation_code")})


def job_view(job: Mapping[str, Any], technicians: Iterable[Technician],
             entries: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """A job with the technician the workshop would suggest (while nobody is assigned) and the
    hours clocked on it so far."""
    suggested = None
    if job["status"] == JobStatus.PENDING:
        pick = suggest_technician(technicians, job["skill"])
        suggested = pick.id if pick else None
    return {**job, "suggested_technician_id": suggested,
            "clocked_hours": clocked_hours(
                [e for e in entries if e["line_id"] == job["line_id"]], now)}


def check_all_done(jobs: Iterable[Mapping[str, Any]]) -> None:
    unfinished = sorted(j["line_id"] for j in jobs if j["status"] != JobStatus.DONE)
    if unfinished:
        raise Conflict(f"{len(unfinished)} job(s) not finished: {', '.join(unfinished)}",
                       unfinished_jobs=unfinished)


def jobs_to_rework(all_jobs: Iterable[str], named: Iterable[str] | None) -> list[str]:
    """The jobs a failed check sends back: those named, or all of them."""
    all_jobs = sorted(all_jobs)
    if not named:
        return all_jobs
    named = list(dict.fromkeys(named))
    unknown = [line_id for line_id in named if line_id not in all_jobs]
    if unknown:
        raise InvalidInput("line_ids", f"not jobs of this repair order: {', '.join(unknown)}")
    return named


def quality_check(check_id: str, ro: Mapping[str, Any], stage: CheckStage, *, passed: bool,
                  reason: str | None, line_ids: list[str], checked_by: str,
                  checked_at: datetime) -> dict[str, Any]:
    """The record of a quality check; `line_ids` are the jobs it covers (sent back if failed)."""
    return {"check_id": check_id, "repair_order_id": ro["id"], "stage": stage.value,
            "passed": passed, "reason": reason, "rework_count": ro["rework_count"],
            "line_ids": line_ids, "checked_by": checked_by, "checked_at": checked_at}


def check_qc_reason(passed: bool, reason: str | None) -> None:
    if not passed and not (reason or "").strip():
        raise InvalidInput("reason", "say why the check failed: it goes back to the technician")
