"""Configuration: every setting is documented in .env.example, and it loads as written."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from bot.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"


def _env_names(model: type[BaseModel], prefix: str) -> set[str]:
    names = set()
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= _env_names(kind, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_documented_in_env_example():
    documented = set(re.findall(r"^(WHOKNOWS_\w+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert documented == _env_names(Settings, "WHOKNOWS_")


def test_env_example_loads_to_the_defaults():
    loaded = Settings(_env_file=ENV_EXAMPLE)
    assert loaded == Settings(_env_file=None)


def test_nested_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("WHOKNOWS_WEIGHTS__NETWORK", "2.5")
    monkeypatch.setenv("WHOKNOWS_DB_PATH", "/tmp/x.db")
    settings = Settings(_env_file=None)
    assert settings.weights.network == 2.5
    assert settings.db_path == Path("/tmp/x.db")
