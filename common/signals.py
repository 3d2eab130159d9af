"""Stop signals: SIGTERM and SIGHUP act like Ctrl-C (SIGINT), and all three can be held back
while something must not be cut in half (an output set being written).

A run stopped by one exits with one line and status 128 + the signal number, the shells'
convention: 130 for Ctrl-C, 143 for SIGTERM (systemd, docker, `timeout`), 129 for SIGHUP (a
closed terminal). A signal the process was started ignoring (SIGHUP under nohup, SIGINT in a
background job) stays ignored. Only the main thread handles signals: elsewhere, no change.
"""

import contextlib
import signal

STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)


class Interrupted(KeyboardInterrupt):
    """A stop signal turned into an exception: SIGINT (Python's KeyboardInterrupt), SIGTERM or
    SIGHUP (see raise_on_stop_signals); `signum` says which."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


class InterruptedAfterWriting(Interrupted):
    """A stop signal arrived while the output set was being written: the new set is complete."""


def signal_status(error):
    """The exit status of a run stopped by `error` (a KeyboardInterrupt): 128 + the signal
    number, the shells' convention: 130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(error, "signum", signal.SIGINT))


def signal_name(error):
    return signal.Signals(getattr(error, "signum", signal.SIGINT)).name


def _handled(signum):
    """Whether this process reacts to `signum` (not ignored, e.g. SIGHUP under nohup)."""
    return signal.getsignal(signum) not in (signal.SIG_IGN, None)


@contextlib.contextmanager
def _handling(signums, handler):
    """`handler` for each of `signums` during the block, the previous handlers restored after
    it; in a thread other than the main one (where Python refuses handlers) no change."""
    previous = {}
    try:
        for signum in signums:
            previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def raise_on_stop_signals():
    """SIGTERM (systemd, docker, `timeout`) and SIGHUP (a closed terminal) raise Interrupted in
    the main thread for the duration of the block, as Ctrl-C raises KeyboardInterrupt, so that
    such a run cleans up and says so. Ignored signals stay ignored; other threads: no change."""

    def stop(signum, frame):
        raise Interrupted(signum)

    defaults = [
        n for n in STOP_SIGNALS if n != signal.SIGINT and signal.getsignal(n) == signal.SIG_DFL
    ]
    with _handling(defaults, stop):
        yield


@contextlib.contextmanager
def stop_signals_held(then=InterruptedAfterWriting):
    """Hold SIGINT, SIGTERM and SIGHUP back until the block ends (main thread only); then, if
    one came and the block succeeded, raise `then` (an Interrupted class) with it."""
    caught = []
    with _handling([n for n in STOP_SIGNALS if _handled(n)], lambda n, frame: caught.append(n)):
        yield
    if caught:  # the block finished: say so
        raise then(caught[0])
