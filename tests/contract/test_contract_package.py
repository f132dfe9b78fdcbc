"""The contract installs on its own, as the `aftersales-contracts` wheel a partner gets: built
from contracts/pyproject.toml, it needs only jsonschema for everything a receiver does (checked
in a Python that can import nothing else), and the receiver example in PARTNERS.md runs
against signed requests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import contracts
from chassis.runner import free_port
from contracts import CONTRACTS, sign_webhook, wire
from contracts.personal import redact

pytestmark = pytest.mark.integration  # builds a wheel, runs subprocesses and a local server

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "contracts"
SITE_PACKAGES = [p for p in sys.path if p.endswith("site-packages")]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

# What the wheel may import: the standard library, itself, and jsonschema with its own
# dependencies. jsonschema's optional format checkers (idna, ...) are refused too: it runs
# without them.
GUARD = """
import sys
ALLOWED = set(sys.stdlib_module_names) | {"contracts", "jsonschema", "jsonschema_specifications",
    "referencing", "rpds", "attr", "attrs", "typing_extensions"}
class Guard:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in ALLOWED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the wheel's needs)",
                                      name=name)
        return None
sys.meta_path.insert(0, Guard())
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy: an in-tree build leaves build/ and *.egg-info in contracts/.
    work = tmp_path_factory.mktemp("contracts-wheel")
    shutil.copytree(SOURCE, work / "contracts",
                    ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(work / "dist"), str(work / "contracts")],
                   check=True, capture_output=True, cwd=work)
    [built] = (work / "dist").glob("aftersales_contracts-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("contracts-installed")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    return target


def isolated(installed: Path) -> dict[str, str]:
    # `python -S`: no site-packages processing, so the project's editable install cannot
    # hand out the source tree's contracts; the installed copy comes first on the path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return {**env, "PYTHONPATH": os.pathsep.join([str(installed), *SITE_PACKAGES])}


def run_isolated(installed: Path, code: str, cwd: Path, **env: str) -> str:
    done = subprocess.run([sys.executable, "-S", "-c", GUARD + code],
                          env={**isolated(installed), **env}, cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_wheel_is_the_contract_and_needs_only_jsonschema(wheel):
    assert wheel.name == f"aftersales_contracts-{contracts.__version__}-py3-none-any.whl"
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    [metadata_file] = [n for n in names if n.endswith(".dist-info/METADATA")]
    metadata = Parser().parsestr(archive.read(metadata_file).decode())
    assert metadata["Name"] == "aftersales-contracts"
    requires = metadata.get_all("Requires-Dist")
    assert [r for r in requires if "extra ==" not in r] == ["jsonschema>=4.18"]
    assert set(metadata.get_all("Provides-Extra")) == {"marshmallow", "export"}
    for contract in CONTRACTS.values():
        assert {f"contracts/{contract.schema_file}", f"contracts/{contract.example_file}",
                f"contracts/{contract.released_file}"} <= names
    assert {"contracts/asyncapi.yaml", "contracts/PARTNERS.md", "contracts/py.typed",
            "contracts/partner/QuoteApproved.v1.json", "contracts/webhooks.py"} <= names
    assert not [n for n in names if "pyproject" in n or "/tests/" in n or "egg-info" in n]


def test_a_partner_receives_with_jsonschema_alone(installed, tmp_path):
    out = run_isolated(installed, """
import json, os, contracts
from importlib import resources
from contracts import published, personal, sign_webhook, verify_webhook, validate_event
SECRET = os.environ["SECRET"]
assert contracts.__file__.startswith(os.environ["TARGET"]), contracts.__file__
# Without marshmallow, contracts.validate_event is the JSON Schema check.
assert validate_event is published.validate_event
count = 0
for event_type in published.event_types():
    name = event_type.split(".")[1] + "." + event_type.split(".")[2] + ".json"
    example = json.loads((resources.files("contracts") / "examples" / name).read_text("utf-8"))
    assert validate_event(example) == example
    if event_type in published.event_types("partner"):
        example["data"] = personal.redact(event_type, example["data"])
        body = json.dumps(example).encode()
        headers = {"webhook-id": example["id"], "webhook-timestamp": "1742281367",
                   "webhook-signature": sign_webhook(SECRET, example["id"], 1742281367, body)}
        event = verify_webhook(SECRET, headers, body, now=1742281400)
        published.validate_event(event, partner_view=True)
        count += 1
try:
    contracts.new_event
except ModuleNotFoundError as exc:
    assert "aftersales-contracts[marshmallow]" in str(exc), exc
else:
    raise AssertionError("new_event without marshmallow")
print(count)
""", tmp_path, TARGET=str(installed), SECRET=SECRET)
    assert int(out) == len([t for t in CONTRACTS if t not in (
        "aftersales.ConsentChanged.v1", "aftersales.ConsentExpressed.v1")])


# -- the receiver example in PARTNERS.md ----------------------------------------------------


def receiver_example() -> str:
    text = (SOURCE / "PARTNERS.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)
    [example] = [b for b in blocks if b.startswith("# receiver.py")]
    return example


def test_the_example_is_short():
    assert len(receiver_example().strip().splitlines()) <= 40


def post(port: int, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def signed(body: bytes, msg_id: str, secret: str = SECRET) -> dict[str, str]:
    stamp = int(time.time())
    return {"content-type": wire.CONTENT_TYPE, "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign_webhook(secret, msg_id, stamp, body)}


def test_the_receiver_example_prints_a_signed_event_and_refuses_the_rest(
        installed, tmp_path, example_of):
    script = tmp_path / "receiver.py"
    script.write_text(receiver_example(), encoding="utf-8")
    port = free_port()
    env = {**isolated(installed), "AFTERSALES_WEBHOOK_SECRET": SECRET, "PORT": str(port),
           "PYTHONUNBUFFERED": "1"}
    runner = GUARD + f"import runpy; runpy.run_path({str(script)!r}, run_name='__main__')"
    server = subprocess.Popen([sys.executable, "-S", "-c", runner], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        event = example_of(CONTRACTS["aftersales.RepairOrderOpened.v1"])
        event["data"] = redact(event["type"], event["data"])
        body = wire.encode(event)
        deadline = time.monotonic() + 20
        while True:  # until the server listens
            try:
                status = post(port, body, signed(body, event["id"]))
                break
            except (ConnectionError, urllib.error.URLError):
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.1)
        assert status == 204
        assert post(port, body, signed(body, event["id"], secret="whsec_" + "A" * 32)) == 401
        tampered = body.replace(b'"mileage_km":29876', b'"mileage_km":9876')
        assert post(port, tampered, signed(body, event["id"])) == 401
        unredacted = wire.encode(example_of(CONTRACTS["aftersales.RepairOrderOpened.v1"]))
        assert post(port, unredacted, signed(unredacted, event["id"])) == 422
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    first = out.splitlines()[0].split(" ", 3)
    assert first[:3] == [event["type"], event["subject"], str(event["sequence"])], (out, err)
    assert json.loads(first[3]) == event["data"]
    assert "not a valid event" in out
