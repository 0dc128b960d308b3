"""A new user's journey in Microsoft's own Teams emulator, in a real browser.

The bot runs as `engagement-bot serve` would on a council's server (its own process, SQLite), and
two Microsoft 365 Agents Playgrounds play Teams for two people: Sam, a member of staff, and Amy,
the housing manager. Headless Chromium (driven by tests/e2e/journey.mjs with playwright-core)
opens both chats, sees the welcome cards, reports an incident through the dialog, decides as the
manager in the notification card, sees the reporter told and checks the customer. This test then
reads the register the journey left behind.

What the playground cannot do, and where that step is covered instead (through the real endpoint
with the recording connector on loopback):
- It cannot open a dialog from a card button (`task/fetch`: "Task module is not supported yet"),
  so the manager's decision dialog is filled in here as Teams sends it (`task/fetch`, then
  `task/submit`, from Amy's chat) and the browser sees her card updated; the dialog's own look is
  covered by tests/test_decide.py. The welcome card's "Report an incident" button is covered by
  tests/test_report.py::test_a_report_walked_step_by_step_reaches_the_register_and_the_managers;
  here the same dialog opens through the message-extension action (`composeExtension/fetchTask`,
  command `reportAsIncident`), which Teams offers as "Report as incident" on a message.
- It does not refresh cards per user (`refresh.userIds`), so "every manager's copy shows the
  decision" is covered by
  tests/test_decide.py::test_no_further_action_updates_every_managers_card_and_tells_the_reporter.
- It shows the dialog's closing message as an empty box (the confirmation card in the chat is read
  instead), and processes no app manifest (the package is checked against Microsoft's schema in
  tests/test_manifest.py).
"""

import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support import teams
from tests.support.dialog import button, dialog_card, values

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "node_modules"
PLAYGROUND = NODE_MODULES / ".bin" / "agentsplayground"
JOURNEY = Path(__file__).with_name("journey.mjs")
SHOTS = Path(os.environ.get("E2E_SCREENSHOTS", ROOT / "build" / "e2e"))
CUSTOMER = "Jordan Blake"

# The people `make run` signs in as, from the roles in roles.example.toml.
PLAYGROUND_START = ROOT / "scripts" / "playground" / "start"
ROLES = ROOT / "roles.example.toml"
STAFF_EMAIL = "sam.staff@council.example"
MANAGER_EMAIL = "amy.manager@council.example"

pytestmark = pytest.mark.e2e


def _missing_tools() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("node")
    if not PLAYGROUND.exists():
        missing.append("@microsoft/m365agentsplayground (npm install)")
    if not (NODE_MODULES / "playwright-core").exists():
        missing.append("playwright-core (npm install)")
    if not Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists():
        missing.append("chromium (apt-get install chromium)")
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not listen on {port} within {timeout} s:\n{log.read_text()[-3000:]}")


