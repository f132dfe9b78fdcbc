"""The workshop floor over HTTP: the roster, dispatch by skill and load, clocking, and the
quality check that sends work back."""

from __future__ import annotations

from services.workorder.tests.integration.site_client import OTHER_VIN


def _roster(site):
    site.add_technician("T-wang", ["BRAKES", "ENGINE"], "王师傅")
    site.add_technician("T-li", ["BRAKES"], "李师傅")
    site.add_technician("T-zhao", ["ELECTRICAL"], "赵师傅")


def test_the_dealer_manager_keeps_the_technician_roster(site):
    site.add_technician("T-wang", ["BRAKES", "ENGINE", "BRAKES"], "王师傅")
    twice = site.call("POST", "/technicians", role="dealer_manager",
                      json={"id": "T-wang", "name": "王师傅", "skills": []})
    assert twice.status_code == 409
    assert site.call("POST", "/technicians", json={"id": "T-x", "name": "x"}).status_code == 403
    bad = site.call("POST", "/technicians", role="dealer_manager",
                    json={"id": "T-y", "name": "y", "skills": ["brakes!"]})
    assert bad.status_code == 422 and "skills" in bad.json()["fields"]
    [wang] = site.ok("GET", "/technicians", role="technician")["items"]
    assert wang == {"id": "T-wang", "name": "王师傅", "skills": ["BRAKES", "ENGINE"],
                    "active": True, "load_hours": "0.00"}


def test_jobs_go_to_the_least_loaded_qualified_technician_unless_the_advisor_overrides(site):
    _roster(site)
    ro_id = site.ro_in_work()  # L1 oil change (general work), L3 brakes (BRAKES)
    jobs = {j["line_id"]: j for j in site.ok("GET", f"/repair-orders/{ro_id}/jobs")["items"]}
    assert jobs["L3"]["suggested_technician_id"] == "T-li"  # tie on load: stable by id
    assert jobs["L3"]["flat_rate_hours"] == "1.20" and jobs["L3"]["status"] == "PENDING"

    brakes = site.ok("POST", f"/repair-orders/{ro_id}/jobs/L3/assign")
    assert (brakes["technician_id"], brakes["assignment_overridden"]) == ("T-li", False)
    oil = site.ok("GET", f"/repair-orders/{ro_id}/jobs")["items"][0]
    assert oil["suggested_technician_id"] == "T-wang"  # T-li now carries 1.2 h
    overridden = site.ok("POST", f"/repair-orders/{ro_id}/jobs/L1/assign", role="dealer_manager",
                         json={"technician_id": "T-zhao"})
    assert (overridden["technician_id"], overridden["assignment_overridden"]) == ("T-zhao", True)
    loads = {t["id"]: t["load_hours"] for t in site.ok("GET", "/technicians")["items"]}
    assert loads == {"T-li": "1.20", "T-wang": "0.00", "T-zhao": "0.50"}

    unknown = site.call("POST", f"/repair-orders/{ro_id}/jobs/L1/assign",
                        json={"technician_id": "T-nobody"})
    assert unknown.status_code == 422 and "technician_id" in unknown.json()["fields"]
    assert site.call("POST", f"/repair-orders/{ro_id}/jobs/L1/assign",
                     role="technician").status_code == 403


def test_nobody_qualified_means_no_automatic_assignment(site):
    site.add_technician("T-zhao", ["ELECTRICAL"], "赵师傅")
    ro_id = site.ro_in_work()
    response = site.call("POST", f"/repair-orders/{ro_id}/jobs/L3/assign")
    assert response.status_code == 409 and response.json()["skill"] == "BRAKES"


def test_technicians_clock_on_and_off_with_one_open_clock_each(site):
    _roster(site)
    ro_id = site.ro_in_work()
    site.ok("POST", f"/repair-orders/{ro_id}/jobs/L1/assign", json={"technician_id": "T-zhao"})

    def clock(action, line_id, technician, ro=ro_id, **kwargs):
        return site.call("POST", f"/repair-orders/{ro}/jobs/{line_id}/{action}",
                         role="technician", subject=technician, **kwargs)

    assert clock("clock-on", "L3", "T-stranger").status_code == 403  # not on the roster
    started = clock("clock-on", "L3", "T-li")
    assert started.status_code == 200, started.text
    assert (started.json()["status"], started.json()["technician_id"]) == ("IN_PROGRESS", "T-li")
    assert clock("clock-on", "L1", "T-li").status_code == 409     # T-zhao's job
    assert clock("clock-on", "L3", "T-wang").status_code == 409   # T-li's job now

    other = site.open_ro(vin=OTHER_VIN, plate="沪C88888", customer_phone="13900000000")
    site.inspect(other["id"])
    site.quote(other["id"], {"kind": "LABOUR", "description": "检查刹车 (brake check)",
                             "operation_code": "BRK-CHK", "flat_rate_hours": "0.3",
                             "skill": "BRAKES", "pay_type": "INTERNAL"})
    assert site.decide(other["id"], {"L1": "APPROVED"},
                       who=site.as_owner(other["customer_id"])).status_code == 200
    second = clock("clock-on", "L1", "T-li", ro=other["id"])
    assert second.status_code == 409
    assert second.json()["open_clock"] == {"repair_order_id": ro_id, "line_id": "L3"}

    assert clock("clock-off", "L1", "T-li").status_code == 409    # not clocked on L1
    paused = clock("clock-off", "L3", "T-li")                     # a break: not finished
    assert paused.json()["status"] == "ASSIGNED"
    assert clock("clock-on", "L1", "T-li", ro=other["id"]).status_code == 200
    assert clock("clock-off", "L1", "T-li", ro=other["id"], json={"completed": True}).json()[
        "status"] == "DONE"
    assert clock("clock-on", "L1", "T-li", ro=other["id"]).status_code == 409  # done is done

    clock("clock-on", "L3", "T-li")
    done = clock("clock-off", "L3", "T-li", json={"completed": True}).json()
    assert done["status"] == "DONE"
    assert float(done["clocked_hours"]) >= 0
    entries = site.query("SELECT count(*) AS n FROM clock_entries WHERE line_id = 'L3' "
                         "AND repair_order_id = :ro AND clocked_off_at IS NOT NULL", ro=ro_id)
    assert entries[0]["n"] == 2


