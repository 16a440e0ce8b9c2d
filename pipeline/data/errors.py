"""Named dataset errors; each message says how to fix the problem."""
from ..errors import PipelineError


class DatasetError(PipelineError):
    """Base class of dataset problems."""


class DatasetMissingError(DatasetError, FileNotFoundError):
    """The dataset's files are not where the config says."""


class DatasetCorruptError(DatasetError, ValueError):
    """A dataset file exists but its content is not what its format promises."""
