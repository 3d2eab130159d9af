"""The error of input data that cannot be used; its message names the file and the problem.
The scripts turn it into one line on stderr and exit status 1 (common.cli.run)."""

import os


def no_such(path, what):
    """'no such folder', with the folder a relative `path` was looked up in."""
    return f"no such {what}" + ("" if os.path.isabs(path) else f" (relative to {os.getcwd()})")


class DataError(ValueError):
    """Input data that cannot be used, with a message naming the file and the problem."""
