"""Errors a user can fix; the CLI prints them as one line and exits 2."""


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


def interrupt_on_sigterm() -> None:
    """A job runner's SIGTERM unwinds like Ctrl-C, so every engine and child is stopped."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
