"""No key is committed: no file of deploy/, the compose file, the Dockerfile or the READMEs
holds a secret value; the compose topology's secrets are generated on the machine, one set
per stack, and differ between headquarters and every site.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from chassis.config import development_secret, load_settings
from tests.deploy.topology import (
    DEALER_SITES,
    FERNET_KEYS,
    HQ_STACK,
    OWN_SECRETS,
    ROOT,
    SECRET_SETTINGS,
    SITE_STACK,
    read_own_secrets,
)

SCRIPT = ROOT / "deploy" / "compose" / "secrets.sh"
GENERATED = ROOT / "deploy" / "compose" / "secrets"
# What a stack's generated folder holds, by service: the sites' and headquarters'.
STACK_SECRETS = {
    "hq": {service: OWN_SECRETS[service] for service in HQ_STACK if service in OWN_SECRETS},
    **{site: {service: OWN_SECRETS[service] for service in SITE_STACK if service in OWN_SECRETS}
       for site in DEALER_SITES},
}
# ... and Grafana's admin password.
GENERATED_FILES = sum(len(names) for services in STACK_SECRETS.values()
                      for names in services.values()) + 1


def scanned_files() -> list[Path]:
    """Every committed deployment file: deploy/ (not the generated secrets), the compose
    file, the Dockerfile and the READMEs."""
    found = [ROOT / "docker-compose.yml", ROOT / "Dockerfile", ROOT / "README.md"]
    for path in sorted((ROOT / "deploy").rglob("*")):
        if path.is_file() and GENERATED not in path.parents:
            found.append(path)
    return found


FILES = scanned_files()
# `name: value`, `name=value`, `NAME: value` (AFTERSALES_<SERVICE>_<NAME> too), where a key
# stands (a line's start, commented out or a list item too; after `{` or `,`; a kubectl
# literal; an export): any identifier ending in a secret's name, not `<name>_file`.
ASSIGNED = re.compile(
    r"(?:^[ \t]*(?:#[ \t]*)?(?:-[ \t]+)?|[{,][ \t]*|--from-literal=|export[ \t]+)"
    r"['\"]?(?P<key>[\w.-]*?(?:" + "|".join(SECRET_SETTINGS) + r"))(?![\w])['\"]?"
    r"[ \t]*[:=][ \t]*(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s,}\]]*)",
    re.IGNORECASE | re.MULTILINE)
# A value that says where the secret comes from, not what it is: none (a nested block), a
# mapping, a command's output, a variable without default, a placeholder.
NOT_A_VALUE = re.compile(
    r"""^(|[|>]-?|\{.*|["']?\$\(.*|["']?\$\{[A-Za-z_]\w*\}["']?|["']?\.\.\.["']?"""
    r"""|["']?<[^>]*>["']?)$""")
FERNET_SHAPED = re.compile(r"(?<![\w-])[A-Za-z0-9_-]{43}=")
CREDENTIALS_IN_URL = re.compile(r"://(?P<user>[^:/@\s]+):(?P<password>[^@/\s]+)@")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_committed_file_gives_a_secret_a_value(path):
    text = path.read_text(encoding="utf-8")
    for match in ASSIGNED.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        assert NOT_A_VALUE.match(match["value"]), \
            f"{path.relative_to(ROOT)}:{line}: {match['key']} is given a value"
    # Compose's ${NAME:-default} would commit the default.
    for match in re.finditer(r"\$\{(\w+):?-([^}]+)\}", text):
        assert not re.search("|".join(SECRET_SETTINGS), match[1], re.IGNORECASE), match[0]
    assert not FERNET_SHAPED.search(text), f"{path.relative_to(ROOT)}: a Fernet key"
    # Broker credentials: RabbitMQ's well-known development `guest` of the one-machine
    # topologies, or a placeholder; never a real password.
    for match in CREDENTIALS_IN_URL.finditer(text):
        assert match["password"] in {"guest", "PASS"}, \
            f"{path.relative_to(ROOT)}: a password in {match[0]}"
    for gone in ("auth_secret", "AUTH_SECRET", "change-me", "the same token secret"):
        assert gone not in text, f"{path.relative_to(ROOT)}: {gone}"


def test_the_scan_finds_what_it_looks_for():
    caught = ["crm_encryption_key: 3Jm2aX0s1pYw6l3kq8Z4v9Qe7RtUo5IbNcLdHfGjKsM=",
              "  AFTERSALES_CRM_CRM_BLIND_INDEX_KEY: ${X:-compose-blind-index-key-0123456789}",
              "--from-literal=AFTERSALES_AUTH_SECRET='<x>x'",
              "    link_secret: abc", "sms: {adapter: sms_gateway, api_secret: s3cr3t}",
              "GF_SECURITY_ADMIN_PASSWORD: admin", "report_link_secret=\"abc\""]
    for line in caught:
        assert any(not NOT_A_VALUE.match(m["value"]) for m in ASSIGNED.finditer(line)), line
    passed = ["crm_encryption_key_file: /run/secrets/crm_encryption_key",
              "--from-literal=report_link_secret=\"$(secret)\"", "PGPASSWORD='...'",
              "- {source: hq-crm-encryption-key, target: crm_encryption_key}",
              "the `crm_encryption_key` (a Fernet key)", "api_secret: \"<from the store>\"",
              "GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_admin_password"]
    for line in passed:
        assert all(NOT_A_VALUE.match(m["value"]) for m in ASSIGNED.finditer(line)), line


def generate(folder: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    subprocess.run(["sh", str(SCRIPT), str(folder)], check=True, capture_output=True,
                   timeout=60, env=env)
    return {str(path.relative_to(folder)): path.read_text(encoding="utf-8")
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_the_setup_step_generates_one_set_per_stack_and_nothing_is_shared(tmp_path):
    values = generate(tmp_path / "secrets")
    expected = {f"{stack}/{service}/{name}" for stack, services in STACK_SECRETS.items()
                for service, names in services.items() for name in names}
    assert expected | {"grafana/admin_password"} == set(values)
    # Every value is its own: headquarters and each site differ, as do two secrets of a stack.
    assert len(set(values.values())) == len(values)
    for relative, value in values.items():
        assert len(value) >= 32 and value.strip() == value, relative
        if relative.rsplit("/", 1)[1] in FERNET_KEYS:
            Fernet(value.encode())  # a valid key, not merely a long text
    for site in DEALER_SITES:
        ours = {values[f"{site}/{s}/{n}"] for s, ns in STACK_SECRETS[site].items() for n in ns}
        others = {v for k, v in values.items() if not k.startswith(f"{site}/")}
        assert not ours & others, site


def test_generating_again_keeps_the_secrets_and_another_machine_gets_others(tmp_path):
    first = generate(tmp_path / "one")
    assert generate(tmp_path / "one") == first  # crm's keys cannot change under its data
    (tmp_path / "one" / "D001" / "workorder" / "report_link_secret").unlink()
    again = generate(tmp_path / "one")
    assert again["D001/workorder/report_link_secret"] != first["D001/workorder/report_link_secret"]
    assert {k: v for k, v in again.items() if k != "D001/workorder/report_link_secret"} == \
        {k: v for k, v in first.items() if k != "D001/workorder/report_link_secret"}
    other = generate(tmp_path / "two")
    assert not set(other.values()) & set(first.values())


def test_the_folder_is_its_owners_and_the_files_are_readable_by_the_containers(tmp_path):
    generate(tmp_path / "secrets")
    for path in [tmp_path / "secrets", *(tmp_path / "secrets").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o644), (path, oct(mode))


def test_without_openssl_python_generates_them(tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("sh", "dirname", "mkdir", "chmod", "mv", "tr", "cat"):
        found = shutil.which(tool)
        if found:
            (tools / tool).symlink_to(found)
    env = {"PATH": str(tools), "PYTHON": sys.executable}
    values = generate(tmp_path / "secrets", env=env)
    assert len(values) == len(set(values.values())) == GENERATED_FILES
    Fernet(values["hq/crm/crm_encryption_key"].encode())


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_the_generated_folder_is_ignored_by_git():
    for relative in ("deploy/compose/secrets/hq/crm/crm_encryption_key",
                     "deploy/compose/secrets/D001/workorder/report_link_secret"):
        done = subprocess.run(["git", "check-ignore", "-q", "--no-index", relative], cwd=ROOT,
                              capture_output=True, timeout=30, check=False)
        assert done.returncode == 0, f"{relative} is not git-ignored"
    assert os.access(SCRIPT, os.X_OK)


@pytest.mark.parametrize("name", ["hq", *(f"site-{site}" for site in DEALER_SITES)])
def test_the_local_development_files_run_on_the_published_stand_ins(name):
    """deploy/local holds no secret: `environment: development` lets every service start on
    the published stand-ins, which production refuses."""
    path = ROOT / "deploy" / "local" / f"{name}.yaml"
    for service in HQ_STACK if name == "hq" else SITE_STACK:
        settings = load_settings(service, path, env={})
        assert settings.environment == "development"
        read = read_own_secrets(settings)
        assert read == {n: development_secret(service, n) for n in read}
