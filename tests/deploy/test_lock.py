"""The lock files and pyproject.toml cannot drift apart silently: every dependency pyproject.toml
names (runtime and dev) is pinned to one version its range allows, with hashes, in the lock that
installs it; the dev lock pins the runtime packages exactly as the runtime lock does; and the
image gets no test tools. After changing a range, `make lock` rewrites both files."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.topology import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = [Requirement(line) for line in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(line) for line in PYPROJECT["project"]["optional-dependencies"]["dev"]]

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(?P<version>[^\s;\\]+)")


def pins(file: str) -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, [hashes])} of a pip-compile / uv lock file."""
    found: dict[str, tuple[str, list[str]]] = {}
    current = None
    for line in (ROOT / file).read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match["name"])
            assert current not in found, f"{file}: {current} pinned twice"
            found[current] = (match["version"], [])
        elif current and line.strip().startswith("--hash=sha256:"):
            found[current][1].append(line.strip().removeprefix("--hash=").rstrip(" \\"))
        elif line.strip() and not line.lstrip().startswith(("#", "--hash")):
            raise AssertionError(f"{file}: a line that is no exact pin: {line!r}")
    return found


LOCK = pins("requirements.lock")
DEV_LOCK = pins("requirements-dev.lock")


@pytest.mark.parametrize(("file", "lock", "requirements"), [
    ("requirements.lock", LOCK, RUNTIME),
    ("requirements-dev.lock", DEV_LOCK, RUNTIME + DEV),
], ids=["runtime", "dev"])
def test_every_dependency_in_pyproject_is_pinned_within_its_range(file, lock, requirements):
    drift = []
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name not in lock:
            drift.append(f"{requirement} is not pinned")
        elif not requirement.specifier.contains(lock[name][0], prereleases=True):
            drift.append(f"{name}=={lock[name][0]} is outside {requirement}")
    assert not drift, f"{file} and pyproject.toml differ (run `make lock`): {'; '.join(drift)}"


@pytest.mark.parametrize("file", ["requirements.lock", "requirements-dev.lock"])
def test_every_pin_carries_its_hashes(file):
    # With a hash on every line pip runs in hash-checking mode: nothing unpinned slips in.
    for name, (_, hashes) in pins(file).items():
        assert hashes, f"{file}: {name} has no hash"


def test_the_dev_lock_pins_the_runtime_packages_as_the_runtime_lock_does():
    for name, (version, _) in LOCK.items():
        assert name in DEV_LOCK, f"{name} is in the runtime lock but not the dev lock"
        assert DEV_LOCK[name][0] == version, \
            f"{name}: {version} in requirements.lock, {DEV_LOCK[name][0]} in the dev lock"


def test_the_runtime_lock_has_no_test_tools():
    for requirement in DEV:
        assert canonicalize_name(requirement.name) not in LOCK, requirement.name


@pytest.mark.parametrize(("file", "requirements"), [
    ("requirements.lock", RUNTIME), ("requirements-dev.lock", RUNTIME + DEV),
], ids=["runtime", "dev"])
def test_what_the_lock_pins_for_pyproject_pyproject_still_names(file, requirements):
    # A dependency dropped from pyproject.toml without `make lock` stays pinned "via" it.
    named = {canonicalize_name(requirement.name) for requirement in requirements}
    text = (ROOT / file).read_text(encoding="utf-8")
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = PIN.match(block)
        if match and "aftersales (pyproject.toml)" in block:
            assert canonicalize_name(match["name"]) in named, \
                f"{file} pins {match['name']} for pyproject.toml, which no longer names it"


def test_make_install_and_ci_install_from_the_lock():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(VENV)/.installed:", 1)[1].split("\n\n", 1)[0]
    assert "DEV_LOCK := requirements-dev.lock" in makefile
    assert "--require-hashes -r $(DEV_LOCK)" in recipe
    assert re.search(r"pip install .*--no-deps .*-e \.", recipe)
    for line in recipe.splitlines():
        if "pip install" in line and "pip==" not in line:
            assert "-r $(DEV_LOCK)" in line or "--no-deps" in line, line
    assert "make install" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
