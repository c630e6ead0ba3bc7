"""lambda-wheels-cdk: CDK constructs that ship the right binary wheels to Python Lambdas.

The constructs are exported lazily (PEP 562): ``import lambda_wheels_cdk`` and the core never
import ``aws_cdk`` (which starts a Node process); ``from lambda_wheels_cdk import
PythonWheelFunction`` does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import LambdaWheelsError
from .target.target import Target
from .version import __version__

#: Public names that live in modules importing aws_cdk: loaded on first access.
_LAZY: dict[str, str] = {
    "PythonWheelFunction": "lambda_wheels_cdk.cdk.function",
    "PythonWheelLayer": "lambda_wheels_cdk.cdk.layer",
    "WheelBundlingOptions": "lambda_wheels_cdk.cdk.options",
}

if TYPE_CHECKING:  # pragma: no cover
    from .cdk.function import PythonWheelFunction
    from .cdk.layer import PythonWheelLayer
    from .cdk.options import WheelBundlingOptions

__all__ = [
    "LambdaWheelsError",
    "PythonWheelFunction",
    "PythonWheelLayer",
    "Target",
    "WheelBundlingOptions",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lambda_wheels_cdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
