"""Load a verified package into a :class:`Predictor` that applies the packaged transform."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput, UnsafeArtifact
from loopml.registry.flavors.base import Flavor, get_flavor
from loopml.registry.flavors.sklearn import load_skops
from loopml.registry.package.builder import ModelPackage
from loopml.registry.package.training_stats import read_training_stats
from loopml.registry.package.verify import VerifiedPackage, verify_package
from loopml.registry.signing.trust import TrustStore
from loopml.security.scan import scan_path

__all__ = ["Predictor", "load_model"]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Predictor:
    """A loaded model: ``predict`` / ``predict_proba`` apply the packaged transform first.

    Attributes:
        package: The verified package it was loaded from.
        flavor: The flavor that loaded it.
        model: The framework object.
        transform: The fitted transformer, or None.
        training_stats: The package's ``training_stats.json`` (None when it carries none).
    """

    package: VerifiedPackage
    flavor: Flavor
    model: Any
    transform: Any = None
    training_stats: Mapping[str, Any] | None = None

    def _features(self, data: Any) -> Any:
        signature = self.package.spec.signature
        if signature is not None and isinstance(data, pd.DataFrame) and signature.inputs:
            missing = [n for n in signature.input_names if n not in data.columns]
            if missing:
                raise InvalidInput(
                    f"Input lacks column(s) {missing} of the model signature {list(signature.input_names)}."
                )
            data = data[list(signature.input_names)]
        return self.transform.transform(data) if self.transform is not None else data

    def predict(self, data: Any) -> np.ndarray:
        """Predictions for ``data`` (DataFrame columns are taken in signature order)."""
        return self.flavor.predict(self.model, self._features(data))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities for ``data``."""
        return self.flavor.predict_proba(self.model, self._features(data))


def _scan(root: Path, verified: VerifiedPackage, trusted_globals: Iterable[str]) -> None:
    """Run the model-file scanner over every file that will be loaded (pickle-family content)."""
    spec = verified.spec
    for rel in (*spec.files, *(spec.transform.files if spec.transform else ())):
        report = scan_path(root / rel, trusted_globals=trusted_globals)
        if not report.is_safe:
            details = "; ".join(f"{f.kind.value}: {f.message}" for f in report.findings[:5])
            raise UnsafeArtifact(
                f"The scanner judged {rel!r} in {root} {report.verdict.value}: {details}. "
                "Nothing was loaded; `loopml scan` shows the full report."
            )


def load_model(
    source: Path | str | ModelPackage,
    *,
    trust_store: TrustStore | None = None,
    require_signature: bool = False,
    trusted_globals: Iterable[str] = (),
) -> Predictor:
    """Verify a package, then load it.

    Nothing is deserialised before :func:`verify_package` passed. Flavors that run package
    code (``python``) load only when a key in ``trust_store`` signed the package.

    Args:
        source: The package folder (or a :class:`ModelPackage`).
        trust_store: Keys allowed to sign; needed to check a signature.
        require_signature: Refuse packages not signed by a trusted key.
        trusted_globals: ``module.name`` globals the scanner should allow besides its allowlist.

    Returns:
        The predictor.

    Raises:
        IntegrityError: the package does not match its checksums or signature.
        UnsafeArtifact: a code-running flavor without a trusted signature, a file the
            scanner does not judge safe, or a skops file needing types outside the allowlist.
    """
    root = source.path if isinstance(source, ModelPackage) else Path(source)
    verified = verify_package(root, trust_store=trust_store, require_signature=require_signature)
    flavor = get_flavor(verified.spec.flavor)
    if flavor.runs_code and not verified.is_trusted:
        raise UnsafeArtifact(
            f"The package {root} uses the {flavor.name!r} flavor, which runs the code it ships; it loads "
            f"only when signed by a trusted key (signature {verified.signature_status.value}). Sign it with "
            "`loopml models sign` and pass the trust store."
        )
    _scan(root, verified, trusted_globals)
    transform = None
    if verified.spec.transform is not None:
        if verified.spec.transform.flavor != "sklearn":
            raise UnsafeArtifact(f"Unsupported transform flavor {verified.spec.transform.flavor!r}.")
        transform = load_skops(root / verified.spec.transform.files[0])
    model = flavor.load(root, verified.spec.files)
    return Predictor(
        package=verified,
        flavor=flavor,
        model=model,
        transform=transform,
        training_stats=read_training_stats(root),
    )
