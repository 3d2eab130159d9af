"""The error of input data that cannot be used; its message names the file and the problem.
The scripts turn it into one line on stderr and exit status 1 (common.cli.run)."""


class DataError(ValueError):
    """Input data that cannot be used, with a message naming the file and the problem."""
