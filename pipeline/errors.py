"""The base of every named, user-facing error.

The CLI prints such an error as one line (its class name and message, which says how to fix the
problem) and exits with status 2; anything else is a bug and keeps its traceback.
"""


class PipelineError(Exception):
    """A problem the user can fix: bad input, missing tool, over budget, failed check."""
