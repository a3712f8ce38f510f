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


class HubNotFoundError(TrainerError):
    """A Hub repository, revision or file that does not exist (or is private and no token can see it)."""

    code = "hub-not-found"


class HubGatedError(TrainerError):
    """A gated Hub repository whose terms this token has not accepted (or no token was given)."""

    code = "hub-gated"


class DownloadDisabledError(TrainerError):
    """A Hub model or dataset that is not in the local cache, on a trainer that may not download."""

    code = "download-disabled"


class DownloadFailedError(TrainerError):
    """The Hub could not be reached or the transfer broke off; running the job again resumes it."""

    code = "download-failed"
