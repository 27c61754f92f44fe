"""The progress line of a run stopped by a time budget.

`cnn_guide.training.fit` implements a budget of minutes as a huge epoch
count that the run's clock cuts short, so Keras' own bar would read "Epoch
36/1000000". For such a run `fit` shows this line instead, measured against
the run's own stop rule: training time used out of the budget, images seen,
and the test accuracy at the last checkpoint (one line, wrapped here)::

    1:12 of 3:00 [=========>..............]  48,640 images (0.9 epochs)
      last check 1:00: test accuracy 0.8712
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

import keras

if TYPE_CHECKING:
    from cnn_guide._clock import RunClock

__all__ = ["BudgetProgress"]

BAR_WIDTH = 24


class BudgetProgress(keras.callbacks.Callback):
    """Shows a time-budgeted run's progress on one line, in place of Keras' bar.

    On a terminal the line is redrawn in place (a carriage return) at most
    every ``refresh`` seconds of training, and kept, ending in a newline, at
    each test checkpoint, so that the checkpoints stay on screen. On any
    other stream (a log file, a notebook cell) a plain line is printed at
    each checkpoint and at most every ``interval`` seconds of training in
    between, so that logs stay short. Training ends the line in both cases.

    Every figure is read from the run's clock, after the clock's own
    ``on_train_batch_end`` (pass this callback after it): a checkpoint the
    clock scores on a step shows on that step's line.

    Args:
        clock: The run's clock: its budget, training seconds, images, steps
            and checkpoints.
        stream: Where to write; ``None`` for ``sys.stdout`` at the time of
            writing (so a redirection made after construction is followed).
        in_place: Redraw one line with carriage returns; ``None`` to do so
            exactly when the stream is a terminal.
        interval: Training seconds between plain lines.
        refresh: Training seconds between redraws in place.

    Raises:
        ValueError: For a clock without a time budget.
    """

    def __init__(
        self,
        clock: RunClock,
        *,
        stream: TextIO | None = None,
        in_place: bool | None = None,
        interval: float = 10.0,
        refresh: float = 0.25,
    ) -> None:
        super().__init__()
        if clock.budget is None:
            raise ValueError(
                "BudgetProgress needs a run stopped by minutes (a clock with a budget)."
            )
        self.clock = clock
        self._stream = stream
        self._in_place = in_place
        self.interval = interval
        self.refresh = refresh
        self._shown_at = 0.0  # training seconds when the line was last written
        self._checkpoints = 0  # checkpoints already shown
        self._width = 0  # length of the line drawn in place, to blank a longer one
        self._last = ""  # the line last written

    @classmethod
    def for_run(
        cls, clock: RunClock, verbose: int | str, *, stream: TextIO | None = None
    ) -> BudgetProgress | None:
        """The progress line for a run trained with Keras verbosity ``verbose``, if it has one.

        Only a run stopped by minutes has one, and not when silent: ``0``
        shows nothing, ``2`` (Keras' one line per epoch) plain lines, and
        ``1`` or ``"auto"`` a line in place on a terminal, plain lines elsewhere.
        """
        if clock.budget is None or verbose == 0:
            return None
        return cls(clock, stream=stream, in_place=False if verbose == 2 else None)

    @property
    def stream(self) -> TextIO:
        """Where the line is written."""
        return self._stream if self._stream is not None else sys.stdout

    def line(self) -> str:
        """The progress line for the clock's figures now."""
        clock = self.clock
        seconds, budget = clock.seconds, clock.budget or 0.0
        filled = int(clock.progress() * BAR_WIDTH)
        bar = "=" * filled + (">" + "." * (BAR_WIDTH - filled - 1) if filled < BAR_WIDTH else "")
        epochs = clock.steps / clock.steps_per_epoch
        text = (
            f"{_minutes(seconds)} of {_minutes(round(budget))} [{bar}]  "
            f"{clock.images:,} images ({epochs:.1f} epochs)"
        )
        if clock.checkpoints:
            at, _, accuracy = clock.checkpoints[-1]
            text += f"  last check {_minutes(at)}: test accuracy {accuracy:.4f}"
        return text

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self._in_place is None:
            isatty = getattr(self.stream, "isatty", None)
            self._in_place = bool(isatty and isatty())
        # A resumed run starts with the seconds and checkpoints of the runs before.
        self._shown_at = self.clock.seconds
        self._checkpoints = len(self.clock.checkpoints)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        checkpoint = len(self.clock.checkpoints) > self._checkpoints
        self._checkpoints = len(self.clock.checkpoints)
        if self._in_place:
            if checkpoint:
                self._draw(end="\n")
            elif self.clock.seconds - self._shown_at >= self.refresh:
                self._draw(end="")
        elif checkpoint or self.clock.seconds - self._shown_at >= self.interval:
            self._print()

    def on_train_end(self, logs: dict | None = None) -> None:
        # A line drawn in place is ended; a finished one is not repeated (the
        # last step's checkpoint already showed the end).
        if self._width or self.line() != self._last:
            if self._in_place:
                self._draw(end="\n")
            else:
                self._print()

    def _draw(self, end: str) -> None:
        text = self.line()
        # Blanks over the rest of a longer line drawn before.
        self.stream.write("\r" + text.ljust(self._width) + end)
        self.stream.flush()
        self._width = 0 if end else len(text)
        self._shown(text)

    def _print(self) -> None:
        text = self.line()
        print(text, file=self.stream, flush=True)
        self._shown(text)

    def _shown(self, text: str) -> None:
        self._last = text
        self._shown_at = self.clock.seconds


def _minutes(seconds: float) -> str:
    """``m:ss``, whole seconds: 72.4 is ``1:12``."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"
