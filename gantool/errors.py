"""User-facing errors: one short, specific message, no traceback by default."""


class GantoolError(Exception):
    """A mistake in the user's input (options, files, folders) that gantool can explain in one line.

    The command-line entry points print ``str(error)`` and exit with status 2; ``--debug`` shows
    the traceback too.
    """


class UnknownNameError(GantoolError, ValueError):
    """An unknown registry name (``--model``, ``--netG``, ...). Also a ``ValueError`` for API users."""


class Interrupted(Exception):
    """Training stopped on SIGINT or SIGTERM after saving its state; ``exit_code`` is 128 + the signal."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
