"""loopml.registry: model packages, flavors, signing and verification.

Example:
    >>> from loopml.registry import package_model, verify_package, load_model
"""

from loopml.registry.flavors import Flavor, flavor_names, get_flavor, register_flavor
from loopml.registry.package import (
    ColumnSpec,
    ModelPackage,
    ModelSignature,
    ModelSpec,
    Predictor,
    SignatureStatus,
    VerifiedPackage,
    infer_signature,
    load_model,
    package_model,
    sign_package,
    verify_package,
)
from loopml.registry.policy import AliasRequirements, PromotionPolicy, VersionFacts
from loopml.registry.service import MODEL_ARTIFACT_TYPE, BlessingLike, ModelRegistry
from loopml.registry.signing import KeyRing, KeySigner, Signer, TrustStore
from loopml.registry.uris import ModelUri, parse_model_uri

__all__ = [
    "MODEL_ARTIFACT_TYPE",
    "AliasRequirements",
    "BlessingLike",
    "ColumnSpec",
    "Flavor",
    "KeyRing",
    "KeySigner",
    "ModelPackage",
    "ModelRegistry",
    "ModelSignature",
    "ModelSpec",
    "ModelUri",
    "Predictor",
    "PromotionPolicy",
    "SignatureStatus",
    "Signer",
    "TrustStore",
    "VerifiedPackage",
    "VersionFacts",
    "flavor_names",
    "get_flavor",
    "infer_signature",
    "load_model",
    "package_model",
    "parse_model_uri",
    "register_flavor",
    "sign_package",
    "verify_package",
]
