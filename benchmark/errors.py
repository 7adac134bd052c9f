"""Errors that reach the user as one clear paragraph (no traceback)."""


class MmcbenchError(Exception):
    """Base class: the CLI prints the message and exits with status 2."""


class DataError(MmcbenchError):
    """A dataset file is missing, corrupt, or not what the registry says."""


class ConfigError(MmcbenchError):
    """The workflow configuration is invalid."""


class RecordError(MmcbenchError):
    """A run record does not follow the record schema."""
