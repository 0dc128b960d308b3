"""The Teams app package: manifest.json with this bot's app id, and its two icons, zipped."""

import json
import zipfile
from pathlib import Path
from typing import Any

MANIFEST_DIR = Path(__file__).resolve().parents[1] / "manifest"
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def manifest_for(app_id: str, *, source: Path = MANIFEST_DIR) -> dict[str, Any]:
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    for extension in manifest.get("composeExtensions", []):
        extension["botId"] = app_id
    return manifest


def build(app_id: str, out: Path, *, source: Path = MANIFEST_DIR) -> Path:
    manifest = manifest_for(app_id, source=source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2))
        for icon in (manifest["icons"]["color"], manifest["icons"]["outline"]):
            package.write(source / icon, icon)
    return out
