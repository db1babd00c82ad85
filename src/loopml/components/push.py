"""``push``: sign a blessed model package with the project key and hand it over as the champion."""

from __future__ import annotations

import shutil
from pathlib import Path

from loopml.components._champion import registry_for
from loopml.components._project_key import project_key
from loopml.pipeline import Blessing, InfraBlessing, Model, PushedModel, component, current_step, scratch_dir
from loopml.registry import KeySigner, TrustStore, sign_package, verify_package
from loopml.store import EventType

__all__ = ["push"]


def _refusal(blessing: Blessing, infra_blessing: InfraBlessing | None) -> str | None:
    if not blessing.properties.get("blessed", False):
        reasons = "; ".join(blessing.properties.get("reasons", [])) or "no reason recorded"
        return f"not blessed by evaluation: {reasons}"
    if infra_blessing is not None and not infra_blessing.properties.get("passed", False):
        return f"infra validation failed: {infra_blessing.properties.get('reason', '')}"
    return None


@component
def push(
    model: Model,
    blessing: Blessing,
    infra_blessing: InfraBlessing | None = None,
    *,
    home: str,
    key_name: str = "project",
    alias: str = "champion",
) -> PushedModel:
    """Sign and publish ``model`` when it is blessed (and passed infra validation).

    The package is copied, signed with the project key (``<home>/keys/<key_name>``, generated
    and trusted on first use), verified against the trust store, registered in the model
    registry (when the store has one) with ``alias`` moved to the new version — the champion
    later evaluations compare against — and recorded as a ``PushedModel`` named after the model.
    A refused model gives a ``PushedModel`` with ``pushed: false`` and the reason; the registry's
    promotion policy may refuse the alias too, which fails the step with its reason.

    Args:
        model: A model package.
        blessing: The evaluation verdict for this model.
        infra_blessing: The infra-validation verdict.
        home: The loopml home holding ``keys/`` and ``trust/``.
        key_name: Name of the project signing key.
        alias: Alias the registry moves to the new version.

    Returns:
        The signed package (pushed) or the refusal.
    """
    refusal = _refusal(blessing, infra_blessing)
    if blessing.properties.get("model_artifact_id") not in (None, model.artifact_id):
        refusal = (
            f"the blessing is for model {blessing.properties.get('model_artifact_id')}, "
            f"not {model.artifact_id}"
        )
    name = str(model.properties.get("model_name", "model"))
    if refusal is not None:
        return PushedModel.from_properties(
            {"pushed": False, "reason": refusal, "model_name": name, "model_artifact_id": model.artifact_id}
        )
    key, trust = project_key(Path(home), key_name)
    dest = scratch_dir("push") / "package"
    shutil.copytree(model.local_path(), dest)
    sign_package(dest, KeySigner(key.private_path))
    verified = verify_package(dest, trust_store=trust, require_signature=True)
    facts: dict[str, object] = {
        "pushed": True,
        "model_name": name,
        "alias": alias,
        "model_artifact_id": model.artifact_id,
        "signing_key_id": key.key_id,
        "signature": verified.signature_status.value,
        "run_id": model.properties.get("run_id", ""),
        "trainer": model.properties.get("trainer", ""),
    }
    facts.update(_register(dest, name, alias=alias, trust=trust, blessing=blessing, model=model))
    return PushedModel.from_path(dest, name=name, properties=facts)


def _register(
    package: Path, name: str, *, alias: str, trust: TrustStore, blessing: Blessing, model: Model
) -> dict[str, object]:
    """Register the signed package in the model registry and move ``alias`` to it.

    The registry's package artifact becomes an output of this step, so lineage runs from the
    registered version back through the pipeline. Returns the registry facts ({} without a registry).
    """
    step = current_step()
    store = step.open_store()
    registry = registry_for(store, step.blobs, trust_store=trust)
    if registry is None:
        return {}
    actor = f"pipeline {step.pipeline} ({step.pipeline_run})"
    run_id = str(model.properties.get("run_id") or "") or None
    version = registry.register(
        package,
        name,
        run_id=run_id,
        execution_id=step.execution_id,
        blessing=blessing.artifact_id,
        actor=actor,
    )
    registry.set_alias(name, alias, version.version, actor=actor, reason=f"pushed by step {step.step_name}")
    package_artifact = str(version.properties.get("package_artifact_id") or "")
    if package_artifact:
        store.lineage.add_events(
            step.execution_id, [(package_artifact, EventType.OUTPUT, "registered_package")]
        )
    return {
        "registry_uri": f"models:/{name}@{alias}",
        "registry_version": version.version,
        "registry_version_uri": f"models:/{name}/{version.version}",
    }
