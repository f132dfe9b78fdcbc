"""A series or a ranking sums only the measures its KPI reads: the KPI must come out the same
as from every measure."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from bi import domain, kpis, reports


def random_totals(rng: random.Random) -> dict:
    totals = domain.empty_measures()
    for name in totals:
        value = rng.choice((0, 0, 1, 7, 250))
        totals[name] = Decimal(value) / 4 if name in domain.DECIMAL_MEASURES else value
    totals["appointments"] += totals["appointments_cancelled"]  # never fewer than cancelled
    return totals


@pytest.mark.parametrize("kpi", sorted(kpis.KPIS))
def test_a_kpi_from_its_own_measures_equals_the_kpi_from_all(kpi):
    needed = reports.measures_of(kpi)
    assert needed and set(needed) <= set(domain.ROLLUP_MEASURES)
    rng = random.Random(kpi)
    for _ in range(200):
        totals = random_totals(rng)
        only = {**domain.empty_measures(), **{name: totals[name] for name in needed}}
        assert kpis.KPIS[kpi](only) == kpis.KPIS[kpi](totals)
