"""What one published event type is: name, major version, producer and data schema."""

from __future__ import annotations

import re
from dataclasses import dataclass

from marshmallow import Schema

# Services running at each dealer site, and at headquarters. The site decides the
# CloudEvents `source`: "dealer/<DEALER_CODE>/<service>" or "hq/<service>".
DEALER_SERVICES = frozenset({"booking", "workorder", "parts"})
HQ_SERVICES = frozenset({"crm", "bi", "notify", "partners"})

_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


@dataclass(frozen=True)
class EventContract:
    name: str
    version: int
    producer: str
    data_schema: type[Schema]
    summary: str
    # Which `data` member the envelope's `subject` (the aggregate id) must equal.
    subject_field: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"event name must be PascalCase: {self.name!r}")
        if self.version < 1:
            raise ValueError(f"major version must be >= 1: {self.version!r}")
        if self.producer not in DEALER_SERVICES | HQ_SERVICES:
            raise ValueError(f"unknown producing service: {self.producer!r}")
        if (
            self.subject_field is not None
            and self.subject_field not in self.data_schema._declared_fields
        ):
            raise ValueError(
                f"{self.name}: subject_field {self.subject_field!r} is not a data field"
            )

    @property
    def type(self) -> str:
        """CloudEvents ``type`` and AMQP routing key."""
        return f"aftersales.{self.name}.v{self.version}"

    @property
    def exchange(self) -> str:
        """Nameko's topic exchange of the producing service."""
        return f"{self.producer}.events"

    @property
    def dataschema(self) -> str:
        return f"urn:aftersales:schema:{self.name}:v{self.version}"

    @property
    def schema_file(self) -> str:
        return f"schemas/{self.name}.v{self.version}.json"

    @property
    def partner_file(self) -> str:
        """The partner view: the schema without the personal fields (contracts.personal)."""
        return f"partner/{self.name}.v{self.version}.json"

    @property
    def example_file(self) -> str:
        return f"examples/{self.name}.v{self.version}.json"

    @property
    def released_file(self) -> str:
        return f"released/{self.name}.v{self.version}.json"

    @property
    def at_dealer_site(self) -> bool:
        return self.producer in DEALER_SERVICES

    @property
    def source_pattern(self) -> str:
        """The `source` values this producer may use."""
        if self.at_dealer_site:
            return rf"^dealer/[A-Z0-9]{{2,12}}/{self.producer}$"
        return rf"^hq/{self.producer}$"
