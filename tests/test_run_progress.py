"""What `run_experiment.py` prints as it runs: under a terminal and into a pipe."""

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios

from tests.command_line import ROOT


def test_under_a_terminal_the_progress_line_is_redrawn_in_place_and_the_run_ends_with_a_closing_line(tmp_path):
    command = [sys.executable, "run_experiment.py", "training=tiny", "logging.loggers=[console]"]
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal 120 columns wide
    process = subprocess.Popen(
        [*command, f"hydra.run.dir={tmp_path}"], cwd=ROOT, stdin=child, stdout=child, stderr=child, close_fds=True
    )
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(parent, 4096)
        except OSError:  # the terminal's other end closed: the run has ended
            break
        if not chunk:
            break
        output += chunk
    os.close(parent)
    assert process.wait() == 0, output.decode(errors="replace")
    text = output.decode()
    assert "compiled the training step (2 steps per call) in " in text
    progress = [part for part in text.split("\r") if "/6" in part and "loss=" in part]
    assert len(progress) >= 3  # one line, redrawn at steps 2, 4 and 6
    assert "finished at step 6/6; loss=" in text and f"run directory {tmp_path}" in text


def test_into_a_pipe_each_logged_step_is_one_line_that_arrives_while_the_run_goes_on(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "run_experiment.py",
            "training=tiny",
            "training.num_steps=1000000",
            "persistence=none",
            f"hydra.run.dir={tmp_path}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if " step 2/1000000 " in line:
            break
    # A million steps are far from done: the line came while the run went on, which the signal now stops.
    assert process.poll() is None
    process.send_signal(signal.SIGTERM)
    rest = process.stdout.read()
    assert process.wait() == 143
    assert lines[-1].startswith("[") and "\r" not in "".join(lines) + rest
    assert any(line.startswith("compiled the training step (2 steps per call)") for line in lines)
    assert any(" step 0/1000000 " in line for line in lines)
