"""Deployment specs and documents: every bad field refused with its name; round trips; diffs."""

from __future__ import annotations

from typing import Any

import pytest

from loopml.deploy.documents import diff_documents, read_document, spec_to_document
from loopml.deploy.policy import GateThresholds, RolloutPolicy
from loopml.deploy.spec import ABArm, ABSplit, Canary, DeploymentSpec, Ensemble, EnsembleMember, Shadow
from loopml.errors import InvalidInput

P = "models:/churn@champion"
V2 = "models:/churn/2"


def test_a_full_spec_round_trips_through_its_document() -> None:
    doc: dict[str, Any] = {
        "name": "churn",
        "primary": "blend",
        "canary": {"target": V2, "weight": 5},
        "shadows": [{"name": "next", "target": "models:/churn/3", "mirror_percent": 50}],
        "ensembles": [
            {
                "name": "blend",
                "method": "weighted",
                "members": [{"target": P, "weight": 2.0}, {"target": V2, "weight": 1.0}],
            }
        ],
    }
    spec, policy = read_document(doc)
    assert spec_to_document(spec) == doc
    assert policy == RolloutPolicy()
    assert spec.model_uris() == (V2, "models:/churn/3", P)


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"name": "churn", "primary": P, "canary": {"target": V2, "wieght": 5}}, "canary.wieght"),
        ({"name": "churn", "primary": P, "replicas": 3}, "replicas"),
        ({"name": "churn", "primary": P, "policy": {"gates": {"alfa": 0.1}}}, "policy.gates.alfa"),
        ({"name": "churn", "primary": P, "canary": {"target": V2, "weight": 101}}, "canary.weight"),
        ({"name": "churn", "primary": P, "canary": {"target": V2, "weight": -1}}, "canary.weight"),
        (
            {"name": "churn", "primary": P, "shadows": [{"name": "s", "target": V2, "mirror_percent": 150}]},
            "mirror_percent",
        ),
        ({"name": "churn", "primary": "models:/churn/latest"}, "primary"),
        ({"name": "churn", "primary": "nowhere"}, "primary"),
        ({"name": "churn"}, "primary"),
        ({"name": "churn", "primary": P, "policy": {"steps": [50, 25, 100]}}, "policy.steps"),
        ({"name": "9bad", "primary": P}, "name"),
    ],
)
def test_bad_documents_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        read_document(doc)
    assert field in str(err.value)


def test_ensemble_cycles_are_refused_with_the_cycle() -> None:
    a = Ensemble(name="a", method="mean", members=(EnsembleMember(target="b"), EnsembleMember(target=P)))  # type: ignore[arg-type]
    b = Ensemble(name="b", method="vote", members=(EnsembleMember(target="a"), EnsembleMember(target=V2)))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="cycle: a -> b -> a"):
        DeploymentSpec(name="x", primary="a", ensembles=(a, b))


def test_duplicates_and_bad_splits_are_refused() -> None:
    with pytest.raises(InvalidInput, match="`shadows` names 's' twice"):
        DeploymentSpec(
            name="x", primary=P, shadows=(Shadow(name="s", target=V2), Shadow(name="s", target=V2))
        )
    with pytest.raises(InvalidInput, match="add up to 100"):
        ABSplit(
            key="user_id", arms=(ABArm(name="a", target=P, weight=50), ABArm(name="b", target=V2, weight=40))
        )
    with pytest.raises(InvalidInput, match=r"must be one of vote, mean, weighted"):
        Ensemble(name="e", method="median", members=(EnsembleMember(target=P), EnsembleMember(target=V2)))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="split the same traffic"):
        DeploymentSpec(
            name="x",
            primary=P,
            canary=Canary(target=V2, weight=5),
            ab=ABSplit(
                key="u", arms=(ABArm(name="a", target=P, weight=50), ABArm(name="b", target=V2, weight=50))
            ),
        )
    with pytest.raises(InvalidInput, match=r"gates\.alpha"):
        GateThresholds(alpha=1.5)


def test_diff_names_each_changed_field() -> None:
    old = {"name": "x", "canary": {"target": V2, "weight": 5}, "shadows": [{"name": "s", "target": V2}]}
    new = {"name": "x", "canary": {"target": V2, "weight": 25}, "shadows": [{"name": "t", "target": V2}]}
    assert diff_documents(old, new) == [
        "~ canary.weight: 5 -> 25",
        f"- shadows[s].target: {V2}",
        f"+ shadows[t].target: {V2}",
    ]
    assert diff_documents(new, new) == []
