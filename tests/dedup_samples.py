"""Small hand-written articles for engine tests (two outlets' takes on a few stories)."""

from __future__ import annotations

from aggregator.dedup.features import DocInput

DAY = 86400.0
T0 = 1_700_000_000.0

QUAKE_AP = (
    "A magnitude 7.1 earthquake struck off the coast of southern Chile on Monday, shaking "
    "buildings "
    "in Valdivia and Puerto Montt and prompting a brief tsunami warning. The national emergency "
    "office said there were no immediate reports of deaths, but power was cut to about "
    "40,000 homes. "
    "The quake hit at a depth of 35 kilometres, according to the United States Geological Survey. "
    "Residents of coastal towns moved to higher ground as sirens sounded, and schools were closed "
    "for the rest of the day while engineers inspected bridges along the Pan-American Highway."
)
QUAKE_OWN = (
    "Chile's emergency service lifted a tsunami alert hours after a powerful 7.1 quake rattled the "
    "south of the country, leaving tens of thousands of homes in Valdivia without electricity. "
    "Officials reported damage to roads near Puerto Montt and said bridges on the Pan-American "
    "Highway would stay closed until inspections finish. The Geological Survey put the depth at "
    "35 km. No deaths were reported, the emergency office said, though several people were hurt."
)
FINAL = (
    "Real Madrid won the Champions League final in London on Saturday, beating Borussia Dortmund "
    "2-0 with late goals from Dani Carvajal and Vinicius Junior at Wembley Stadium. It is "
    "the Spanish "
    "club's fifteenth European title. Dortmund missed several early chances, and goalkeeper Gregor "
    "Kobel kept the German side level until the 74th minute, when Carvajal headed in a corner."
)
BUDGET = (
    "The city council approved a 2025 budget of 4.2 billion dollars after a nine-hour "
    "debate, adding "
    "1,200 teachers and money for bus lanes. The mayor called the vote a win for working families, "
    "while two council members said the plan relies on optimistic tax forecasts and will need cuts."
)


def article(  # noqa: PLR0917 (positional reads best in the tables)
    ident: str,
    text: str,
    outlet: str = "ap",
    title: str = "",
    time: float = T0,
    language: str | None = "en",
) -> DocInput:
    return DocInput(ident, outlet, title, text, time, language)
