"""Settings: defaults, environment, loopml.toml, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.config import load_settings
from loopml.errors import InvalidInput


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = load_settings({}, home=tmp_path)
    assert s.resolved_store_url() == f"sqlite:///{tmp_path / 'store.db'}"
    assert s.resolved_artifacts_url() == str(tmp_path / "artifacts")


def test_environment_wins_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "loopml.toml"
    cfg.write_text('[loopml]\nhome = "/from/file"\nartifacts_url = "memory://a"\n')
    s = load_settings({"LOOPML_HOME": "/from/env"}, config_file=cfg)
    assert s.home == Path("/from/env")
    assert s.artifacts_url == "memory://a"


def test_bad_value_names_key_and_value() -> None:
    with pytest.raises(InvalidInput) as info:
        load_settings({"LOOPML_METRIC_FLUSH_SIZE": "lots"})
    assert "LOOPML_METRIC_FLUSH_SIZE" in str(info.value)
    assert "'lots'" in str(info.value)


def test_bad_tracking_uri_is_refused() -> None:
    with pytest.raises(InvalidInput, match="LOOPML_TRACKING_URI"):
        load_settings({"LOOPML_TRACKING_URI": "ftp://x"})


def test_unreadable_toml_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "loopml.toml"
    cfg.write_text("home = [unclosed\n")
    with pytest.raises(InvalidInput, match="Cannot read settings file"):
        load_settings({}, config_file=cfg)


def test_artifacts_encryption_key_from_env_and_default() -> None:
    assert load_settings({}).artifacts_encryption_key is None
    key = "00" * 32
    assert load_settings({"LOOPML_ARTIFACTS_ENCRYPTION_KEY": key}).artifacts_encryption_key == key
