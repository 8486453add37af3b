"""A failed Run's message starts with the exception line, then the tail of the output (issue 12)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from mlkube.projects.runner import MESSAGE_LIMIT, ExceptionWatch, failure_message, stream

# Fifteen distinct frames (Python folds repeated ones): two lines each, more than the tail holds.
DEEP = (
    "print('loading data')\n"
    + "".join(f"def f{i}():\n    f{i + 1}()\n" for i in range(15))
    + textwrap.dedent(
        """\
    def f15():
        raise ValueError("label column 'price' not found in data.csv")
    f0()
    """
    )
)


def watched(lines: list[str]) -> str | None:
    watch = ExceptionWatch()
    for line in lines:
        watch.feed(line + "\n")
    return watch.exception


def test_the_exception_line_is_the_first_unindented_line_after_the_frames() -> None:
    assert (
        watched(
            [
                "loading data",
                "Traceback (most recent call last):",
                '  File "train.py", line 4, in <module>',
                "    train()",
                "    ^^^^^^^",
                "botocore.exceptions.NoCredentialsError: Unable to locate credentials",
            ]
        )
        == "botocore.exceptions.NoCredentialsError: Unable to locate credentials"
    )


def test_of_chained_exceptions_the_last_one_counts() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'price'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "a.py", line 3, in <module>',
        "ValueError: label column 'price' not found",
    ]
    assert watched(lines) == "ValueError: label column 'price' not found"


def test_output_without_a_traceback_has_no_exception() -> None:
    assert watched(["ValueError: only printed", "done"]) is None


def test_the_message_starts_with_the_exception_then_the_tail() -> None:
    tail = "Traceback (most recent call last):\n  ...\nValueError: bad"
    assert failure_message(1, tail, "ValueError: bad") == (
        "ValueError: bad\nexit code 1: Traceback (most recent call last):\n  ...\nValueError: bad"
    )
    assert failure_message(3, "boom\n", None) == "exit code 3: boom"


def test_a_long_tail_loses_its_oldest_characters_not_the_exception() -> None:
    message = failure_message(1, "x" * 5000 + "END", "ValueError: " + "v" * 3000)
    assert len(message) <= MESSAGE_LIMIT
    assert message.startswith("ValueError: vvv")
    assert "\nexit code 1: ..." in message
    assert message.endswith("xEND")


def test_stream_finds_the_exception_of_a_stack_deeper_than_the_tail(tmp_path: Path) -> None:
    (tmp_path / "deep.py").write_text(DEEP)
    code, tail, exception = stream(f"{sys.executable} deep.py", tmp_path)
    assert code == 1
    assert "Traceback (most recent call last):" not in tail  # pushed out by 40 frames
    assert exception == "ValueError: label column 'price' not found in data.csv"


def test_a_handled_traceback_earlier_in_the_output_is_not_blamed(tmp_path: Path) -> None:
    script = (
        "import traceback\n"
        "try:\n    {}['k']\nexcept KeyError:\n    traceback.print_exc()\n"
        "for i in range(30):\n    print('step', i)\n"
        "raise SystemExit(2)\n"
    )
    (tmp_path / "later.py").write_text(script)
    code, _, exception = stream(f"{sys.executable} later.py", tmp_path)
    assert code == 2
    assert exception is None


STOPPED_BY_SIGTERM = """\
import sys
from pathlib import Path
from mlkube.projects.runner import stream
code, tail, _ = stream("echo started; sleep 60; echo not stopped", Path("."), init=True)
print("runner saw", code, flush=True)
sys.exit(code)
"""


def test_sigterm_reaches_the_code_and_ends_it_with_128_plus_the_signal(tmp_path: Path) -> None:
    """As PID 1 of its container the runner would ignore SIGTERM: it passes it on instead, to
    every process of the command (bash runs `sleep` as a child here, not in its place)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", STOPPED_BY_SIGTERM],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    # The runner lived on (a runner killed by the signal would say -15) and reported the
    # code's death by SIGTERM as exit code 143.
    assert (proc.returncode, out) == (143, "runner saw 143\n")
