"""What a name monitors: a deployment (its own log, its primary's model), or a model by name."""

from __future__ import annotations

import pytest

from loopml.deploy.records import Deployment
from loopml.deploy.spec import DeploymentSpec, Ensemble, EnsembleMember, EnsembleMethod
from loopml.errors import InvalidInput
from loopml.monitor.targets import Target, resolve_target
from loopml.store.sql import open_store


def test_a_deployment_reads_its_own_log_and_knows_its_primary_model() -> None:
    """A model primary names its model; an ensemble primary its first member's."""
    with open_store("sqlite://") as store:
        doc = Deployment(spec=DeploymentSpec(name="prod", primary="models:/churn@champion")).to_document()
        store.deployments.create("prod", doc, actor=None)
        store.deployments.create("odd", {"spec": {"primary": "/some/folder"}}, actor=None)
        pair = (EnsembleMember(target="models:/fraud/2"), EnsembleMember(target="models:/churn/1"))
        nested = (
            Ensemble(
                name="outer", method=EnsembleMethod.VOTE, members=(EnsembleMember(target="inner"), pair[1])
            ),
            Ensemble(name="inner", method=EnsembleMethod.MEAN, members=pair),
        )
        spec = DeploymentSpec(name="blend", primary="outer", ensembles=nested)
        store.deployments.create("blend", Deployment(spec=spec).to_document(), actor=None)
        assert resolve_target("prod", store.deployments) == Target(deployment="prod", model="churn")
        assert resolve_target("prod", store.deployments, is_model=True) == Target(
            deployment="prod", model="prod"
        )
        assert resolve_target("churn", store.deployments) == Target(deployment="churn", model="churn")
        assert resolve_target("prod", store.deployments).log == "prod"  # as `loopml serve` logs it
        # an ensemble primary: its first member's model (whose signature every member shares)
        assert resolve_target("blend", store.deployments) == Target(deployment="blend", model="fraud")
        with pytest.raises(InvalidInput, match="--model"):
            resolve_target("odd", store.deployments)
    with pytest.raises(InvalidInput, match="without '/'"):
        resolve_target("a/b", None)
