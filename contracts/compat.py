"""Is a new JSON Schema a compatible evolution of a released one?

The rule within one major version: every event valid under the released schema stays
valid under the new one (so events already stored or still in flight can be replayed),
and no field a consumer may rely on disappears. Concretely, breaking:

* a property removed (a rename is a removal plus an addition);
* a type changed or narrowed; a ``const`` added or changed; an ``enum`` narrowed;
* a property made required, or a new required property;
* a ``pattern`` or ``format`` added or changed; ``maximum``/``maxLength``/``maxItems``
  lowered, ``minimum``/``minLength``/``minItems`` raised (or newly set);
* ``additionalProperties: false`` where it was open;
* a new or changed cross-field constraint (``allOf``/``anyOf``/``if``/``dependentRequired``...),
  reported conservatively because it cannot be compared mechanically.

Compatible: a new optional property, a wider enum, looser bounds, removed constraints, and
a value set widened into alternatives: an ``enum`` (or ``const``) replaced by an ``anyOf`` of
value-only branches (``enum``/``const``/``pattern``) one of which lists every old value, a
``pattern`` replaced by such an ``anyOf`` one of whose branches is that very pattern (https
links growing http ones on loopback), or such an ``anyOf`` given another branch
(``SERVICE``/``MARKETING`` growing ``partner:<id>``).

    python -m contracts.compat     compare schemas/ with released/, exit 1 on a break
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_COUNT_BOUNDS = ("minLength", "minItems", "minProperties")
_COMBINATORS = (
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
)


# Keywords a value-only alternative may have: it constrains the value, not the object's shape.
_VALUE_KEYWORDS = frozenset({"enum", "const", "pattern", "description", "title", "$comment"})


def _value_alternatives(schema: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The branches of ``schema``'s ``anyOf`` when each only constrains the value (so the
    ``anyOf`` is a set of alternatives, never a cross-field rule such as AtLeastOne); else
    None."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or not branches:
        return None
    if not all(isinstance(b, Mapping) and b and set(b) <= _VALUE_KEYWORDS for b in branches):
        return None
    return branches


def _enum_values(branch: Mapping[str, Any]) -> list[Any] | None:
    if "enum" in branch and set(branch) - {"description", "title", "$comment"} == {"enum"}:
        return list(branch["enum"])
    if "const" in branch and set(branch) - {"description", "title", "$comment"} == {"const"}:
        return [branch["const"]]
    return None


def _alternatives_widen(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool | None:
    """Whether ``new``'s value alternatives accept everything ``old`` accepted: True or
    False when ``new`` has value-only alternatives and ``old`` had them or a plain
    ``enum``/``const``/``pattern`` (a pattern is kept only by a branch that is the same
    pattern: two regexes cannot be compared); None when the rule does not apply (compared as
    before)."""
    new_branches = _value_alternatives(new)
    if new_branches is None:
        return None
    old_branches = _value_alternatives(old)
    if old_branches is None:
        if "anyOf" in old:
            return None
        if "enum" in old:
            old_branches = [{"enum": old["enum"]}]
        elif "const" in old:
            old_branches = [{"const": old["const"]}]
        elif "pattern" in old:
            old_branches = [{"pattern": old["pattern"]}]
        else:
            return None
    if "enum" in new or "const" in new or "pattern" in new:
        return False  # a constraint on top of the alternatives: compared the usual way
    covered_values = {
        json.dumps(v, sort_keys=True)
        for b in new_branches
        for v in (_enum_values(b) or [])
    }
    for branch in old_branches:
        if branch in new_branches:
            continue
        values = _enum_values(branch)
        if values is None or not all(json.dumps(v, sort_keys=True) in covered_values
                                     for v in values):
            return False
    return True


def breaking_changes(old_schema: dict, new_schema: dict) -> list[str]:
    """Every incompatibility of ``new_schema`` relative to ``old_schema``, one line each,
    prefixed with the property path (``data.approved_lines[].pay_type``)."""
    out: list[str] = []
    _compare(old_schema, new_schema, "", out)
    return out


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    value = schema.get("type")
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compare(old: Any, new: Any, path: str, out: list[str]) -> None:
    where = path or "(root)"
    # Boolean subschemas: `false` accepts nothing, `true` (or {}) accepts anything.
    if isinstance(old, bool) or isinstance(new, bool):
        if new is False and old is not False:
            out.append(f"{where}: now forbidden")
        elif old is False or new is True:
            pass
        elif old is True and new not in ({}, True):
            out.append(f"{where}: constraints added to a schema that accepted anything")
        return
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return

    old_types, new_types = _types(old), _types(new)
    if new_types is not None:
        widened = set(new_types) | ({"integer"} if "number" in new_types else set())
        if old_types is None or not old_types <= widened:
            before = "any" if old_types is None else "/".join(sorted(old_types))
            out.append(f"{where}: type changed from {before} to {'/'.join(sorted(new_types))}")

    widened_alternatives = _alternatives_widen(old, new)
    if widened_alternatives is False:
        out.append(f"{where}: anyOf alternatives no longer accept every value accepted before")

    if "const" in new and ("const" not in old or old["const"] != new["const"]):
        out.append(f"{where}: const {'changed' if 'const' in old else 'added'}: {new['const']!r}")

    if "enum" in new:
        old_values = old.get("enum", [old["const"]] if "const" in old else None)
        if old_values is None:
            out.append(f"{where}: enum added")
        else:
            removed = [v for v in old_values if v not in new["enum"]]
            if removed:
                out.append(f"{where}: enum narrowed, removed {', '.join(map(repr, removed))}")

    for key in ("pattern", "format"):
        if key in new and old.get(key) != new[key]:
            verb = "changed" if key in old else "added"
            out.append(f"{where}: {key} {verb}: {new[key]!r}")

    for key in _UPPER_BOUNDS:
        if key in new and key in old and new[key] < old[key]:
            out.append(f"{where}: {key} lowered from {old[key]} to {new[key]}")
        elif key in new and key not in old:
            out.append(f"{where}: {key} added ({new[key]})")
    for key in _LOWER_BOUNDS:
        if key in new and key in old and new[key] > old[key]:
            out.append(f"{where}: {key} raised from {old[key]} to {new[key]}")
        elif key in new and key not in old and not (key in _COUNT_BOUNDS and new[key] == 0):
            out.append(f"{where}: {key} added ({new[key]})")  # minItems 0 only restates the default

    old_props: Mapping[str, Any] = old.get("properties", {})
    new_props: Mapping[str, Any] = new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for name in old_props:
        if name not in new_props:
            out.append(f"{_join(path, name)}: property removed")
    for name in sorted(new_required - old_required):
        if name in old_props:
            out.append(f"{_join(path, name)}: optional property made required")
        else:
            out.append(f"{_join(path, name)}: new required property")
    for name in old_props:
        if name in new_props:
            _compare(old_props[name], new_props[name], _join(path, name), out)

    if (
        new.get("additionalProperties") is False
        and old.get("additionalProperties", True) is not False
    ):
        out.append(f"{where}: additional properties no longer allowed")
    elif isinstance(old.get("additionalProperties"), Mapping) and "additionalProperties" in new:
        _compare(old["additionalProperties"], new["additionalProperties"], f"{path}{{*}}", out)

    if "items" in old and "items" in new:
        _compare(old["items"], new["items"], f"{path}[]", out)
    elif "items" in new:
        out.append(f"{where}: items constrained")

    for key in _COMBINATORS:
        if key not in new or old.get(key) == new[key]:
            continue
        if key == "anyOf" and widened_alternatives is not None:
            continue  # value alternatives: judged above
        if isinstance(new[key], list) and isinstance(old.get(key), list):
            added = [entry for entry in new[key] if entry not in old[key]]
            if added:
                out.append(f"{where}: {key} has {len(added)} new or changed constraint(s)")
        else:
            out.append(f"{where}: {key} {'changed' if key in old else 'added'}")


def check_released(base: Path | None = None) -> dict[str, list[str]]:
    """Breaking changes of each schema in schemas/ relative to its copy in released/.

    A released file whose schema no longer exists counts as a break (the event type was
    withdrawn within its major version).
    """
    base = base or Path(__file__).resolve().parent
    report: dict[str, list[str]] = {}
    for released in sorted((base / "released").glob("*.json")):
        current = base / "schemas" / released.name
        if not current.is_file():
            report[released.name] = ["event type removed"]
            continue
        changes = breaking_changes(_load(released), _load(current))
        if changes:
            report[released.name] = changes
    return report


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def main() -> int:
    report = check_released()
    for name, changes in report.items():
        for change in changes:
            print(f"{name}: {change}")
    if report:
        print(
            "Incompatible within a major version: publish a new major type instead.",
            file=sys.stderr,
        )
    return 1 if report else 0


if __name__ == "__main__":
    raise SystemExit(main())
