"""The one exception the contract package raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ContractViolation(ValueError):
    """An event (or a lookup) does not satisfy the published contract.

    ``errors`` maps a dotted field path (``data.approved_lines.0.pay_type``) to its
    messages; ``_schema`` holds errors about the envelope as a whole.
    """

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors: dict[str, list[str]] = {path: list(msgs) for path, msgs in errors.items()}
        super().__init__(self._render())

    @classmethod
    def from_marshmallow(cls, messages: Any) -> ContractViolation:
        return cls(flatten_messages(messages))

    def _render(self) -> str:
        return "; ".join(f"{path}: {' '.join(msgs)}" for path, msgs in sorted(self.errors.items()))

    # Exceptions are pickled by RPC layers and worker pools; rebuild from `errors`,
    # not from the rendered message.
    def __reduce__(self) -> tuple[type[ContractViolation], tuple[dict[str, list[str]]]]:
        return (type(self), (self.errors,))


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested error dict into ``{"a.b.0.c": [msg, ...]}``.

    A nested schema's ``_schema`` errors are reported at the nested object's own path.
    """
    out: dict[str, list[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "_schema":
                    walk(value, path)
                else:
                    walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item, path)
        else:
            out.setdefault(path or "_schema", []).append(str(node))

    walk(messages, prefix)
    return out
