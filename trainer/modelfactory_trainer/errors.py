"""Typed failures: each maps to the `code` of an `error` event, so callers never parse tracebacks."""

from __future__ import annotations


class TrainerError(Exception):
    """A failure the user can act on; `code` is the error event's code."""

    code = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(TrainerError):
    code = "config"


class DatasetError(TrainerError):
    code = "dataset"


class ModelError(TrainerError):
    code = "model"


class CudaUnavailableError(TrainerError):
    code = "cuda-unavailable"


class BitsAndBytesMissingError(TrainerError):
    code = "bitsandbytes-missing"
