"""loopml.inference: the protocol-free model data plane shared by online serving and batch scoring.

Loading through the registry's verified path only (checksums, scan, signature and the promotion
policy's requirements), the input schema a package's signature describes, request validation
against it (NumPy in for numeric signatures, never a traceback for bad input), prediction and the
output policy (label only, top-k, rounding). ``loopml.serving`` puts protocols and micro-batching
in front of it; batch scoring and the bulk-inference component stream tables through it.
"""

from loopml.inference.inputs import ModelInput
from loopml.inference.loading import ModelSource, load_served_model
from loopml.inference.model import Batching, ServedModel, serve_predictor
from loopml.inference.outputs import OutputPolicy
from loopml.inference.schema import InputSchema

__all__ = [
    "Batching",
    "InputSchema",
    "ModelInput",
    "ModelSource",
    "OutputPolicy",
    "ServedModel",
    "load_served_model",
    "serve_predictor",
]
