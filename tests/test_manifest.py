"""The Teams app package validates against Microsoft's own manifest schema."""

import json
import os
import zipfile
from pathlib import Path

import jsonschema
import pytest

from bot import app_package

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


def test_built_package_is_valid_for_teams(tmp_path):
    out = app_package.build(APP_ID, tmp_path / "app.zip")
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
    jsonschema.validate(manifest, _schema_for(manifest))
    assert manifest["id"] == APP_ID
    assert {b["botId"] for b in manifest["bots"]} == {APP_ID}
    assert {e["botId"] for e in manifest.get("composeExtensions", [])} <= {APP_ID}


def test_icons_are_the_sizes_teams_requires():
    def size(path: Path) -> tuple[int, int]:
        header = path.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n"
        return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")

    assert size(ROOT / "manifest" / "color.png") == (192, 192)
    assert size(ROOT / "manifest" / "outline.png") == (32, 32)
