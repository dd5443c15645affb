"""Errors a user can fix; the CLI prints them as one line and exits 2."""


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""
