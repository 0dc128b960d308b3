"""The `engagement-bot` command line, run as a person would run it."""

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.teams import ROLES_TOML


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "DATABASE_"))}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**environment, "PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("args", [[], ["serve"], ["db"], ["db", "upgrade"], ["roles"], ["roles", "import"]])
def test_help_on_everything(tmp_path, args):
    result = run(*args, "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "usage: engagement-bot" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "eighty"}, "PORT must be a whole number, not 'eighty'"),
        ({"MICROSOFT_APP_ID": "abc"}, "MICROSOFT_APP_PASSWORD is required"),
        ({"MICROSOFT_APP_ID": "a", "MICROSOFT_APP_PASSWORD": "b"}, "MICROSOFT_APP_TENANT_ID is required"),
        ({"BANK_HOLIDAYS": "2026-12-25,Boxing Day"}, "BANK_HOLIDAYS must list dates like 2026-12-25"),
        ({"REVIEW_DEFAULT_MONTHS": "13"}, "REVIEW_DEFAULT_MONTHS cannot be more than REVIEW_MAX_MONTHS"),
        (
            {"MICROSOFT_APP_TYPE": "Sometimes"},
            "MICROSOFT_APP_TYPE must be SingleTenant, UserAssignedMSI or MultiTenant",
        ),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE 'Mars/Olympus' is not a known time zone"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL needs an async driver"),
        (
            {
                "MICROSOFT_APP_ID": "a",
                "MICROSOFT_APP_PASSWORD": "b",
                "MICROSOFT_APP_TYPE": "SingleTenant",
            },
            "MICROSOFT_APP_TENANT_ID is required",
        ),
    ],
)
def test_invalid_configuration_stops_with_one_clear_line(tmp_path, env, message):
    result = run("db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert message in lines[0]


def test_serve_refuses_to_listen_beyond_this_machine_without_an_app_id(tmp_path):
    result = run("serve", "--host", "0.0.0.0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "engagement-bot: configuration error: without MICROSOFT_APP_ID the bot listens on this "
        "machine only, not on 0.0.0.0"
    )
    bad_port = run("serve", "--port", "70000", cwd=tmp_path)
    assert bad_port.returncode == 2
    assert "70000 is not between 1 and 65535" in bad_port.stderr


def test_serve_refuses_letter_templates_that_lack_what_their_letters_need(tmp_path):
    from docx import Document

    from letters.make_templates import write_all

    templates = tmp_path / "templates"
    write_all(templates)
    document = Document(str(templates / "active_management.docx"))
    for paragraph in document.paragraphs:
        if paragraph.text == "{{ sharing }}":
            paragraph.text = "Nothing is shared."
    document.save(str(templates / "active_management.docx"))
    result = run("serve", cwd=tmp_path, env={"LETTER_TEMPLATE_DIR": str(templates)})
    assert result.returncode == 2
    assert result.stderr.strip().endswith("active_management.docx lacks sharing")


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("PORT=nonsense\n")
    result = run("db", "upgrade", cwd=tmp_path)
    assert "PORT must be a whole number" in result.stderr


def test_db_upgrade_creates_the_default_sqlite_register(tmp_path):
    result = run("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "engagement.db"
    tables = {r[0] for r in sqlite3.connect(database).execute("select name from sqlite_master")}
    assert {"incidents", "restrictions", "appeals", "audit_events", "outbox"} <= tables


def test_roles_import_reports_changes_and_refuses_a_bad_file_whole(tmp_path):
    (tmp_path / "roles.toml").write_text(ROLES_TOML)
    first = run("roles", "import", "roles.toml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "6 granted" in first.stdout
    again = run("roles", "import", "roles.toml", cwd=tmp_path)
    assert "no changes" in again.stdout

    (tmp_path / "bad.toml").write_text('[roles]\nregister_keepers = []\nchief_executive = ["nobody"]\n')
    bad = run("roles", "import", "bad.toml", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "bad.toml: line 3: 'nobody' in chief_executive is neither an email address or "
        "UPN nor an AAD object id (nothing was changed)"
    )
    database = tmp_path / "data" / "engagement.db"
    keepers = (
        sqlite3.connect(database)
        .execute("select count(*) from role_assignments where role = 'register_keeper'")
        .fetchone()[0]
    )
    assert keepers == 1  # the refused file, which had none, changed nothing

    missing = run("roles", "import", "nowhere.toml", cwd=tmp_path)
    assert missing.returncode == 2
    assert "cannot read nowhere.toml" in missing.stderr


def test_roles_import_if_empty_fills_a_new_register_and_never_replaces_roles(tmp_path):
    (tmp_path / "roles.toml").write_text(ROLES_TOML)
    (tmp_path / "example.toml").write_text('[service_areas.parks]\nname = "Parks"\nmanagers = []\n')
    first = run("roles", "import", "--if-empty", "example.toml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "1 service areas added" in first.stdout

    run("roles", "import", "roles.toml", cwd=tmp_path)
    again = run("roles", "import", "--if-empty", "example.toml", cwd=tmp_path)
    assert again.returncode == 0
    assert "the register already has its roles" in again.stdout
    database = tmp_path / "data" / "engagement.db"
    granted = sqlite3.connect(database).execute("select count(*) from role_assignments").fetchone()[0]
    assert granted == 6  # roles.toml's, untouched


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_migrates_warns_it_is_local_only_and_answers_healthz(tmp_path):
    port = _free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MICROSOFT_", "DATABASE_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(Path(__file__).parents[1])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "requests are not authenticated; fit for local use only" in output
    # Letters would go out with no address to reply to: said once, naming what to set.
    (letterhead,) = [line for line in output.splitlines() if "letters have no full letterhead" in line]
    assert "COUNCIL_ADDRESS" in letterhead
    assert (tmp_path / "data" / "engagement.db").exists()
