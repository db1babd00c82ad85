"""The ``@component`` decorator: a typed function becomes a reusable pipeline step.

Parameters annotated with an artifact type (:mod:`loopml.pipeline.artifact_types`) are
*inputs*; every other parameter is a plain *parameter* (JSON-ready types only). The return
annotation declares the *outputs*: one artifact type (the output is named after it in
snake_case, ``-> Model`` gives ``"model"``), a ``NamedTuple`` of artifact types (one output per
field), or ``None``.

Example:
    >>> from typing import NamedTuple
    >>> from loopml.pipeline import Dataset, Model, Statistics, component
    >>> class TrainOut(NamedTuple):
    ...     model: Model
    ...     stats: Statistics
    >>> @component(retries=1)
    ... def train(data: Dataset, *, epochs: int = 3) -> TrainOut:
    ...     return TrainOut(Model.from_properties({"epochs": epochs}), Statistics.from_properties({}))
    >>> sorted(train.inputs), sorted(train.params), sorted(train.outputs)
    (['data'], ['epochs'], ['model', 'stats'])
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from loopml.errors import InvalidInput
from loopml.pipeline._param_types import check_annotation, describe
from loopml.pipeline.artifact_types import ArtifactType

if TYPE_CHECKING:
    from loopml.pipeline.step import Step

__all__ = ["Component", "InputSpec", "ParamSpec", "component", "output_name_for"]

_NO_DEFAULT: Any = inspect.Parameter.empty


@dataclass(frozen=True, slots=True, kw_only=True)
class InputSpec:
    """An artifact input: its name, artifact type, and whether it may be left unwired."""

    name: str
    type: type[ArtifactType]
    is_optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamSpec:
    """A plain parameter: name, annotation and default (``inspect.Parameter.empty`` if required)."""

    name: str
    annotation: Any
    default: Any = _NO_DEFAULT

    @property
    def is_required(self) -> bool:
        return self.default is _NO_DEFAULT


def output_name_for(artifact_type: type[ArtifactType]) -> str:
    """The output name of a single-output component: the type name in snake_case.

    Example:
        >>> from loopml.pipeline.artifact_types import InfraBlessing
        >>> output_name_for(InfraBlessing)
        'infra_blessing'
    """
    return re.sub(r"(?<!^)(?=[A-Z])", "_", artifact_type.type_name).lower()


def _artifact_class(annotation: Any) -> tuple[type[ArtifactType] | None, bool]:
    """(artifact type, is_optional) for ``T`` or ``T | None``; (None, False) for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, ArtifactType):
        return annotation, False
    args = typing.get_args(annotation)
    if len(args) == 2 and type(None) in args:
        other = args[0] if args[1] is type(None) else args[1]
        if isinstance(other, type) and issubclass(other, ArtifactType):
            return other, True
    return None, False


def _is_named_tuple(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, tuple) and hasattr(annotation, "_fields")


