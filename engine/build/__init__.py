"""Portside engine: ``docker build`` (the classic ``/build`` protocol).

What ``api/`` uses: the request's options and their checks, the error message of a
failed build, and the exception of a failing ``RUN``.
"""

from .options import BuildOptions, check_platform, validate_tags
from .output import error_message
from .steps.run import StepFailed

__all__ = ["BuildOptions", "StepFailed", "check_platform", "error_message", "validate_tags"]
