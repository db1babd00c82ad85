"""``models:/`` URI parsing and the promotion policy's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import InvalidInput
from loopml.registry import ModelUri, PromotionPolicy, parse_model_uri


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models:/churn@champion", ModelUri(name="churn", alias="champion")),
        ("models:/churn/3", ModelUri(name="churn", version=3)),
        ("models:/churn/latest", ModelUri(name="churn", is_latest=True)),
        ("models:/my model.v2@staging-eu", ModelUri(name="my model.v2", alias="staging-eu")),
    ],
)
def test_valid_uris_round_trip(text: str, expected: ModelUri) -> None:
    assert parse_model_uri(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    [
        "models:/churn",
        "models:/churn/0",
        "models:/churn/-1",
        "models:/a/b/1",
        "models:/@x",
        "runs:/x/1",
        "models:/churn@",
        "models:/churn@1bad",
        "models://churn/1",
        "models:/churn/1.5",
    ],
)
def test_invalid_uris_list_the_accepted_forms(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"Accepted forms: models:/NAME@ALIAS, models:/NAME/VERSION"):
        parse_model_uri(text)


def test_policy_from_yaml_and_toml(tmp_path: Path) -> None:
    yaml_file = tmp_path / "policy.yaml"
    yaml_file.write_text(
        "promotion:\n  production_aliases: [live]\n  other: {require_safe_scan: true}\n"
        "  aliases:\n    canary: {require_blessing: true}\n"
    )
    policy = PromotionPolicy.load(yaml_file)
    assert policy.is_production("live") and not policy.is_production("champion")
    assert policy.requirements_for("canary").require_blessing
    assert not policy.requirements_for("staging").require_blessing
    toml_file = tmp_path / "policy.toml"
    toml_file.write_text("[promotion.production]\nrequire_blessing = false\n")
    assert not PromotionPolicy.load(toml_file).requirements_for("champion").require_blessing
    bad = tmp_path / "bad.yaml"
    bad.write_text("promotion:\n  production: {require_everything: true}\n")
    with pytest.raises(InvalidInput, match="require_everything"):
        PromotionPolicy.load(bad)
