"""While validation stores its verdict, Ctrl-C is noted, not raised: the verdict, the
parent run's summary and the study's end are stored whole. Real signals to this process."""

from __future__ import annotations

import signal

import pytest

from pk8opt.pipeline.run import HeldCtrlC


def test_ctrl_c_is_held_until_release_and_the_handler_comes_back() -> None:
    before = signal.getsignal(signal.SIGINT)
    held = HeldCtrlC()
    held.hold()
    signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt while held
    assert held.release() is True
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_without_a_signal_release_says_none_came() -> None:
    held = HeldCtrlC()
    held.hold()
    assert held.release() is False
