"""DataError, turned into one line and exit status 1 by common.cli.exit_status; `read_file`: the
one bounded read of a whole file."""

import os
import stat


def no_such(path, what):
    """'no such folder', with the folder a relative `path` was looked up in."""
    return f"no such {what}" + ("" if os.path.isabs(path) else f" (relative to {os.getcwd()})")


class DataError(ValueError):
    """Input data that cannot be used, with a message naming the file and the problem."""


def read_file(path, limit, expected):
    """The bytes of the regular file `path` (a FIFO, a device, a folder: refused unopened), read
    to `limit` + 1 bytes (stat's size says nothing of /dev/zero); else a DataError."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise DataError(f"{path}: not a regular file; expected {expected}")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise DataError(f"{path}: unreadable ({e.strerror}); expected {expected}") from None
    if len(data) > limit:
        raise DataError(f"{path}: over the bound of {limit:,} bytes; expected {expected}")
    return data
