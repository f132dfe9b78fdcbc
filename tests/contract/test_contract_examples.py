"""Every event type ships a schema file and a realistic example, and they agree."""

from __future__ import annotations

import json

import pytest

from contracts import CONTRACTS, validate_event

ALL = sorted(CONTRACTS.values(), key=lambda c: c.type)
IDS = [c.type for c in ALL]


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_every_contract_has_a_schema_and_an_example(contract, package_dir):
    assert (package_dir / contract.schema_file).is_file()
    assert (package_dir / contract.example_file).is_file()


def test_no_example_or_schema_without_a_contract(package_dir):
    expected = {f"{c.name}.v{c.version}.json" for c in ALL}
    for folder in ("schemas", "examples"):
        assert {p.name for p in (package_dir / folder).glob("*.json")} == expected, folder


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_example_is_valid_for_marshmallow(contract, example_of):
    example = example_of(contract)
    assert example["type"] == contract.type
    # Examples are already in normal form: validation gives them back unchanged.
    assert validate_event(example) == example


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_example_is_valid_for_the_published_json_schema(contract, example_of, validator_of):
    validator_of(contract).validate(example_of(contract))


@pytest.mark.parametrize("contract", ALL, ids=IDS)
def test_example_is_realistic(contract, example_of):
    example = example_of(contract)
    assert example["subject"] == example["data"][contract.subject_field]
    assert example["source"] in (
        f"dealer/{example['dealercode']}/{contract.producer}",
        f"hq/{contract.producer}",
    )
    assert "+08:00" in example["time"]  # a dealer's clock in China


def test_examples_use_a_vin_with_a_correct_check_digit(package_dir):
    values = {
        **{str(i): i for i in range(10)},
        **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
        **dict(zip("JKLMNPR", [1, 2, 3, 4, 5, 7, 9], strict=True)),
        **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
    }
    weights = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
    vins = set()
    for contract in ALL:
        data = json.loads((package_dir / contract.example_file).read_text(encoding="utf-8"))["data"]
        vins |= {v for v in (data.get("vin"), data.get("vehicle", {}).get("vin")) if v}
    assert vins
    for vin in vins:
        remainder = sum(values[ch] * w for ch, w in zip(vin, weights, strict=True)) % 11
        assert vin[8] == ("X" if remainder == 10 else str(remainder)), vin
