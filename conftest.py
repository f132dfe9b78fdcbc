# eventlet must patch the standard library before anything opens a socket, or the RabbitMQ
# tests hang; psycopg2 is made green at the same time.
from chassis.runner import green

green()

# The imports below come after green() on purpose (see above).
import socket  # noqa: E402
from fnmatch import fnmatchcase  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

pytest_plugins = ["chassis.testing"]

# Test tiers: every test is exactly one of these (`make test-unit` runs the first alone).
#   unit        no I/O beyond reading the repository's files: no database, broker or network
#   integration the real PostgreSQL and RabbitMQ (or processes, servers, subprocesses)
#   faults      stops or kills real components
TIERS = ("unit", "integration", "faults")

# A test file declares its tier with `pytestmark = pytest.mark.<tier>` (or a test with the
# decorator); otherwise its path decides, first match wins. Paths not listed are integration:
# an unknown test is never run inside the unit tier's socket guard by accident.
BY_PATH = [
    ("services/*/tests/unit/*", "unit"),
    ("services/*/tests/integration/*", "integration"),
    ("tests/architecture/*", "unit"),
    ("tests/docs/*", "unit"),  # the documents' links
    ("tests/contract/*", "unit"),
    ("tests/chassis/test_config.py", "unit"),
    ("tests/chassis/test_error_statuses.py", "unit"),
    ("tests/chassis/test_http_input.py", "unit"),
    ("tests/chassis/test_logs.py", "unit"),
    ("tests/chassis/test_own_settings.py", "unit"),
    ("tests/chassis/test_tokens.py", "unit"),
    ("tests/chassis/test_unit_of_work.py", "unit"),  # its real-database tests say integration
    ("tests/deploy/test_dockerfile.py", "unit"),
    ("tests/deploy/test_lock.py", "unit"),
    ("tests/deploy/test_compose.py", "unit"),  # parses the files; the live parts use fixtures
    ("tests/deploy/test_kubernetes.py", "unit"),
    ("tests/deploy/test_observability.py", "unit"),
    # tests/chassis (the rest), tests/deploy/test_package.py (builds and installs a wheel,
    # migrates a database), tests/flows, tests/security, tests/reliability: integration
]

# A test on a unit path that asks for one of these fixtures talks to the real infrastructure,
# so it is integration whatever its path says (services/*/tests/unit excepted: there it is a
# mistake, and the socket guard below says so).
INFRASTRUCTURE_FIXTURES = {"database", "vhost", "amqp_uri", "services", "broker_admin"}

ROOT = Path(__file__).resolve().parent


def tier_by_path(relative: str) -> str:
    for pattern, tier in BY_PATH:
        if fnmatchcase(relative, pattern):
            return tier
    return "integration"


def tier_of(item: pytest.Item) -> str:
    # One tier per test. A file's `pytestmark` and a test's decorator cannot disagree: pytest's
    # `-m` sees every marker up the chain, so the test would run in both tiers.
    declared = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
    if len(declared) > 1:
        raise pytest.UsageError(
            f"{item.nodeid}: marked {' and '.join(sorted(declared))}; a test is in one tier "
            "(mark the file, or its tests one by one)")
    if declared:
        return declared.pop()
    path = Path(str(item.path)).resolve()
    relative = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    tier = tier_by_path(relative)
    if (tier == "unit" and not fnmatchcase(relative, "services/*/tests/unit/*")
            and INFRASTRUCTURE_FIXTURES & set(getattr(item, "fixturenames", ()))):
        tier = "integration"
    return tier


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item)
        if item.get_closest_marker(tier) is None:
            item.add_marker(tier)


class NoNetworkInUnitTests(RuntimeError):
    """A unit test reached for the network, a database or the broker: it is mis-tiered."""


def _refuse(what: str, target: Any) -> None:
    raise NoNetworkInUnitTests(
        f"a unit test may do no I/O, but it {what} {target!r}: make it pure, or mark it "
        "integration (`pytestmark = pytest.mark.integration`, or move it to tests/integration)")


def _guarded(original: Any, what: str) -> Any:
    def method(self: socket.socket, *args: Any) -> Any:
        if self.family != socket.AF_UNIX:
            _refuse(what, args[-1])  # the address is the last argument of all three
        return original(self, *args)
    return method


@pytest.fixture(autouse=True)
def _unit_tier_does_no_io(request: pytest.FixtureRequest,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """In a unit test, a socket other than AF_UNIX cannot connect or send, and PostgreSQL
    cannot be reached (libpq opens its sockets in C, beyond the socket module), so a test that
    does I/O fails loudly in its tier instead of passing slowly on a machine with the
    infrastructure and failing on one without. Applies in every run, `make test` included."""
    if request.node.get_closest_marker("unit") is None:
        return
    import eventlet.patcher

    # Both the green socket class (what code imported after green() uses) and the original one
    # underneath it (what eventlet itself, or code holding the original, calls).
    classes = {socket.socket, eventlet.patcher.original("socket").socket}
    for cls in classes:
        for name, what in (("connect", "connected to"), ("connect_ex", "connected to"),
                           ("sendto", "sent a datagram to")):
            if hasattr(cls, name):
                monkeypatch.setattr(cls, name, _guarded(getattr(cls, name), what))
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - the platform always has it
        return

    def connect(*args: Any, **kwargs: Any) -> Any:
        # Where to, without credentials.
        where = {key: kwargs[key] for key in ("host", "port", "dbname") if key in kwargs}
        _refuse("opened a PostgreSQL connection", where or "(a DSN)")

    monkeypatch.setattr(psycopg2, "connect", connect)
