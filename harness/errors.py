"""Errors a user can fix; the CLI prints them as one line and exits 2."""

import signal

from harness.lifeline import catch_interrupts, die_with_starter


class UsageError(Exception):
    """Bad input: the message names the problem and the fix."""


def interrupt_on_sigterm() -> None:
    """A job runner's SIGTERM unwinds like Ctrl-C, so every engine and child is stopped; a
    second Ctrl-C or SIGTERM only hurries that (harness.lifeline). So does the death of a
    parent that asked this process to die with it (`harness ab`'s rounds)."""
    catch_interrupts()
    die_with_starter(signal.SIGTERM)
