"""Shared helpers of the contract tests: the package's data files, read as a third party would."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import contracts
from contracts import EventContract

PACKAGE_DIR = Path(contracts.__file__).resolve().parent


def _load(relative: str) -> Any:
    return json.loads((PACKAGE_DIR / relative).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def package_dir() -> Path:
    return PACKAGE_DIR


@pytest.fixture
def example_of() -> Callable[[EventContract], dict]:
    """A fresh deep copy of a contract's example envelope, safe to mutate."""
    return lambda contract: copy.deepcopy(_load(contract.example_file))


@pytest.fixture(scope="session")
def validator_of() -> Callable[[EventContract], Draft202012Validator]:
    """A jsonschema validator built from the published schema file, as a third party would."""
    cache: dict[str, Draft202012Validator] = {}

    def get(contract: EventContract) -> Draft202012Validator:
        if contract.type not in cache:
            cache[contract.type] = Draft202012Validator(_load(contract.schema_file))
        return cache[contract.type]

    return get
