"""The import-graph checker itself, on small made-up module trees: it must really fail on a
cycle (also one closed by an import inside a function), on chassis naming a service, on a
service importing another, on a framework reached through chassis, on a commit and on a long
file — and stay quiet on the shapes the platform allows."""

from __future__ import annotations

import pytest

from tests.architecture.import_graph import (
    ImportGraph,
    chassis_cycles,
    chassis_naming_services,
    commits,
    framework_reached,
    is_domain,
    is_use_case,
    services_importing_services,
    too_long,
)

pytestmark = pytest.mark.unit

SERVICES = ("booking", "crm")


def tree(files: dict[str, str]) -> ImportGraph:
    """`tree({"chassis/broker": "import kombu"})`: paths without `.py`; every package gets an
    empty `__init__.py` unless one is given."""
    sources = {f"{name}.py": text for name, text in files.items()}
    for path in list(sources):
        parts = path.split("/")[:-1]
        for end in range(1, len(parts) + 1):
            sources.setdefault("/".join([*parts[:end], "__init__.py"]), "")
    return ImportGraph.from_files(sources, roots={"chassis", "contracts", *SERVICES})


def test_a_cycle_closed_inside_a_function_is_found():
    graph = tree({"chassis/broker": "import kombu\nfrom chassis import embedded\n",
                  "chassis/embedded": "def start():\n    from chassis.broker import connect\n"})
    assert chassis_cycles(graph) == ["chassis.broker → chassis.embedded → chassis.broker"]


def test_a_longer_cycle_is_shown_whole_and_once():
    graph = tree({"chassis/broker": "from chassis.embedded import register\n",
                  "chassis/embedded": "def f():\n    import chassis.uplink\n",
                  "chassis/uplink": "from chassis.broker_admin import BrokerAdmin\n",
                  "chassis/broker_admin": "from . import broker\n",
                  "chassis/consumer": "from chassis import metrics\n",
                  "chassis/metrics": "class K:\n    def kind(self):\n"
                                     "        from .consumer import EventEntrypoint\n"})
    assert chassis_cycles(graph) == [
        "chassis.broker → chassis.embedded → chassis.uplink → chassis.broker_admin → "
        "chassis.broker",
        "chassis.consumer → chassis.metrics → chassis.consumer"]


def test_an_acyclic_chassis_passes_and_type_checking_imports_do_not_count():
    graph = tree({"chassis/broker_names": "PREFIX = 'x'\n",
                  "chassis/broker": "from chassis.broker_names import PREFIX\n",
                  "chassis/embedded": "from chassis import broker, broker_names\n",
                  "chassis/config": "from typing import TYPE_CHECKING\n"
                                    "if TYPE_CHECKING:\n    from chassis.embedded import X\n",
                  "chassis/runner": "import chassis.config\n"
                                    "def make():\n    from chassis import embedded\n"})
    assert chassis_cycles(graph) == []


def test_chassis_importing_a_service_is_found_directly_and_through_a_module():
    graph = tree({"chassis/cli": "def ops():\n    from booking.rebuild import main\n",
                  "chassis/config": "from contracts import names\n",
                  "contracts/names": "import crm.service\n",
                  "booking/rebuild": "", "crm/service": ""})
    found = chassis_naming_services(graph, SERVICES)
    assert found == [
        "chassis.cli (chassis/cli.py:2) → booking.rebuild",
        "chassis.config (chassis/config.py:1) → contracts.names (contracts/names.py:1) → "
        "crm.service"]


def test_discovering_services_through_entry_points_is_not_importing_them():
    graph = tree({"chassis/registry": "from importlib.metadata import entry_points\n"
                                      "def load():\n    return [ep.load() for ep in "
                                      "entry_points(group='aftersales.services')]\n"})
    assert chassis_naming_services(graph, SERVICES) == []


def test_a_service_importing_another_is_found_but_its_own_modules_and_chassis_are_fine():
    graph = tree({"crm/service": "from booking.domain import normal_plate\n"
                                 "from crm import store\nfrom chassis.http import http\n",
                  "crm/store": "", "booking/domain": "", "chassis/http": ""})
    assert services_importing_services(graph, SERVICES) == [
        "crm.service (crm/service.py:1) → booking.domain"]


def test_a_framework_reached_through_chassis_is_found_with_its_chain():
    graph = tree({"booking/domain": "from chassis.http import json_response\n",
                  "chassis/http": "import json\nfrom werkzeug.wrappers import Response\n"})
    assert framework_reached(graph, ["booking.domain"]) == [
        "booking.domain (booking/domain.py:1) → chassis.http (chassis/http.py:2) → werkzeug"]


def test_a_framework_imported_inside_a_function_or_by_a_package_init_is_found():
    graph = tree({"booking/domain/rules": "def f():\n    import sqlalchemy.orm\n",
                  "crm/domain/scoring": "from contracts.vin import check_digit\n",
                  "contracts/__init__": "from .api import validate\n",
                  "contracts/api": "from marshmallow import Schema\n", "contracts/vin": ""})
    assert framework_reached(graph, ["booking.domain.rules", "crm.domain.scoring"]) == [
        "booking.domain.rules (booking/domain/rules.py:2) → sqlalchemy",
        "crm.domain.scoring (crm/domain/scoring.py:1) → contracts (contracts/__init__.py:1) → "
        "contracts.api (contracts/api.py:1) → marshmallow"]


def test_a_pure_domain_passes():
    graph = tree({"booking/domain": "import re\nfrom chassis.errors import NotFound\n"
                                    "from chassis.identity import Identity\n",
                  "chassis/errors": "from typing import Any\n",
                  "chassis/identity": "from dataclasses import dataclass\n"
                                      "from chassis.errors import Forbidden\n"})
    assert framework_reached(graph, ["booking.domain"]) == []


def test_domain_and_use_case_modules_are_recognised_by_their_place():
    assert is_domain("booking.domain", SERVICES)
    assert is_domain("crm.domain.scoring", SERVICES)
    assert not is_domain("booking.domain_helpers", SERVICES)
    assert not is_domain("chassis.domain", SERVICES)
    assert is_use_case("crm.use_cases", SERVICES)
    assert is_use_case("crm.use_cases.campaigns", SERVICES)
    assert not is_use_case("crm.service", SERVICES)


def test_a_commit_call_is_found_but_a_word_in_a_comment_or_docstring_is_not():
    graph = tree({"crm/service": '"""The framework calls commit() for us."""\n'
                               "# no self.db.commit() here\n"
                               "def f(self):\n    self.db.commit()\n    uow.session.commit()\n"})
    assert commits(graph, ["crm.service"]) == [
        "crm/service.py:4: self.db.commit()", "crm/service.py:5: uow.session.commit()"]


def test_a_long_service_module_is_found():
    graph = tree({"crm/service": "x = 1\n" * 400, "booking/service": "x = 1\n" * 399})
    assert too_long(graph, ["booking.service", "crm.service"]) == [
        "crm/service.py: 400 lines (limit 400)"]
