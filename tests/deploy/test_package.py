"""The project installs as a plain wheel (as the container image does): each service's
migrations, the broker policies, the contract's schemas and the dashboard's static files are
package data, and an installed copy migrates a database from outside the source tree."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest

from chassis.db import drop_database
from chassis.testing import POSTGRES, rows

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("booking", "workorder", "parts", "crm", "notify", "bi", "identity", "partners",
            "portal")
# What a service reads from its package at run time besides code: pages, scripts, catalogues.
RUNTIME_FOLDERS = ("templates", "static", "i18n")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built as the image builds it: with the locked setuptools of this environment.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(ROOT)], check=True, cwd=out, capture_output=True)
    [built] = out.glob("aftersales-*.whl")
    return built


def test_the_wheel_carries_what_the_services_read_at_run_time(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for service in SERVICES:
        folder = ROOT / "services" / service / service / "migrations"
        for path in [folder / "env.py", folder / "script.py.mako",
                     *(folder / "versions").glob("*.py")]:
            assert path.relative_to(ROOT / "services" / service).as_posix() in names
        # Every page template, static file and word catalogue (the portal's, bi's dashboard).
        for folder in RUNTIME_FOLDERS:
            for path in (ROOT / "services" / service / service / folder).rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    relative = path.relative_to(ROOT / "services" / service).as_posix()
                    assert relative in names, f"{relative} is not package data"
    assert "chassis/broker_policies.yaml" in names
    assert "bi/static/vendor/echarts/echarts.min.js" in names
    assert {"contracts/asyncapi.yaml", "contracts/schemas/AppointmentBooked.v1.json"} <= names


def test_an_installed_copy_migrates_a_database_from_outside_the_source_tree(wheel, tmp_path):
    target = tmp_path / "installed"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    url = f"{POSTGRES}/t_wheel_{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), *site.getsitepackages()]),
           "AFTERSALES_DEALER_CODE": "D001", "AFTERSALES_DATABASE_URL": url,
           "AFTERSALES_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/%2F",
           "AFTERSALES_TRUST": json.dumps([{"issuer": "https://id.d001.example.com",
                                            "scope": "site", "dealer": "D001",
                                            "jwks_url": "https://id.d001.example.com/jwks"}])}
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import chassis.runner as r, chassis.broker_admin as b;"
             "print(r.migrations_dir(r.service_class('booking')), b.POLICIES_FILE);"
             "from chassis.cli import main; raise SystemExit(main(['db', 'upgrade', 'booking']))"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        migrations, policies = done.stdout.split()[:2]
        assert migrations.startswith(str(target)) and policies.startswith(str(target))
        assert rows(url, "SELECT count(*) FROM outbox_sequences")[0][0] == 0
    finally:
        drop_database(url)
