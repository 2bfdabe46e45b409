"""Logs an exception that escapes a plugin's export through the gateway's
`log` import (error level, message and traceback) before it traps the call.

Without it the gateway sees only a trap ("wasm `unreachable` instruction
executed") and the traceback goes to the component's stderr. Vendor this
file beside app.py and decorate each export:

    from switchyard_log import logged

    class Sanitizer(SanitizerExports):
        @logged
        def sanitize(self, input): ...

An `Err(...)` raised on purpose (a WIT `result`'s error) passes through
unlogged: it is the call's answer, not a bug.
"""

import functools
import traceback

from componentize_py_types import Err
from wit_world.imports import log

# A traceback can be long; the gateway caps a plugin's log line anyway.
_MAX_CHARS = 4000


def logged(fn):
    """Wraps an export method so that an unexpected exception is logged
    before it propagates (and traps)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Err:
            raise
        except BaseException as e:
            # One line, so the gateway's log keeps it together with the
            # plugin's name: the traceback's lines joined by " | ".
            frames = " | ".join(
                line.strip()
                for chunk in traceback.format_exception(type(e), e, e.__traceback__)
                for line in chunk.splitlines()
                if line.strip()
            )
            try:
                log.log(
                    log.Level.ERROR,
                    f"uncaught {type(e).__name__} in {fn.__qualname__}: {e}; traceback: {frames[-_MAX_CHARS:]}",
                )
            except BaseException:  # the log must never hide the error
                pass
            raise

    return wrapper
