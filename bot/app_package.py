"""The Teams app package: manifest.json with this bot's app id and host, and its two icons, zipped.

Before anything is written the package is checked against the rules Teams applies at upload that
Microsoft's JSON schema does not express (a package that breaks one is refused in the admin centre,
after the council has waited for it), so `manifest build` fails here instead.
"""

import json
import re
import struct
import uuid
import zipfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import manifest
from dialogs.workspace_links import WORKSPACE_TAB

MANIFEST_DIR = Path(manifest.__file__).parent
# Manifest 1.25 replaced supportedChannelTypes with supportsChannelFeatures; Teams refuses a team-scoped
# app on 1.25 or later that lacks the new property or still carries the old one.
CHANNEL_FEATURES_FROM = (1, 25)
# packageName left the schema in 1.17; later schemas forbid properties they do not define.
PACKAGE_NAME_UNTIL = (1, 17)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ICON_SIZES = {"color": (192, 192), "outline": (32, 32), "color32x32": (32, 32)}
# Lengths from Microsoft's manifest reference (name.short 30, name.full 100, description 80 and 4000).
TEXT_LIMITS = (
    ("name", "short", 30),
    ("name", "full", 100),
    ("description", "short", 80),
    ("description", "full", 4000),
)
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
SCHEMA_URL = re.compile(r"^https://developer\.microsoft\.com/(en-us/)?json-schemas/teams/v(?P<version>[\d.]+)/")


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
    # The workspace tab is served by the bot itself (bot/tab.py), from the same host.
    for tab in manifest.get("staticTabs", []):
        if tab.get("entityId") == WORKSPACE_TAB:
            tab["contentUrl"] = f"{public_url.rstrip('/')}/tab"
    # The bot's Entra app, as Microsoft Graph needs it named for the app to install itself for a
    # person (`GRAPH_INSTALL`, TeamsAppInstallation.ReadWriteSelfForUser.All).
    # Its resource is the Application ID URI Entra takes for an app served from a host of ours.
    hostname = urlsplit(public_url).hostname
    manifest["webApplicationInfo"] = {"id": app_id, "resource": f"api://{hostname}/{app_id}"}
    return manifest


def package_files(app_id: str, public_url: str, *, source: Path = MANIFEST_DIR) -> dict[str, bytes]:
    """The package's files by name, as they go into the zip."""
    manifest = manifest_for(app_id, public_url, source=source)
    files = {"manifest.json": json.dumps(manifest, indent=2).encode("utf-8")}
    for icon in manifest.get("icons", {}).values():
        files[icon] = (source / icon).read_bytes()
    return files


def build(app_id: str, public_url: str, out: Path, *, source: Path = MANIFEST_DIR) -> Path:
    files = package_files(app_id, public_url, source=source)
    problems = upload_problems(files)
    if problems:
        raise PackageError("Teams would refuse this package: " + "; ".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, content in files.items():
            package.writestr(name, content)
    return out


def upload_problems(files: Mapping[str, bytes]) -> list[str]:
    """What Teams' upload validation would refuse in a package, given its files by name (none: accepted)."""
    if "manifest.json" not in files:
        return ["there is no manifest.json at the top of the package"]
    try:
        manifest = json.loads(files["manifest.json"])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ["manifest.json is not JSON"]
    return [
        *_version_problems(manifest),
        *_channel_problems(manifest),
        *_id_problems(manifest),
        *_text_problems(manifest),
        *_domain_problems(manifest),
        *_icon_problems(manifest, files),
    ]


def _version(text: object) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(text).split("."))
    except ValueError:
        return ()


def _version_problems(manifest: Mapping[str, Any]) -> list[str]:
    problems = []
    version = _version(manifest.get("manifestVersion"))
    if version < CHANNEL_FEATURES_FROM:
        problems.append(f"manifestVersion {manifest.get('manifestVersion')!r} is older than 1.25")
    schema = SCHEMA_URL.match(str(manifest.get("$schema", "")))
    if not schema or _version(schema["version"]) != version:
        problems.append("$schema is not Microsoft's Teams schema for the manifestVersion")
    if not SEMVER.match(str(manifest.get("version", ""))):
        problems.append(f"version {manifest.get('version')!r} is not MAJOR.MINOR.PATCH")
    if "packageName" in manifest and version >= PACKAGE_NAME_UNTIL:
        problems.append("packageName is not allowed from manifest 1.17")
    if not HEX_COLOUR.match(str(manifest.get("accentColor", ""))):
        problems.append("accentColor is not an HTML colour like #4464ee")
    return problems


def _channel_problems(manifest: Mapping[str, Any]) -> list[str]:
    if _version(manifest.get("manifestVersion")) < CHANNEL_FEATURES_FROM:
        return []
    problems = []
    if "supportedChannelTypes" in manifest:
        problems.append("supportedChannelTypes is refused from manifest 1.25 (use supportsChannelFeatures)")
    scoped = [*manifest.get("bots", []), *manifest.get("configurableTabs", [])]
    if any("team" in item.get("scopes", []) for item in scoped) and (
        manifest.get("supportsChannelFeatures") != "tier1"
    ):
        problems.append('an app with the team scope must declare "supportsChannelFeatures": "tier1"')
    return problems


def _id_problems(manifest: Mapping[str, Any]) -> list[str]:
    app_id = str(manifest.get("id", ""))
    try:
        uuid.UUID(app_id)
    except ValueError:
        return [f"id {app_id!r} is not a GUID"]
    problems = []
    if len(manifest.get("bots", [])) > 1:
        problems.append("an app has at most one bot")
    # The bot and its message action are this app's own registration, not some other bot's.
    for section in ("bots", "composeExtensions"):
        if any(item.get("botId") != app_id for item in manifest.get(section, [])):
            problems.append(f"{section}: botId is not the app's id")
    return problems


def _text_problems(manifest: Mapping[str, Any]) -> list[str]:
    problems = []
    for part, key, limit in TEXT_LIMITS:
        text = manifest.get(part, {}).get(key)
        required = key == "short" or part == "description"
        if required and not text:
            problems.append(f"{part}.{key} is missing")
        elif text and len(text) > limit:
            problems.append(f"{part}.{key} is {len(text)} characters, more than {limit}")
    for part in ("name", "description"):
        short, full = (manifest.get(part, {}).get(key) for key in ("short", "full"))
        if short is not None and short == full:
            problems.append(f"{part}.short and {part}.full must differ")
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        if not str(manifest.get("developer", {}).get(key, "")).startswith("https://"):
            problems.append(f"developer.{key} is not an https:// address")
    return problems


def _domain_problems(manifest: Mapping[str, Any]) -> list[str]:
    # Teams wants bare domains (wildcards allowed), not addresses: no scheme, path or query.
    return [
        f"validDomains entry {domain!r} is not a bare domain"
        for domain in manifest.get("validDomains", [])
        if not domain or any(mark in domain for mark in ("://", "/", "?", "#", " "))
    ]


def _icon_problems(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> list[str]:
    icons = manifest.get("icons", {})
    problems = [f"icons.{kind} is missing" for kind in ("color", "outline") if kind not in icons]
    for kind, name in icons.items():
        expected = ICON_SIZES.get(kind)
        if name not in files:
            problems.append(f"icons.{kind}: {name!r} is not in the package")
        elif expected and _png_size(files[name]) != expected:
            width, height = expected
            problems.append(f"icons.{kind}: {name!r} is not a {width}x{height} PNG")
    return problems


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's header chunk (IHDR comes first), or None if it is not a PNG."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height
