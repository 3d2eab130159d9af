"""Stop signals: SIGTERM and SIGHUP act like Ctrl-C (SIGINT), and all three can be held back
while an output set is written. A signal the process was started ignoring (SIGHUP under nohup,
SIGINT in a background job) stays ignored; threads other than the main one: no change."""

import contextlib
import signal

STOP_SIGNALS = tuple(
    getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)
)


class Interrupted(KeyboardInterrupt):
    """A stop signal turned into an exception; `signum` says which."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(signum)
        self.signum = signum


class InterruptedAfterWriting(Interrupted):
    """A stop signal arrived while the output set was being written: the new set is complete."""


@contextlib.contextmanager
def _handling(signums, handler):
    """`handler` for each of `signums` during the block (in the main thread only, where Python
    allows handlers), the previous handlers restored after it."""
    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread
        for signum in signums:
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def raise_on_stop_signals():
    """A context in which SIGTERM (systemd, docker, `timeout`) and SIGHUP (a closed terminal)
    raise Interrupted, as Ctrl-C raises KeyboardInterrupt, so that such a run cleans up."""

    def stop(signum, frame):
        raise Interrupted(signum)

    defaults = [
        n for n in STOP_SIGNALS if n != signal.SIGINT and signal.getsignal(n) == signal.SIG_DFL
    ]
    return _handling(defaults, stop)


@contextlib.contextmanager
def stop_signals_held(then=InterruptedAfterWriting):
    """Hold the stop signals that are not ignored back until the block ends; then, if one came
    and the block succeeded, raise `then` (an Interrupted class) with it."""
    caught = []
    handled = [n for n in STOP_SIGNALS if signal.getsignal(n) not in (signal.SIG_IGN, None)]
    with _handling(handled, lambda n, frame: caught.append(n)):
        yield
    if caught:
        raise then(caught[0])
