"""The Teams app package: manifest.json with this bot's app id and host, and its two icons, zipped."""

import json
import uuid
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import manifest

MANIFEST_DIR = Path(manifest.__file__).parent


class PackageError(ValueError):
    """Configuration that would give Teams a package it refuses."""


def host_of(public_url: str) -> str:
    """The domain Teams users' browsers reach the bot on (letters download from there)."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PackageError(f"PUBLIC_URL {public_url!r} is not an http(s) address")
    return parts.netloc


def manifest_for(app_id: str, public_url: str, *, source: Path = MANIFEST_DIR) -> dict[str, Any]:
    try:
        uuid.UUID(app_id)
    except ValueError:
        raise PackageError(f"the app id {app_id!r} is not a GUID (the bot's Entra application id)") from None
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    manifest["id"] = app_id
    # Teams updates an uploaded app only when the version goes up: it follows the bot's release.
    manifest["version"] = metadata.version("engagement-bot")
    for bot in manifest.get("bots", []):
        bot["botId"] = app_id
    for extension in manifest.get("composeExtensions", []):
        extension["botId"] = app_id
    manifest["validDomains"] = [host_of(public_url)]
    return manifest


def build(app_id: str, public_url: str, out: Path, *, source: Path = MANIFEST_DIR) -> Path:
    manifest = manifest_for(app_id, public_url, source=source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2))
        for icon in (manifest["icons"]["color"], manifest["icons"]["outline"]):
            package.write(source / icon, icon)
    return out
