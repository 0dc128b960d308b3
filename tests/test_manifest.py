"""The Teams app package a council's administrator uploads, checked against Microsoft's own schema."""

import io
import json
import os
import uuid
import zipfile
from importlib import metadata
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from bot import app_package, cli

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
    # From manifest 1.25 a team-scoped app declares the channel features it supports, in place of the
    # channel types it used to list; the review group's channel is a standard one (docs/deploy.md).
    assert manifest["supportsChannelFeatures"] == "tier1"
    assert "supportedChannelTypes" not in manifest
    assert manifest["validDomains"] == ["bot.example:8443"]
    # Graph installs the app for a person only where the manifest names the bot's Entra app.
    assert manifest["webApplicationInfo"] == {"id": APP_ID, "resource": f"api://bot.example/{APP_ID}"}


def _built_files(tmp_path: Path, monkeypatch) -> dict[str, bytes]:
    status, out = _build(tmp_path, monkeypatch, "--app-id", APP_ID, "--public-url", "https://bot.example")
    assert status == 0
    with zipfile.ZipFile(out) as package:
        return {name: package.read(name) for name in package.namelist()}


def test_the_built_package_passes_teams_upload_rules(tmp_path, monkeypatch):
    files = _built_files(tmp_path, monkeypatch)
    manifest = json.loads(files["manifest.json"])
    assert app_package.upload_problems(files) == []
    assert tuple(int(n) for n in manifest["manifestVersion"].split(".")) >= (1, 25)
    assert manifest["$schema"].endswith(f"/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json")


def _with(change):
    """A function changing a copy of a built package's files in one way Teams refuses."""

    def broken(files: dict[str, bytes]) -> dict[str, bytes]:
        manifest = json.loads(files["manifest.json"])
        files = dict(files)
        change(manifest, files)
        files["manifest.json"] = json.dumps(manifest).encode()
        return files

    return broken


def _small_png(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size).save(out, "PNG")
    return out.getvalue()


# Each is a package Microsoft's schema for 1.25 accepts or cannot judge, and Teams refuses at upload.
REFUSED = {
    "supportedChannelTypes": _with(lambda m, f: m.update(supportedChannelTypes=["privateChannels"])),
    "no supportsChannelFeatures": _with(lambda m, f: m.pop("supportsChannelFeatures")),
    "older manifest": _with(
        lambda m, f: m.update({"manifestVersion": "1.24", "$schema": m["$schema"].replace("v1.25", "v1.24")})
    ),
    "$schema of another version": _with(
        lambda m, f: m.update({"$schema": m["$schema"].replace("v1.25", "v1.24")})
    ),
    "bot of another app": _with(lambda m, f: m["bots"][0].update(botId=str(uuid.uuid4()))),
    "action of another bot": _with(lambda m, f: m["composeExtensions"][0].update(botId=str(uuid.uuid4()))),
    "id not a GUID": _with(lambda m, f: m.update(id="customer-engagement")),
    "packageName": _with(lambda m, f: m.update(packageName="uk.gov.council.engagement")),
    "domain with a scheme": _with(lambda m, f: m.update(validDomains=["https://bot.example"])),
    "domain with a path": _with(lambda m, f: m.update(validDomains=["bot.example/api"])),
    "short name over 30": _with(lambda m, f: m["name"].update(short="Customer Engagement Register UK")),
    "short description over 80": _with(lambda m, f: m["description"].update(short="x" * 81)),
    "full description over 4000": _with(lambda m, f: m["description"].update(full="x" * 4001)),
    "same short and full name": _with(lambda m, f: m["name"].update(full=m["name"]["short"])),
    "version not semver": _with(lambda m, f: m.update(version="1.0")),
    "developer URL not https": _with(lambda m, f: m["developer"].update(privacyUrl="http://council.example")),
    "colour icon 32x32": _with(lambda m, f: f.update({"color.png": _small_png((32, 32))})),
    "outline icon 192x192": _with(lambda m, f: f.update({"outline.png": _small_png((192, 192))})),
    "icon not PNG": _with(lambda m, f: f.update({"color.png": b"GIF89a"})),
    "icon not in the package": _with(lambda m, f: f.pop("outline.png")),
}


@pytest.mark.parametrize("broken", REFUSED.values(), ids=REFUSED.keys())
def test_upload_rules_refuse_what_teams_refuses(tmp_path, monkeypatch, broken):
    files = broken(_built_files(tmp_path, monkeypatch))
    # Exactly one: each rule is seen to refuse on its own, not because another happened to.
    assert len(app_package.upload_problems(files)) == 1


def test_the_schema_alone_would_let_supported_channel_types_through(tmp_path, monkeypatch):
    # Why the rules above exist: Microsoft's 1.25 schema still defines the old property.
    files = REFUSED["supportedChannelTypes"](_built_files(tmp_path, monkeypatch))
    manifest = json.loads(files["manifest.json"])
    assert _problems(manifest) == []
    assert any("supportedChannelTypes" in p for p in app_package.upload_problems(files))


def test_a_manifest_teams_would_refuse_is_not_packaged(tmp_path, monkeypatch, capsys):
    source = tmp_path / "manifest"
    source.mkdir()
    for name in ("color.png", "outline.png"):
        (source / name).write_bytes((ROOT / "manifest" / name).read_bytes())
    manifest = json.loads((ROOT / "manifest" / "manifest.json").read_text(encoding="utf-8"))
    manifest["supportedChannelTypes"] = ["privateChannels"]
    (source / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "app.zip"
    with pytest.raises(app_package.PackageError, match="supportedChannelTypes"):
        app_package.build(APP_ID, "https://bot.example", out, source=source)
    assert not out.exists()


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


def test_the_workspace_tab_is_a_personal_tab_served_by_the_bot_beside_its_chat(tmp_path, monkeypatch):
    _, out = _build(tmp_path, monkeypatch, "--app-id", APP_ID, "--public-url", "https://bot.example:8443")
    with zipfile.ZipFile(out) as package:
        manifest = json.loads(package.read("manifest.json"))
    assert _problems(manifest) == []
    tabs = {t["entityId"]: t for t in manifest["staticTabs"]}
    # With a static tab, a bot's chat shows only if the app lists it ("conversations") too.
    assert list(tabs) == ["conversations", "workspace", "about"]
    workspace = tabs["workspace"]
    assert workspace["contentUrl"] == "https://bot.example:8443/tab"
    assert workspace["scopes"] == ["personal"] and workspace["name"] == "Register"
    # Teams SSO asks Entra for a token to this resource; the bot accepts it as a v1 token's audience.
    assert manifest["webApplicationInfo"]["resource"] == f"api://bot.example/{APP_ID}"
