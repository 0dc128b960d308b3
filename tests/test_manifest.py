"""The Teams app package a council's administrator uploads, checked against Microsoft's own schema."""

import json
import os
import zipfile
from importlib import metadata
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from bot import cli

ROOT = Path(__file__).parents[1]
SCHEMAS = ROOT / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
APP_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def _schema_for(manifest: dict) -> dict:
    path = SCHEMAS / f"v{manifest['manifestVersion']}" / "MicrosoftTeams.schema.json"
    if not path.exists():
        reason = f"no Teams manifest schema at {path.relative_to(ROOT)}: run npm install"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return json.loads(path.read_text(encoding="utf-8"))


def _problems(manifest: dict) -> list[str]:
    schema = _schema_for(manifest)
    # Microsoft's schema uses \\p{L} in a pattern the manifest never reaches; Python's re cannot
    # compile it, so the schema itself is not checked against its metaschema, only the manifest.
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]


def _build(tmp_path: Path, monkeypatch, *args: str) -> tuple[int, Path]:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    out = tmp_path / "app.zip"
    return cli.main(["manifest", "build", "--out", str(out), *args]), out


def test_the_built_package_is_what_teams_accepts(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PUBLIC_URL", "https://engagement.council.example")
    status, out = _build(tmp_path, monkeypatch, "--app-id", APP_ID)
    assert status == 0, capsys.readouterr().err
    assert f"written to {out}" in capsys.readouterr().out
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    assert _problems(manifest) == []
    assert manifest["id"] == APP_ID
    assert {b["botId"] for b in manifest["bots"]} == {APP_ID}
    assert {e["botId"] for e in manifest["composeExtensions"]} == {APP_ID}
    assert manifest["validDomains"] == ["engagement.council.example"]
    assert manifest["version"] == metadata.version("engagement-bot")


def test_the_package_offers_what_the_bot_answers(tmp_path, monkeypatch):
    _, out = _build(tmp_path, monkeypatch, "--app-id", APP_ID, "--public-url", "https://bot.example:8443")
    with zipfile.ZipFile(out) as package:
        manifest = json.loads(package.read("manifest.json"))
    (bot,) = manifest["bots"]
    assert sorted(bot["scopes"]) == ["personal", "team"]
    personal = next(c for c in bot["commandLists"] if c["scopes"] == ["personal"])
    assert [c["title"] for c in personal["commands"]] == ["report", "check", "appeal", "stats", "help"]
    team = next(c for c in bot["commandLists"] if c["scopes"] == ["team"])
    assert "set review group channel" in [c["title"] for c in team["commands"]]
    (action,) = manifest["composeExtensions"][0]["commands"]
    # The id is what the bot routes on; the title is what staff see on a message's menu.
    assert (action["id"], action["type"], action["title"], action["context"]) == (
        "reportAsIncident",
        "action",
        "Report as incident",
        ["message"],
    )
    assert action["fetchTask"] is True
    # A Complaints Review Group usually meets in a private channel; the bot must be able to post there.
    assert "privateChannels" in manifest["supportedChannelTypes"]
    assert manifest["validDomains"] == ["bot.example:8443"]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "give --app-id or set MICROSOFT_APP_ID"),
        (("--app-id", "my-bot"), "is not a GUID"),
        (("--app-id", APP_ID, "--public-url", "engagement.council.example"), "is not an http(s) address"),
    ],
)
def test_a_package_teams_would_refuse_is_not_written(tmp_path, monkeypatch, capsys, args, error):
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    status, out = _build(tmp_path, monkeypatch, *args)
    assert status == 2
    assert error in capsys.readouterr().err
    assert not out.exists()


def test_icons_are_the_sizes_and_kinds_teams_requires():
    color = Image.open(ROOT / "manifest" / "color.png")
    assert color.format == "PNG" and color.size == (192, 192)
    outline = Image.open(ROOT / "manifest" / "outline.png")
    assert outline.format == "PNG" and outline.size == (32, 32)
    # The outline icon is white on a transparent background: Teams tints it.
    pixels = list(outline.convert("RGBA").get_flattened_data())
    assert any(alpha == 0 for *_, alpha in pixels), "the background must be transparent"
    opaque = [rgb for *rgb, alpha in pixels if alpha > 0]
    assert opaque and all(rgb == [255, 255, 255] for rgb in opaque), "the drawing must be white"