def test_a_failed_inspector_check_sends_the_work_back_and_a_later_pass_settles(site):
    site.add_technician("T-wang", ["BRAKES"])
    ro_id = site.ro_in_work()
    site.clock(ro_id, "L1", "T-wang")
    site.clock(ro_id, "L3", "T-wang", completed=False)

    early = site.call("POST", f"/repair-orders/{ro_id}/self-check", role="technician",
                      subject="T-wang", json={"passed": True})
    assert early.status_code == 409 and early.json()["unfinished_jobs"] == ["L3"]
    assert site.call("POST", f"/repair-orders/{ro_id}/inspector-check", role="qc_inspector",
                     json={"passed": True}).status_code == 409  # not handed to QC yet
    site.clock(ro_id, "L3", "T-wang")
    assert site.call("POST", f"/repair-orders/{ro_id}/self-check", role="qc_inspector",
                     json={"passed": True}).status_code == 403
    self_check = site.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
                         subject="T-wang", json={"passed": True})
    assert self_check["repair_order_stage"] == "QUALITY_ASSURANCE"

    no_reason = site.call("POST", f"/repair-orders/{ro_id}/inspector-check",
                          role="qc_inspector", json={"passed": False})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["fields"]
    failed = site.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201, role="qc_inspector",
                     subject="QC-005", json={"passed": False, "line_ids": ["L3"],
                                             "reason": "路试制动仍有轻微异响，需重新清洁刹车卡钳"})
    assert (failed["repair_order_stage"], failed["rework_count"]) == ("WORK_IN_PROGRESS", 0)
    ro = site.ok("GET", f"/repair-orders/{ro_id}")
    assert ro["rework_count"] == 1
    jobs = {j["line_id"]: j for j in site.ok("GET", f"/repair-orders/{ro_id}/jobs")["items"]}
    assert (jobs["L3"]["status"], jobs["L3"]["rework_count"]) == ("ASSIGNED", 1)
    assert (jobs["L1"]["status"], jobs["L1"]["rework_count"]) == ("DONE", 0)

    site.clock(ro_id, "L3", "T-wang")  # the rework
    site.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
            subject="T-wang", json={"passed": True})
    passed = site.ok("POST", f"/repair-orders/{ro_id}/inspector-check", 201,
                     role="qc_inspector", subject="QC-005", json={"passed": True})
    assert (passed["repair_order_stage"], passed["rework_count"]) == ("INVOICE", 1)

    checks = [e["data"] for e in site.events("QualityCheckCompleted")]
    assert [(c["stage"], c["passed"], c["rework_count"]) for c in checks] == [
        ("SELF", True, 0), ("INSPECTOR", False, 0), ("SELF", True, 1), ("INSPECTOR", True, 1)]
    assert checks[1]["line_ids"] == ["L3"] and "卡钳" in checks[1]["reason"]
    assert checks[3]["line_ids"] == ["L1", "L3"] and checks[3]["checked_by"] == "QC-005"


def test_a_failed_self_check_keeps_the_car_in_the_workshop(site):
    site.add_technician("T-wang", ["BRAKES"])
    ro_id = site.ro_in_work()
    site.clock(ro_id, "L1", "T-wang")
    site.clock(ro_id, "L3", "T-wang")
    check = site.ok("POST", f"/repair-orders/{ro_id}/self-check", 201, role="technician",
                    subject="T-wang", json={"passed": False, "reason": "机油液位偏低",
                                            "line_ids": ["L1"]})
    assert check["repair_order_stage"] == "WORK_IN_PROGRESS"
    jobs = {j["line_id"]: j["status"] for j in
            site.ok("GET", f"/repair-orders/{ro_id}/jobs")["items"]}
    assert jobs == {"L1": "ASSIGNED", "L3": "DONE"}
    assert site.ok("GET", f"/repair-orders/{ro_id}")["rework_count"] == 0