class Component:
    """A decorated function plus what the runner needs to know about it.

    Calling a component (``train(data=ingest.outputs["dataset"], epochs=5)``) does not run it:
    it returns a :class:`~loopml.pipeline.step.Step` to wire into a
    :class:`~loopml.pipeline.pipeline.Pipeline`. The undecorated function is ``.fn``.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        version: str = "",
        retries: int = 0,
        backoff_s: float = 0.5,
        cache: bool = True,
    ) -> None:
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"@component retries must be an integer >= 0. Got {retries!r}.")
        if not isinstance(backoff_s, int | float) or backoff_s < 0:
            raise InvalidInput(f"@component backoff_s must be a number >= 0. Got {backoff_s!r}.")
        self.fn = fn
        self.name = name or fn.__name__
        self.version = version
        self.retries = retries
        self.backoff_s = float(backoff_s)
        self.cache = cache
        self.module = fn.__module__
        self.qualname = fn.__qualname__
        self.signature = inspect.signature(fn)
        self.inputs, self.params = self._introspect_parameters()
        self.outputs, self.returns_tuple = self._introspect_outputs()
        self.fingerprint = self._fingerprint()
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    # ------------------------------------------------------------------------- introspection
    def _hints(self) -> dict[str, Any]:
        try:
            return typing.get_type_hints(self.fn)
        except Exception as err:
            raise InvalidInput(
                f"Component {self.name!r}: cannot resolve its type annotations ({err}); "
                "define the annotated types at module level."
            ) from err

    def _introspect_parameters(self) -> tuple[dict[str, InputSpec], dict[str, ParamSpec]]:
        hints = self._hints()
        inputs: dict[str, InputSpec] = {}
        params: dict[str, ParamSpec] = {}
        for p in self.signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise InvalidInput(
                    f"Component {self.name!r}: *{p.name} / **{p.name} are not supported; "
                    "declare each input and parameter by name."
                )
            if p.name not in hints:
                raise InvalidInput(
                    f"Component {self.name!r}: parameter {p.name!r} has no type annotation; "
                    "annotate it with an artifact type (Dataset, Model ...) or a plain type (int, str ...)."
                )
            annotation = hints[p.name]
            art, optional = _artifact_class(annotation)
            if art is not None:
                inputs[p.name] = InputSpec(name=p.name, type=art, is_optional=optional)
            elif check_annotation(annotation):
                params[p.name] = ParamSpec(name=p.name, annotation=annotation, default=p.default)
            else:
                raise InvalidInput(
                    f"Component {self.name!r}: parameter {p.name!r} has type {describe(annotation)}, "
                    "which is neither an artifact type nor a plain JSON-ready type "
                    "(int, float, str, bool, list, dict, X | None, Literal)."
                )
        return inputs, params

    def _introspect_outputs(self) -> tuple[dict[str, type[ArtifactType]], bool]:
        ret = self._hints().get("return", None)
        if ret is None or ret is type(None):
            return {}, False
        if isinstance(ret, type) and issubclass(ret, ArtifactType):
            return {output_name_for(ret): ret}, False
        if _is_named_tuple(ret):
            outputs: dict[str, type[ArtifactType]] = {}
            fields = self._field_hints(ret)
            for field_name in ret._fields:
                art = fields.get(field_name)
                if not (isinstance(art, type) and issubclass(art, ArtifactType)):
                    raise InvalidInput(
                        f"Component {self.name!r}: output {field_name!r} of {ret.__name__} has type "
                        f"{describe(art)}; every output must be an artifact type."
                    )
                outputs[field_name] = art
            return outputs, True
        raise InvalidInput(
            f"Component {self.name!r}: return type {describe(ret)} is not supported; return an "
            "artifact type (-> Model), a NamedTuple of artifact types, or None."
        )

    def _field_hints(self, tuple_type: type) -> dict[str, Any]:
        try:
            return typing.get_type_hints(tuple_type)
        except NameError:
            pass
        try:
            return typing.get_type_hints(tuple_type, globalns=dict(self.fn.__globals__))
        except Exception as err:
            raise InvalidInput(
                f"Component {self.name!r}: cannot resolve the fields of {tuple_type.__name__} ({err}); "
                "define it at module level."
            ) from err

    def _fingerprint(self) -> str:
        try:
            source = inspect.getsource(self.fn)
        except (OSError, TypeError):
            code = self.fn.__code__
            source = repr((code.co_code, code.co_consts, code.co_names))
        payload = f"loopml-component/1\n{self.version}\n{source}"
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    # ----------------------------------------------------------------------------- wiring
    def __call__(self, *args: Any, **kwargs: Any) -> Step:
        """Bind inputs and parameters into a :class:`Step` named after the component."""
        return self.step(None, *args, **kwargs)

    def step(self, name: str | None, /, *args: Any, **kwargs: Any) -> Step:
        """Bind inputs and parameters into a :class:`Step` with an explicit ``name``.

        Use it when one component appears twice in a pipeline: ``train.step("train_gbm", ...)``.

        Raises:
            InvalidInput: for an argument the component does not declare.
        """
        from loopml.pipeline.step import Step

        try:
            bound = self.signature.bind_partial(*args, **kwargs)
        except TypeError as err:
            known = ", ".join(self.signature.parameters) or "none"
            raise InvalidInput(f"Component {self.name!r}: {err}. Its arguments: {known}.") from err
        return Step.create(name or self.name, component=self, arguments=dict(bound.arguments))

    # ---------------------------------------------------------------------------- pickling
    def __reduce__(self) -> tuple[Callable[[str, str], Component], tuple[str, str]]:
        return _import_component, (self.module, self.qualname)

    def __repr__(self) -> str:
        return f"Component({self.name!r}, inputs={list(self.inputs)}, outputs={list(self.outputs)})"


def _import_component(module: str, qualname: str) -> Component:
    """Find a component by module and qualified name (how worker processes receive components)."""
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as err:
        raise InvalidInput(
            f"Component {module}.{qualname} cannot be imported in a worker process ({err}); "
            "components run by the process pool or Ray must be module-level functions of an "
            "importable module."
        ) from err
    if not isinstance(obj, Component):
        raise InvalidInput(f"{module}.{qualname} is not a @component.")
    return obj


@overload
def component(fn: Callable[..., Any], /) -> Component: ...


@overload
def component(
    *,
    name: str | None = None,
    version: str = "",
    retries: int = 0,
    backoff_s: float = 0.5,
    cache: bool = True,
) -> Callable[[Callable[..., Any]], Component]: ...


def component(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    version: str = "",
    retries: int = 0,
    backoff_s: float = 0.5,
    cache: bool = True,
) -> Component | Callable[[Callable[..., Any]], Component]:
    """Turn a typed function into a :class:`Component` (usable bare or with options).

    Args:
        fn: The function (when used as ``@component`` without parentheses).
        name: Component name (default: the function name).
        version: Extra fingerprint input; bump it to invalidate cached results when code the
            function calls (not its own source) changed.
        retries: Extra attempts after a failure, with exponential backoff.
        backoff_s: Wait before the first retry; doubled for each further one.
        cache: False to always run this component (e.g. it reads a moving source).

    Returns:
        The component, or a decorator making one.

    Raises:
        InvalidInput: for unannotated or unsupported parameters or return types.
    """
    options: Mapping[str, Any] = {
        "name": name,
        "version": version,
        "retries": retries,
        "backoff_s": backoff_s,
        "cache": cache,
    }
    if fn is not None:
        return Component(fn, **options)

    def decorate(func: Callable[..., Any]) -> Component:
        return Component(func, **options)

    return decorate
