"""The import graph keeps the platform's shape: an acyclic chassis that names no service,
services that do not import each other, pure domain and service-layer modules, and
entrypoint modules that stay thin (no commit, under 400 lines).

Read from the source (`tests/architecture/import_graph.py`); imports inside functions count.
Each failure lists every offender with the import chain and the line that makes it.
"""

from __future__ import annotations

import pytest

from tests.architecture.import_graph import (
    FRAMEWORKS,
    SERVICE_FILE_LIMIT,
    ImportGraph,
    chassis_cycles,
    chassis_naming_services,
    commits,
    framework_reached,
    is_domain,
    is_use_case,
    project_graph,
    report,
    service_names,
    services_importing_services,
    too_long,
)

pytestmark = pytest.mark.unit

SERVICES = service_names()
# Modules the domain may import from chassis: they must stay as pure as the domain itself.
PURE_CHASSIS = ("chassis.errors", "chassis.identity")
# Leaves every other chassis module may import: they import nothing from chassis.
LEAVES = ("chassis.broker_names", "chassis.registry", "chassis.errors")


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return project_graph()


def test_the_graph_holds_every_service_and_their_layers(graph):
    assert {"booking", "workorder", "parts", "crm", "notify", "bi"} <= set(SERVICES)
    assert {"chassis.broker", "chassis.consumer", "contracts.vin"} <= set(graph.modules)
    assert [m for m in graph.modules if is_domain(m, SERVICES)], "no domain module found"


def test_chassis_has_no_import_cycle(graph):
    cycles = chassis_cycles(graph)
    assert not cycles, report("import cycles inside chassis", cycles)


def test_chassis_imports_no_service(graph):
    found = chassis_naming_services(graph, SERVICES)
    assert not found, report("chassis modules importing a service package", found)


def test_the_leaf_modules_import_nothing_from_chassis(graph):
    found = [f"{leaf} imports {', '.join(sorted(graph.internal[leaf]))}" for leaf in LEAVES
             if any(m.split(".")[0] == "chassis" for m in graph.internal[leaf])]
    assert not found, report("chassis leaf modules importing chassis", found)


def test_no_service_imports_another_service(graph):
    found = services_importing_services(graph, SERVICES)
    assert not found, report("service modules importing another service", found)


def test_domain_modules_import_no_framework(graph):
    domain = [m for m in graph.modules if is_domain(m, SERVICES)]
    found = framework_reached(graph, domain)
    assert not found, report(
        f"domain modules reaching {', '.join(sorted(FRAMEWORKS))}", found)


def test_service_layer_modules_import_no_framework(graph):
    use_cases = [m for m in graph.modules if is_use_case(m, SERVICES)]
    found = framework_reached(graph, use_cases, FRAMEWORKS - {"marshmallow"})
    assert not found, report(
        f"service-layer (use case) modules reaching {', '.join(sorted(FRAMEWORKS))}", found)


def test_service_layer_modules_reach_marshmallow_only_through_the_contracts(graph):
    # A use case emits events, and `contracts.events` validates them with marshmallow: that is
    # the contract's business, not the use case's. Through any other module (its own schemas,
    # chassis.http) marshmallow would mean the service layer parses requests itself.
    use_cases = [m for m in graph.modules if is_use_case(m, SERVICES)]
    found = framework_reached(graph, use_cases, frozenset({"marshmallow"}),
                              through=lambda m: m.split(".")[0] != "contracts")
    assert not found, report("service-layer modules reaching marshmallow (not through "
                             "contracts)", found)


def test_the_chassis_modules_a_domain_may_import_stay_pure(graph):
    found = framework_reached(graph, PURE_CHASSIS)
    assert not found, report("chassis.errors / chassis.identity reaching a framework", found)


def test_no_commit_in_service_or_use_case_modules(graph):
    modules = [m for m in graph.modules
               if _is_service_module(m) or is_use_case(m, SERVICES)]
    found = commits(graph, modules)
    assert not found, report("commit() calls in entrypoint or use-case modules (the framework "
                             "commits)", found)


def test_each_service_module_is_under_the_line_limit(graph):
    found = too_long(graph, [m for m in graph.modules if _is_service_module(m)])
    assert not found, report(f"service.py files of {SERVICE_FILE_LIMIT} lines or more", found)


def _is_service_module(name: str) -> bool:
    parts = name.split(".")
    return len(parts) == 2 and parts[0] in SERVICES and parts[1] == "service"
