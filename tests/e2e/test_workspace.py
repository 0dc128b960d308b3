"""The workspace tab in headless Chromium: each role's home (in Teams' three themes), a search by
keyboard, a customer's record, a decision made from the incident's page that then shows in chat,
and refusals; axe-core finds no accessibility violation on any page (tests/e2e/workspace.mjs).

The bot serves chat and the tab on one register, as in tests/test_workspace.py; the browser is
signed in with tokens that the loopback Entra keys sign, handed to the page by a stand-in for
TeamsJS as Teams hands them. Screenshots go to build/workspace (docs/screenshots keeps the README's).
"""

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from storage.models import Decision, Incident
from tests.support.dialog import latest_card, texts
from tests.support.reporting import report
from tests.support.teams import AMY, CERI, KIM, SAM
from tests.test_workspace import EVERYONE, ROLES, entra, tab  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("workspace.mjs")
SHOTS = Path(os.environ.get("WORKSPACE_SCREENSHOTS", ROOT / "build" / "workspace"))

pytestmark = pytest.mark.e2e


def _missing() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("node")
    for package in ("playwright-core", "axe-core"):
        if not (ROOT / "node_modules" / package).exists():
            missing.append(f"{package} (npm install)")
    if not Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists():
        missing.append("chromium (apt-get install chromium)")
    return missing


@pytest.fixture
def tools() -> None:
    missing = _missing()
    if missing:
        reason = "the workspace's browser tests need " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    SHOTS.mkdir(parents=True, exist_ok=True)
    SHOTS.mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_each_role_uses_the_tab_in_a_browser_and_a_decision_shows_in_chat(
    tools,
    harness,
    tab,  # noqa: F811
    entra,  # noqa: F811
):
    from tests.support.teams import Person

    wes = Person.called("Wes Waste", "wes.manager@council.example")
    await harness.import_roles(ROLES)
    for person in EVERYONE:
        await harness.say(person, "hi")
    reference = await report(harness, SAM)
    await harness.deliver()
    harness.connector.clear()
    (incident,) = await harness.rows(Incident, Incident.reference == reference)

    people = {"sam": SAM, "amy": AMY, "kim": KIM, "ceri": CERI, "wes": wes}
    tokens = {name: entra.token(person) for name, person in people.items()}
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        cwd=ROOT,
        env={
            **os.environ,
            "TAB_URL": tab.url("/tab"),
            "LOCAL_TAB_URL": str(harness._server.make_url("/tab")),
            "TOKENS": json.dumps(tokens),
            "INCIDENT": str(incident.id),
            "SHOTS": str(SHOTS),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    steps = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert process.returncode == 0, "\n".join([*(str(s) for s in steps[-3:]), err.decode()[-2000:]])
    names = [s["step"] for s in steps]
    assert names.count("home") == 4 and names.count("theme") == 2
    assert {"search", "record", "decided", "refused", "local", "done"} <= set(names)
    assert all(not s.get("errors") for s in steps), [s for s in steps if s.get("errors")]

    # The decision made on the page is the register's, and chat shows it.
    (decision,) = await harness.rows(Decision)
    assert decision.reasons == "Dealt with on the call; nothing more is needed."
    card = await latest_card(harness, AMY)
    assert "Decided: No further action" in texts(card)
    told = [s for s in harness.connector.to(SAM.chat_id) if s.cards]
    assert any(f"Decision on {reference}" in texts(s.card) for s in told)
    for name in ("workspace-home-kim", "workspace-register-search", "workspace-incident-decided"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000
