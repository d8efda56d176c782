"""Who is not reached yet (第2条: 潜在的な利用者): registrations against population.csv.

Without the file only the counts are shown; with it, coverage = registered ÷ residents per
district and per age band, the least reached first, and every district of the
configuration listed even at zero. Counts of 1 to 9 stay「10未満」and then the coverage
is not shown either (it would give the count away).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from bot.config.population import Band, Population
from bot.store.dashboard_queries import registered_by_district_and_band
from segments.calendar import birth_bounds_for_age

UNANSWERED = "未回答"


@dataclass(frozen=True)
class Reach:
    """One district or band: registered residents and, with population.csv, its residents."""

    label: str
    registered: int
    residents: int | None

    @property
    def small(self) -> bool:
        """1 to 9 registered: shown as「10未満」, with no coverage."""
        return 1 <= self.registered <= 9

    @property
    def percent(self) -> float | None:
        """Coverage in percent (one decimal), or None when unknown or not shown."""
        if not self.residents or self.small:
            return None
        return round(self.registered * 100 / self.residents, 1)

    def sort_key(self) -> tuple:
        # Least reached first; rows without population figures last, then by label.
        if self.residents:
            return (0, self.registered / self.residents, self.label)
        return (1, self.registered, self.label)


@dataclass(frozen=True)
class Coverage:
    """Registrations by district and by age band, with population figures if configured."""

    districts: list[Reach]
    bands: list[Reach]
    with_population: bool


def coverage(
    session: Session, districts: tuple[str, ...], population: Population | None, today: date
) -> Coverage:
    """Gather the coverage tables at `today`."""
    bands: tuple[Band, ...] = population.bands if population else ()
    bounds = [birth_bounds_for_age(b.low, b.high, today) for b in bands]
    by_district: dict[str | None, tuple[int, list[int]]] = {}
    for district, total, *per_band in session.execute(registered_by_district_and_band(bounds)):
        by_district[district] = (int(total), [int(n) for n in per_band])
    names = list(districts) + [d for d in by_district if d is not None and d not in districts]
    rows = [
        Reach(
            d, by_district.get(d, (0, []))[0], population.district_total(d) if population else None
        )
        for d in names
    ]
    rows.sort(key=Reach.sort_key)
    if None in by_district:
        rows.append(Reach(UNANSWERED, by_district[None][0], None))
    band_rows = []
    for i, band in enumerate(bands):
        registered = sum(per[i] for _, per in by_district.values())
        band_rows.append(Reach(band.label, registered, population.band_total(band)))
    band_rows.sort(key=Reach.sort_key)
    return Coverage(rows, band_rows, population is not None)
