"""How the harness's processes end: with their parent, and once per interrupt.

A CI runner's timeout SIGKILLs the driver, which then cannot stop what it started, and the
engine sessions run in sessions of their own, so no terminal or group signal reaches them
either. Each child the harness starts therefore asks the kernel to signal it when its parent
dies (`prctl(PR_SET_PDEATHSIG)`, Linux), from inside the child rather than from a `preexec_fn`
(not safe in a driver that runs threads), and then checks that its parent is still the one
that started it, since a parent that died before the request sends no signal. The kernel sends
the signal when the *thread* that started the child exits: the harness starts children from
its main thread only.

Ctrl-C or a job runner's SIGTERM raises KeyboardInterrupt once; later signals only hurry the
clean-up the first one started (see `hurried`), so a second Ctrl-C can no longer cut a
clean-up short and leave processes behind. Sections that must finish (`uninterrupted`) hold
even the first interrupt until they end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping
from types import FrameType

PR_SET_PDEATHSIG = 1
# The pid of the parent that asked its child to die with it; read (and removed, so that
# grandchildren do not inherit it) by the child.
PARENT_ENV = "HARNESS_LIFELINE_PID"
INTERRUPTS = (signal.SIGINT, signal.SIGTERM)


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send `sig` to this process when `parent` exits (and send it now if it
    already has); False where the kernel offers no such request."""
    if not _prctl(PR_SET_PDEATHSIG, sig):
        return False
    if os.getppid() != parent:  # orphaned before the request: no signal would ever come
        os.kill(os.getpid(), sig)
    return True


def _prctl(option: int, value: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # here: most harness processes never ask

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(option, value, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def lifeline_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child that is to die with this process (see `die_with_starter`)."""
    return {**(os.environ if env is None else env), PARENT_ENV: str(os.getpid())}


def die_with_starter(sig: int) -> bool:
    """Die by `sig` with the parent that asked for it through `lifeline_env`; False when no
    parent asked."""
    value = os.environ.pop(PARENT_ENV, None)
    if not value or not value.isdigit():
        return False
    return die_with_parent(int(value), sig)


class _Interrupts:
    """What this process has been told: how many interrupts, and whether one waits."""

    received = 0
    holding = 0  # depth of `uninterrupted` sections
    held = False  # an interrupt arrived inside one and is to be raised when it ends


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    _Interrupts.received += 1
    if _Interrupts.received > 1:
        return  # the first one is already stopping everything: later ones only hurry it
    if _Interrupts.holding:
        _Interrupts.held = True
        return
    raise KeyboardInterrupt(signal.Signals(signum).name)


def catch_interrupts() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt the first time, and only hurry after that."""
    if threading.current_thread() is threading.main_thread():
        for sig in INTERRUPTS:
            _catch(sig)


def _catch(sig: int) -> None:
    # An ignored signal stays ignored: `harness run &` in sh ignores Ctrl-C on purpose.
    if signal.getsignal(sig) != signal.SIG_IGN:
        signal.signal(sig, _on_interrupt)


@contextlib.contextmanager
def command_interrupts() -> Iterator[None]:
    """One command's interrupts, counted from none; the handlers it found are put back when it
    ends (for in-process callers: tests, asv)."""
    _Interrupts.received, _Interrupts.held = 0, False
    main = threading.current_thread() is threading.main_thread()
    saved = {sig: signal.getsignal(sig) for sig in INTERRUPTS} if main else {}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:  # None: a handler not set from Python, which we cannot restore
                signal.signal(sig, handler)


def hurried() -> bool:
    """Whether a second interrupt asked the clean-up under way to skip its grace periods."""
    return _Interrupts.received > 1


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Run a clean-up to its end: an interrupt inside it is raised when it is done."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only: nothing to hold here
        return
    saved = {sig: signal.getsignal(sig) for sig in INTERRUPTS}
    # Counted before the handler is in place: an interrupt as soon as it is waits too.
    _Interrupts.holding += 1
    body_raised = True
    try:
        for sig in INTERRUPTS:
            _catch(sig)
        yield
        body_raised = False
    finally:
        _Interrupts.holding -= 1
        for sig, handler in saved.items():
            if handler is not None:  # None: a handler not set from Python, which we cannot restore
                signal.signal(sig, handler)
        fire = _Interrupts.held and not _Interrupts.holding
        if fire:
            _Interrupts.held = False
        # Not over an error on its way out (a full disk): that one says more, and still ends
        # the command; raising here would replace it.
        if fire and not body_raised:
            raise KeyboardInterrupt("interrupted during a clean-up")