class Running:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.processes: list[subprocess.Popen] = []

    def start(self, args: list[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def journey_world(tmp_path: Path) -> Iterator[dict]:
    missing = _missing_tools()
    if missing:
        reason = "the end-to-end journey needs " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)

    database = tmp_path / "register.db"
    bot_port = _free_port()
    bot_env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "HOST": "127.0.0.1",
        "PORT": str(bot_port),
        "MICROSOFT_APP_ID": "",
        "MICROSOFT_APP_PASSWORD": "",
        "LOG_LEVEL": "INFO",
    }
    cli = [sys.executable, "-m", "bot.cli"]
    env = {**os.environ, **bot_env}
    subprocess.run([*cli, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([*cli, "roles", "import", str(ROLES)], cwd=ROOT, env=env, check=True, capture_output=True)

    running = Running(tmp_path)
    try:
        bot_log = tmp_path / "bot.log"
        bot = running.start([*cli, "serve"], env=bot_env, log=bot_log)
        _wait_for(bot_port, bot, "the bot", bot_log)

        urls = {}
        for who in ("manager", "staff"):
            home = tmp_path / who
            home.mkdir()
            port = _free_port()
            log = home / "playground.out"
            # As `make run` starts it: signed in by scripts/playground/config.py, on loopback only.
            playground = running.start(
                [
                    str(PLAYGROUND_START),
                    who,
                    str(port),
                    f"http://127.0.0.1:{bot_port}/api/messages",
                    str(home),
                ],
                env={"PYTHON": sys.executable},
                log=log,
                cwd=home,
            )
            _wait_for(port, playground, f"the {who}'s playground", log)
            urls[who] = f"http://127.0.0.1:{port}/"
        yield {
            "database": database,
            "urls": urls,
            "bot_log": bot_log,
            "env": env,
            "cli": cli,
            "bot_port": bot_port,
        }
    finally:
        running.stop()


def _run_journey(world: dict) -> dict[str, dict]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    journey = subprocess.Popen(
        ["node", str(JOURNEY)],
        cwd=ROOT,
        env={
            **os.environ,
            "STAFF_URL": world["urls"]["staff"],
            "MANAGER_URL": world["urls"]["manager"],
            "SHOTS": str(SHOTS),
            "SIGNALS": str(world["database"].parent),
            "CUSTOMER": CUSTOMER,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    steps = {}
    try:
        assert journey.stdout is not None
        for line in journey.stdout:
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            steps[entry.pop("step")] = entry
            if "reference" in entry and "confirmation" not in entry:  # awaiting the decision
                asyncio.run(_decide_as_amy(world, entry["reference"]))
                (world["database"].parent / f"decided-{entry['reference']}").touch()
        journey.wait(timeout=300)
    finally:
        if journey.poll() is None:
            journey.kill()
    if journey.returncode != 0:
        failed = steps.get("failed", {})
        bot_log = world["bot_log"].read_text()[-4000:]
        stderr = journey.stderr.read() if journey.stderr else ""
        raise AssertionError(
            f"the journey stopped at {failed.get('at')!r}: {failed.get('error')}\n"
            f"screenshots in {SHOTS}\n{stderr[-2000:]}\nbot log:\n{bot_log}"
        )
    return steps


DECISION = {
    "reasons": "Repeated calls about one repair are stopping other tenants reaching the team.",
    "needs_considered": "yes",
    "needs_considered_note": "No support needs are known; email suits the customer.",
    "restorative_not_possible_reason": "The calls continued after the customer was asked to stop.",
    "without_prior_warning_reason": "Staff were kept on the line for over an hour.",
    "restriction_1_type": "contact_channels",
    "restriction_1_details": "Contact by email only, about the open repair.",
    "restriction_1_scope": "service",
    "restriction_1_frontline_instructions": "Do not take calls; ask them to email housing.",
}


async def _decide_as_amy(world: dict, reference: str) -> None:
    """Amy's decision dialog, as Teams sends it from her chat in the playground: the button's
    `task/fetch`, then the form's `task/submit` with what she typed."""
    with sqlite3.connect(world["database"]) as db:
        (incident_id,) = db.execute("SELECT id FROM incidents WHERE reference = ?", (reference,)).fetchone()
        conversation_id, service_url, bot_id, tenant_id = db.execute(
            "SELECT c.conversation_id, c.service_url, c.bot_id, c.tenant_id FROM conversation_refs c "
            "JOIN people p ON p.id = c.person_id WHERE p.email = ? AND c.kind = 'personal'",
            (MANAGER_EMAIL,),
        ).fetchone()
        teams_id, aad = db.execute(
            "SELECT teams_user_id, aad_object_id FROM people WHERE email = ?", (MANAGER_EMAIL,)
        ).fetchone()
    amy = teams.Person("Amy Manager", MANAGER_EMAIL, aad, teams_id, conversation_id)
    bot = f"http://127.0.0.1:{world['bot_port']}/api/messages"

    async def invoke(name: str, data: dict) -> dict:
        activity = teams.invoke(amy, service_url, name, {"data": data, "context": {"theme": "default"}})
        # From Amy's chat in her playground, as it names the bot and the tenant.
        activity["recipient"]["id"] = bot_id
        activity["conversation"]["tenantId"] = tenant_id
        activity["channelData"] = {"tenant": {"id": tenant_id}}
        async with aiohttp.ClientSession() as http, http.post(bot, json=activity) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    opened = await invoke(
        "task/fetch",
        {"verb": "decision.form", "incident": incident_id, "kind": "active_management",
         "msteams": {"type": "task/fetch"}},
    )  # fmt: skip
    form = dialog_card(opened)
    closed = await invoke("task/submit", {**values(form), **DECISION, **button(form, "Record decision")})
    assert "Decided: Active management" in closed["task"]["value"], closed


def test_a_new_user_reports_and_the_manager_decides_in_the_teams_emulator(journey_world):
    steps = _run_journey(journey_world)

    welcome = steps["welcome card"]
    assert "Report an incident" in welcome["staff"] and "appeal INC-" not in welcome["staff"]
    assert "Manager of Housing" in welcome["manager"] and "appeal INC-" in welcome["manager"]

    reference = steps["report an incident"]["reference"]
    assert reference.startswith("INC-")
    assert "Housing" in steps["report an incident"]["confirmation"]

    decided = steps["decide as the manager"]["card"]
    assert "Active management" in decided and "Amy Manager" in decided
    assert "Restricting contact to named channels" in decided

    assert reference in steps["reporter told"]["card"]
    check = steps["check a customer"]["card"]
    assert CUSTOMER in check and "Do not take calls; ask them to email housing." in check

    # The register holds what the two people did, attributed to them by their Teams identities.
    register = sqlite3.connect(journey_world["database"])
    incident = register.execute(
        "SELECT i.category, i.channel, i.ended_contact, c.name, c.postcode, p.email, s.key "
        "FROM incidents i JOIN customers c ON c.id = i.customer_id JOIN people p ON p.id = i.reporter_id "
        "JOIN service_areas s ON s.id = i.service_area_id WHERE i.reference = ?",
        (reference,),
    ).fetchone()
    assert incident == ("two", "phone", 1, CUSTOMER, "AB1 2CD", STAFF_EMAIL, "housing")
    decision = register.execute(
        "SELECT d.kind, p.email, r.type, r.status, r.frontline_instructions FROM decisions d "
        "JOIN people p ON p.id = d.decided_by_id JOIN restrictions r ON r.decision_id = d.id "
        "JOIN incidents i ON i.id = d.incident_id WHERE i.reference = ?",
        (reference,),
    ).fetchone()
    assert decision[:4] == ("active_management", MANAGER_EMAIL, "contact_channels", "active")
    # The policy's standing instruction is added to whatever the manager wrote.
    assert decision[4] == (
        "Do not take calls; ask them to email housing.\nThis never stops the customer reporting an emergency."
    )
    actions = [row[0] for row in register.execute("SELECT action FROM audit_events ORDER BY seq")]
    for expected in ("incident.reported", "decision.recorded", "customer.checked"):
        assert expected in actions, f"{expected} missing from the audit trail: {actions}"
    # Everything for the two people in the journey reached their emulator. (Others in the roles
    # file never opened the bot: what the scheduler queues for them, such as the register keeper's
    # monthly access report in working hours, waits for them, as it would in Teams.)
    unsent = register.execute(
        "SELECT o.purpose, o.status FROM outbox o JOIN people p ON p.id = o.person_id "
        "WHERE p.email IN (?, ?) AND o.status != 'sent'",
        (STAFF_EMAIL, MANAGER_EMAIL),
    ).fetchall()
    assert unsent == []
    reached = register.execute(
        "SELECT count(*) FROM outbox o JOIN people p ON p.id = o.person_id "
        "WHERE p.email IN (?, ?) AND o.status = 'sent'",
        (STAFF_EMAIL, MANAGER_EMAIL),
    ).fetchone()[0]
    assert reached >= 3  # the manager's card, its update after the decision, the reporter told
    register.close()

    verified = subprocess.run(
        [*journey_world["cli"], "audit", "verify"],
        cwd=ROOT,
        env=journey_world["env"],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
