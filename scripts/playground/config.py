"""Print the Agents Playground config (YAML) that signs one person in: `config.py WHO`; with
`--label`, who that is in words.

Everyone here matches roles.example.toml (Sam alone is not in it: plain staff), so `make run`
can open one emulator per role and a newcomer can try each. The emulator insists on exactly
five other users in the tenant: the first five others of this table.
"""

import sys
from typing import NamedTuple

TENANT = "00000000-0000-4000-8000-000000000001"
BOT = "00000000-0000-4000-8000-000000000011"


class Person(NamedTuple):
    who: str  # the emulator's name in `make run AS=...`
    given: str
    surname: str
    email: str
    aad: str  # last hex digits of a made-up Entra object id
    role: str  # as `make run` prints it


PEOPLE = [
    Person("staff", "Sam", "Staff", "sam.staff@council.example", "a2", "staff: report an incident"),
    Person("manager", "Amy", "Manager", "amy.manager@council.example", "a1", "Housing's manager: decide"),
    Person("keeper", "Kim", "Keeper", "kim.keeper@council.example", "100", "register keeper"),
    Person("complaints", "Cath", "Complaints", "cath.complaints@council.example", "101", "complaints team"),
    Person("panel", "Ceri", "Panel", "ceri.panel@council.example", "102", "Complaints Review Group"),
    Person("chief", "Chief", "Exec", "chief.exec@council.example", "104", "Chief Executive"),
    Person("panel2", "Dev", "Panel", "dev.panel@council.example", "103", "Complaints Review Group"),
]


def _user(person: Person) -> list[str]:
    return [
        f"id: 29:local-{person.given.lower()}",
        f"name: {person.given} {person.surname}",
        f"userPrincipleName: {person.email}",  # sic: the emulator's spelling
        f"aadObjectId: 00000000-0000-4000-8000-{int(person.aad, 16):012x}",
        f"givenName: {person.given}",
        f"surname: {person.surname}",
        f"email: {person.email}",
    ]


def config(who: str) -> str:
    me = next(p for p in PEOPLE if p.who == who)
    chat = f"local-{who}-chat"
    lines = [
        f"# Agents Playground: {me.given} {me.surname} ({me.role}); made by scripts/playground/config.py",
        'version: "0.1.1"',
        f"tenantId: {TENANT}",
        "bot:",
        f"  id: {BOT}",
        "  name: Customer Engagement",
        "currentUser:",
        *("  " + line for line in _user(me)),
        "users:",
    ]
    for other in [p for p in PEOPLE if p != me][:5]:  # exactly five: it refuses more
        lines += [("  - " if i == 0 else "    ") + line for i, line in enumerate(_user(other))]
    lines += [
        "personalChat:",
        f"  id: {chat}",
        "groupChat:",
        f"  id: {chat}-group",
        "  name: Group Chat",
        "team:",
        f"  id: {chat}-team",
        "  name: Housing",
        "  aadGroupId: 00000000-0000-4000-8000-000000000031",
        "  channels:",
        f"    - id: {chat}-crg",
        "      name: Complaints Review Group",
    ]
    return "\n".join(lines) + "\n"


def label(who: str) -> str:
    me = next(p for p in PEOPLE if p.who == who)
    return f"{me.given} {me.surname}, {me.role}"


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in {p.who for p in PEOPLE}:
        sys.exit(f"usage: config.py {{{','.join(p.who for p in PEOPLE)}}} [--label]")
    sys.stdout.write(label(sys.argv[1]) + "\n" if sys.argv[2:] == ["--label"] else config(sys.argv[1]))
