"""The console's progress display: redrawn in place on a terminal, plain flushed lines elsewhere."""

import io
import os
import pty

from simplexity.logging import ConsoleLogger


class TerminalStream(io.StringIO):
    """A stream that says it is a terminal, as a tty does."""

    def isatty(self) -> bool:
        return True


class FlushCountingStream(io.StringIO):
    """A stream that counts its flushes, to see each line leave at once."""

    def __init__(self):
        super().__init__()
        self.flushed_at: list[int] = []

    def flush(self) -> None:
        self.flushed_at.append(len(self.getvalue()))
        super().flush()


def drive(display: ConsoleLogger) -> None:
    display.compiled(2, 1.5)
    for step, loss in ((2, 1.5), (4, 1.25), (6, 1.125)):
        display.log(step, {"loss": loss, "steps_per_second": 10.0, "validation/loss": loss + 0.5})
    display.finish(6, {"loss": 1.125, "validation/loss": 1.625}, wall_seconds=75.0)


def test_a_terminal_gets_one_line_redrawn_in_place_with_step_loss_rate_and_eta():
    stream = TerminalStream()
    display = ConsoleLogger(total_steps=6, stream=stream, run_dir="/runs/a")
    assert display.terminal
    drive(display)
    text = stream.getvalue()
    redraws = text.split("\r")
    assert len(redraws) >= 4  # the bar is drawn, then redrawn at each of the three logged steps
    assert any("4/6" in part and "loss=1.25000" in part and "10.0 steps/s" in part for part in redraws)
    assert any("6/6" in part and "val=1.62500" in part for part in redraws)
    assert "compiled the training step (2 steps per call) in 1.5 s" in text
    last = text.rstrip("\n").split("\n")[-1]
    assert last == (
        "finished at step 6/6; loss=1.12500; validation/loss=1.62500; wall time 0:01:15; run directory /runs/a"
    )


def test_elsewhere_one_plain_line_per_logged_step_each_flushed_as_it_is_printed():
    stream = FlushCountingStream()
    display = ConsoleLogger(total_steps=6, stream=stream)
    assert not display.terminal
    drive(display)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "compiled the training step (2 steps per call) in 1.5 s"
    assert [line.split(" step ")[1].split()[0] for line in lines[1:4]] == ["2/6", "4/6", "6/6"]
    assert "loss=1.25000 10.0 steps/s ETA 0:00:00" in lines[2] and "validation/loss=1.75" in lines[2]
    assert lines[4] == "finished at step 6/6; loss=1.12500; validation/loss=1.62500; wall time 0:01:15"
    ends = [sum(len(line) + 1 for line in lines[: number + 1]) for number in range(len(lines))]
    assert set(ends) <= set(stream.flushed_at)  # every line was flushed as soon as it was written


def test_a_run_resumed_part_way_starts_its_bar_at_the_resumed_step():
    stream = TerminalStream()
    display = ConsoleLogger(total_steps=10, stream=stream, start_step=6)
    display.log(8, {"loss": 1.0, "steps_per_second": 2.0})
    display.close()
    assert "8/10" in stream.getvalue() and "80%" in stream.getvalue()


def test_a_terminal_that_reports_no_width_still_shows_the_line_and_the_closing_line():
    parent, child = pty.openpty()  # a pseudo-terminal nobody sized: 0 columns
    with os.fdopen(child, "w") as stream:
        display = ConsoleLogger(total_steps=6, stream=stream)
        display.log(2, {"loss": 1.5, "steps_per_second": 4.0})
        display.finish(2, {"loss": 1.5}, wall_seconds=3.0)
    output = b""
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:  # the other end is closed and everything was read
            break
        if not chunk:
            break
        output += chunk
    os.close(parent)
    text = output.decode()
    assert any("2/6" in part and "loss=1.50000 4.0 steps/s" in part for part in text.split("\r"))
    assert "finished at step 2/6; loss=1.50000; wall time 0:00:03" in text
