"""Input checks of the store that need no store: artifact names."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput
from loopml.store.validation import check_artifact_name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("\uff0e\uff0e\uff0fsecret", "'..' segment"),  # full-width dots and slash
        ("%C0%AE%C0%AE/x", "not valid UTF-8"),
        ("..;jsessionid=1/x", "'..' segment"),
        ("a\\..\\b", "'..' segment"),
        ("%252e%252e", None),  # double encoding decodes once to '%2e%2e': a literal name, harmless
        ("x\ud800", "not valid UTF-8"),
        ("tab\u0085", "control character"),
    ],
)
def test_names_are_checked_normalised_and_decoded(name: str, rule: str | None) -> None:
    if rule is None:
        assert check_artifact_name(name) == name
        return
    with pytest.raises(InvalidInput, match=rule):
        check_artifact_name(name)


@pytest.mark.parametrize("name", ["model", "plots/roc.svg", "a..b", "...", "données/été", "v1;2"])
def test_plain_names_are_kept_as_given(name: str) -> None:
    assert check_artifact_name(name) == name
