"""Error tree: each loopml error is also the builtin a caller already catches."""

from __future__ import annotations

import pytest

from loopml import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.NotFound, LookupError),
        (errors.InvalidInput, ValueError),
        (errors.Conflict, ValueError),
        (errors.InvalidState, RuntimeError),
        (errors.Forbidden, PermissionError),
        (errors.StoreUnavailable, ConnectionError),
        (errors.MissingDependency, ImportError),
    ],
)
def test_error_is_also_builtin(cls: type[errors.LoopmlError], builtin: type[Exception]) -> None:
    assert issubclass(cls, errors.LoopmlError)
    assert issubclass(cls, builtin)


def test_require_extra_names_the_install_command() -> None:
    with pytest.raises(errors.MissingDependency, match=r"pip install 'loopml\[nope\]'"):
        errors.require_extra("surely_not_installed_mod", extra="nope", feature="The thing")
