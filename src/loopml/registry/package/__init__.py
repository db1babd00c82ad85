"""Model packages: build, verify, sign and load package folders.

A package folder holds the model files, ``model.yaml``, ``checksums.json`` and optionally
``model.sig`` (an OpenSSF model-signing bundle).
"""

from loopml.registry.package._manifest import CHECKSUMS_FILE, SIGNATURE_FILE, FileDigest, Manifest
from loopml.registry.package._model_yaml import MODEL_YAML, ModelSpec, TransformSpec
from loopml.registry.package._schema import ColumnSpec, ModelSignature, infer_signature
from loopml.registry.package.builder import ModelPackage, package_model
from loopml.registry.package.loader import Predictor, load_model
from loopml.registry.package.sign import sign_package
from loopml.registry.package.verify import SignatureStatus, VerifiedPackage, verify_package

__all__ = [
    "CHECKSUMS_FILE",
    "MODEL_YAML",
    "SIGNATURE_FILE",
    "ColumnSpec",
    "FileDigest",
    "Manifest",
    "ModelPackage",
    "ModelSignature",
    "ModelSpec",
    "Predictor",
    "SignatureStatus",
    "TransformSpec",
    "VerifiedPackage",
    "infer_signature",
    "load_model",
    "package_model",
    "sign_package",
    "verify_package",
]
