"""The Dockerfile: one slim Python image, the repository installed, a non-root user, the
`aftersales` command as entrypoint, and no secret built in."""

from __future__ import annotations

import json
import re

from tests.deploy.topology import ROOT, SECRET_SETTINGS

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def of(keyword: str) -> list[str]:
    return [rest for kind, rest in instructions() if kind == keyword]


def test_builds_on_python_311_slim_in_one_stage():
    assert of("FROM") == ["python:3.11-slim"]


def test_installs_the_repository_with_pip():
    runs = " ".join(of("RUN"))
    assert re.search(r"pip install (--?[\w-]+ )*\.( |$)", runs)
    copied = [rest.split()[0] for rest in of("COPY")]
    for needed in ("pyproject.toml", "chassis", "contracts", "services"):
        assert needed in copied, needed
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_dependencies_come_from_the_runtime_lock_checked_by_hash():
    """Every `pip install` in the image installs the lock (hash-checked) or nothing but the
    project itself: pip never resolves a range at build time."""
    installs = [command for run in of("RUN") for command in re.split(r"&&|;", run)
                if "pip install" in command]
    assert installs
    for command in installs:
        words = command.split()
        from_lock = "-r" in words and words[words.index("-r") + 1] == "requirements.lock"
        assert (from_lock and "--require-hashes" in words) or "--no-deps" in words, command
    assert any("requirements.lock" in words for words in (c.split() for c in installs))
    kinds = instructions()
    lock_copied = next(i for i, (kind, rest) in enumerate(kinds)
                       if kind == "COPY" and rest.split()[0] == "requirements.lock")
    sources_copied = min(i for i, (kind, rest) in enumerate(kinds)
                         if kind == "COPY" and rest.split()[0] in {"chassis", "services"})
    assert lock_copied < sources_copied  # a code change keeps the dependency layer


def test_runs_as_a_non_root_user_after_the_last_install():
    kinds = [kind for kind, _ in instructions()]
    user = of("USER")
    assert user and user[-1].split(":")[0] not in {"root", "0"}
    assert max(i for i, k in enumerate(kinds) if k == "RUN") < \
        max(i for i, k in enumerate(kinds) if k == "USER")


def test_the_entrypoint_is_the_aftersales_command_in_exec_form():
    (entrypoint,) = of("ENTRYPOINT")
    assert json.loads(entrypoint) == ["aftersales"]


def test_no_secret_is_built_into_the_image():
    baked = " ".join(of("ENV") + of("ARG"))
    for name in (*(n.upper() for n in SECRET_SETTINGS), "_KEY", "TRUST", "AMQP_URI",
                 "DATABASE_URL", "_FILE"):
        assert name not in baked.upper()
    copied = " ".join(of("COPY"))
    # Neither the deployment files nor the generated compose secrets (deploy/compose/secrets).
    assert "deploy" not in copied and "secrets" not in copied


def test_the_build_context_leaves_out_what_the_image_does_not_need():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for path in (".git", ".venv", "tests", "var", "deploy/compose"):  # and compose's secrets
        assert path in ignored, path
    # ... but not what it copies.
    for source in (rest.split()[0] for rest in of("COPY")):
        assert source not in ignored, source
