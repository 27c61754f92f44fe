"""cnn_guide._progress: the progress line of a run stopped by minutes, on a fake clock."""

from __future__ import annotations

import io

import pytest

from cnn_guide._progress import BudgetProgress


class FakeClock:
    """What the line reads of a `RunClock`, set by hand: 128 images a step, 430 steps an epoch."""

    def __init__(self, budget: float | None = 180) -> None:
        self.budget = budget  # seconds
        self.seconds = 0.0
        self.steps = 0
        self.steps_per_epoch = 430
        self.checkpoints: list[list[float]] = []

    @property
    def images(self) -> int:
        return self.steps * 128

    def progress(self) -> float:
        return min(self.seconds / self.budget, 1.0)


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


def train(progress, clock, seconds, *, steps_per_second=5, checks=()):
    """Drive ``progress`` like `fit`: a step every 1/steps_per_second s, tests at ``checks``."""
    progress.on_train_begin()
    due = list(checks)
    for step in range(1, round(seconds * steps_per_second) + 1):
        clock.steps, clock.seconds = step, step / steps_per_second
        if due and clock.seconds >= due[0]:  # the clock scores the test images first
            clock.checkpoints.append([clock.seconds, clock.images, 0.5 + due.pop(0) / 1000])
        progress.on_train_batch_end(step)
    progress.on_train_end()


def test_the_line_shows_time_of_the_budget_images_and_the_last_check():
    clock = FakeClock(budget=180)
    line = BudgetProgress(clock).line()
    assert line == "0:00 of 3:00 [>.......................]  0 images (0.0 epochs)"
    clock.seconds, clock.steps = 72.4, 380
    clock.checkpoints = [[30.0, 20_480, 0.8211], [60.01, 40_960, 0.87123]]
    assert BudgetProgress(clock).line() == (
        "1:12 of 3:00 [=========>..............]  48,640 images (0.9 epochs)"
        "  last check 1:00: test accuracy 0.8712"
    )
    clock.seconds = 180.3  # the step that crosses the budget ends the run
    assert BudgetProgress(clock).line().startswith("3:00 of 3:00 [========================]  ")


def test_only_a_run_stopped_by_minutes_and_not_silent_gets_a_line():
    assert BudgetProgress.for_run(FakeClock(budget=None), 1) is None  # epochs or steps
    assert BudgetProgress.for_run(FakeClock(), 0) is None
    assert BudgetProgress.for_run(FakeClock(), 2)._in_place is False
    assert BudgetProgress.for_run(FakeClock(), "auto")._in_place is None  # the stream decides
    with pytest.raises(ValueError, match="stopped by minutes"):
        BudgetProgress(FakeClock(budget=None))


def test_a_log_gets_a_line_every_ten_seconds_and_at_each_checkpoint():
    clock, log = FakeClock(budget=60), io.StringIO()
    train(BudgetProgress(clock, stream=log), clock, 60, checks=[15, 45])
    lines = log.getvalue().splitlines()
    # 300 steps; lines at 10 s, the checks at 15 s and 45 s, 10 s after each, and the end.
    assert [line.split(" of ")[0] for line in lines] == [
        "0:10", "0:15", "0:25", "0:35", "0:45", "0:55", "1:00",
    ]  # fmt: skip
    assert "\r" not in log.getvalue() and lines[0].endswith("6,400 images (0.1 epochs)")
    assert lines[1].endswith("last check 0:15: test accuracy 0.5150")
    assert lines[-1] == (
        "1:00 of 1:00 [========================]  38,400 images (0.7 epochs)"
        "  last check 0:45: test accuracy 0.5450"
    )
    assert not any("1000000" in line or "Epoch" in line for line in lines)


def test_a_checkpoint_on_the_last_step_is_not_printed_twice():
    clock, log = FakeClock(budget=10), io.StringIO()
    train(BudgetProgress(clock, stream=log), clock, 10, checks=[10])
    assert log.getvalue().splitlines() == [
        "0:10 of 0:10 [========================]  6,400 images (0.1 epochs)"
        "  last check 0:10: test accuracy 0.5100"
    ]


def test_a_terminal_gets_one_line_redrawn_in_place_and_kept_at_checkpoints():
    clock, screen = FakeClock(budget=60), TtyStream()
    train(BudgetProgress(clock, stream=screen), clock, 60, checks=[30])
    written = screen.getvalue()
    # Redrawn at most every 0.25 s of training: every other 0.2 s step (150
    # times, the checkpoint's among them), then once more to end the line.
    assert written.count("\r") == 151 and written.endswith("\n")
    lines = written.split("\n")
    # The checkpoint's line stays, then the end's: the last draw of each.
    assert lines[0].rsplit("\r", 1)[1].startswith("0:30 of 1:00 [============>")
    assert lines[1].rsplit("\r", 1)[1].startswith("1:00 of 1:00 [========================]")
    assert lines[1].endswith("last check 0:30: test accuracy 0.5300") and lines[2] == ""
    assert "1000000" not in written


def test_a_shorter_line_blanks_the_rest_of_the_longer_one_before():
    clock, screen = FakeClock(budget=3600), TtyStream()
    progress = BudgetProgress(clock, stream=screen)
    progress.on_train_begin()
    clock.seconds, clock.steps = 599.0, 100_000
    progress.on_train_batch_end(0)
    clock.seconds, clock.steps = 600.0, 1
    progress.on_train_batch_end(1)  # (a shorter image count, for the test)
    first, second = screen.getvalue().split("\r")[1:]
    assert len(second) == len(first) and second.rstrip().endswith("128 images (0.0 epochs)")
