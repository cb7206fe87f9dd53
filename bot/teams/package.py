"""Build the Teams app package to sideload or upload: a zip of `appPackage/` (manifest.json,
color.png, outline.png at its root) with the bot's app id filled in.

    python -m bot.teams.package                       # app id from WHOKNOWS_TEAMS__APP_ID
    python -m bot.teams.package --app-id <GUID> --out whoknows-teams.zip
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path

from bot.settings import get_settings

PACKAGE = Path(__file__).resolve().parent / "appPackage"
FILES = ("manifest.json", "color.png", "outline.png")
PLACEHOLDER = "${{BOT_ID}}"
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def manifest(app_id: str) -> dict:
    """The manifest with the bot's Microsoft App ID filled in."""
    if not GUID.match(app_id):
        raise ValueError(f"the app id must be the bot registration's GUID, not {app_id!r}")
    text = (PACKAGE / "manifest.json").read_text(encoding="utf-8")
    return json.loads(text.replace(PLACEHOLDER, app_id))


def build(app_id: str, out: Path) -> Path:
    """Write the app package zip to `out`."""
    filled = manifest(app_id)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(filled, indent=2, ensure_ascii=False))
        for name in FILES[1:]:
            archive.write(PACKAGE / name, name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-id", default="", help="default: WHOKNOWS_TEAMS__APP_ID")
    parser.add_argument("--out", type=Path, default=Path("whoknows-teams.zip"))
    args = parser.parse_args()
    app_id = args.app_id or get_settings().teams.app_id
    if not app_id:
        parser.error("give --app-id or set WHOKNOWS_TEAMS__APP_ID")
    print(f"wrote {build(app_id, args.out)}")


if __name__ == "__main__":
    main()
