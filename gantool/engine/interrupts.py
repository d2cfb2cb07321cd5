"""SIGINT and SIGTERM during training: remembered, acted on between steps (the trainer saves and stops)."""
import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def stop_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM only call ``on_signal(signum)``; a second one acts at once
    (its previous handler is back). Outside the main thread (where Python cannot catch signals) a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum, frame):
        on_signal(signum)
        signal.signal(signum, previous[signum])

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
