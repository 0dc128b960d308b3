"""How long the register keeps personal data, by what happened.

Counted from the end of the last restriction that followed an incident, or from the incident if
nothing followed. The defaults follow one published council scheme: verbal abuse 2 years,
threats 3, physical violence 5, weapons or dangerous animals 10.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from policy.deciding import add_months

DEFAULT_YEARS: dict[str, int] = {
    "default": 2,  # categories two to four, and verbal abuse
    "abusive_language": 2,
    "harassment": 3,
    "violent_aggressive_threatening": 3,  # threats
    "physical_violence": 5,
    "weapon_or_animal": 10,
}
FLAGS = ("physical_violence", "weapon_or_animal")  # recorded on the incident, whatever its category


@dataclass(frozen=True)
class RetentionRules:
    years: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_YEARS))

    @classmethod
    def parse(cls, text: str) -> "RetentionRules":
        """`harassment=3,weapon_or_animal=12`: changes to the defaults. ValueError when malformed."""
        years = dict(DEFAULT_YEARS)
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = part.partition("=")
            if key.strip() not in DEFAULT_YEARS or not value.strip().isdigit():
                raise ValueError(part)
            years[key.strip()] = int(value)
        return cls(years)

    def years_for(self, category: str, behaviours: Iterable[str], flags: Iterable[str] = ()) -> int:
        candidates = [self.years["default"]]
        if category == "one":
            candidates += [self.years[b] for b in behaviours if b in self.years]
        candidates += [self.years[f] for f in flags if f in FLAGS]
        return max(candidates)

    def due_on(
        self, counted_from: date, category: str, behaviours: Iterable[str], flags: Iterable[str] = ()
    ) -> date:
        return add_months(counted_from, 12 * self.years_for(category, behaviours, flags))
