# Private to pvefleet.sdn: not a public API.
"""The one place where the collection's third-party libraries are imported.

ansible-test's import sanity test allows only the standard library under module_utils, so
httptools and pydantic are imported here behind a guard, with stand-ins that let the model classes
be defined without them; require_deps() tells the user what is missing before any work starts.
"""
from __future__ import annotations

import traceback

from ansible_collections.pvefleet.sdn.plugins.module_utils._errors import MissingDependency

try:
    import httptools  # pylint: disable=unused-import
except ImportError:
    HAS_HTTPTOOLS = False
    HTTPTOOLS_IMPORT_ERROR: str | None = traceback.format_exc()
    httptools = None  # type: ignore[assignment]
else:
    HAS_HTTPTOOLS = True
    HTTPTOOLS_IMPORT_ERROR = None

try:
    import pydantic  # pylint: disable=unused-import
except ImportError:
    HAS_PYDANTIC = False
    PYDANTIC_IMPORT_ERROR: str | None = traceback.format_exc()

    class _StandIn:
        """Enough of pydantic for the model modules to define their classes."""

        class BaseModel:
            def __init_subclass__(cls, **kwargs):
                pass

        class ValidationError(Exception):
            pass

        @staticmethod
        def ConfigDict(**kwargs):
            return dict(kwargs)

        @staticmethod
        def Field(*args, **kwargs):
            return None

        @staticmethod
        def _decorator(*args, **kwargs):
            if args and callable(args[0]) and not kwargs:
                return args[0]
            return lambda function: function

        field_validator = model_validator = field_serializer = _decorator

        @staticmethod
        def AfterValidator(function):
            return function

        BeforeValidator = PlainValidator = AfterValidator

        @staticmethod
        def TypeAdapter(*args, **kwargs):
            raise MissingDependency(["pydantic"])

    pydantic = _StandIn()  # type: ignore[assignment]
else:
    HAS_PYDANTIC = True
    PYDANTIC_IMPORT_ERROR = None


def require_deps() -> None:
    """Raise MissingDependency naming every library that could not be imported."""
    missing = [name for name, present in (("httptools", HAS_HTTPTOOLS), ("pydantic", HAS_PYDANTIC)) if not present]
    if missing:
        raise MissingDependency(missing, "\n".join(filter(None, [HTTPTOOLS_IMPORT_ERROR, PYDANTIC_IMPORT_ERROR])))
