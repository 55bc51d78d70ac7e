"""A damaged `metrics.jsonl`: an unfinished last line is ended before the next record, damaged lines are named."""

import json

from simplexity.logging import JsonlLogger, read_jsonl_metrics


def write_lines(path, *lines: bytes) -> None:
    path.write_bytes(b"".join(lines))


def test_a_record_appended_after_an_unfinished_line_starts_a_line_of_its_own(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, b'{"step": 2, "loss": 1.5}\n', b'{"step": 4, "loss": 1.25}\n', b'{"step": 6, "lo')
    notices: list[str] = []
    logger = JsonlLogger(path, notify=notices.append)
    logger.log(6, {"loss": 0.75})
    logger.close()
    assert path.read_bytes().splitlines()[2:] == [b'{"step": 6, "lo', b'{"step": 6, "loss": 0.75}']
    assert notices == [f"warning: {path}: its last line was unfinished (a crash or a full disk); ended it there"]
    warnings: list[str] = []
    records = read_jsonl_metrics(path, notify=warnings.append)
    assert [(record["step"], record["loss"]) for record in records] == [(2, 1.5), (4, 1.25), (6, 0.75)]
    assert warnings == [f"warning: {path}: skipped 1 damaged line (line 3): not a complete metrics record"]


def test_the_resumed_runs_record_replaces_an_earlier_runs_one_after_an_unfinished_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    earlier = [json.dumps({"step": step, "loss": 2.0}).encode() + b"\n" for step in (2, 4, 6)]
    write_lines(path, *earlier, b'{"step": 8, "loss": 1.')  # a full disk while writing step 8
    logger = JsonlLogger(path, notify=lambda message: None)
    logger.log(6, {"loss": 1.0})  # resumed from step 4's checkpoint
    logger.close()
    records = read_jsonl_metrics(path, notify=lambda message: None)
    assert [(record["step"], record["loss"]) for record in records] == [(2, 2.0), (4, 2.0), (6, 1.0)]


def test_a_file_that_ends_in_a_newline_is_appended_to_as_it_is(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, b'{"step": 2, "loss": 1.5}\n')
    notices: list[str] = []
    logger = JsonlLogger(path, notify=notices.append)
    logger.log(4, {"loss": 1.0})
    logger.close()
    assert path.read_bytes() == b'{"step": 2, "loss": 1.5}\n{"step": 4, "loss": 1.0}\n'
    assert notices == []


def test_lines_that_are_not_utf8_or_not_records_are_skipped_and_named_in_one_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(
        path,
        b'{"step": 1, "loss": 1.0}\n',
        b'{"step": 2, "loss": 1.\xff}\n',  # one byte that is not UTF-8
        b'{"step": 3, "l\xc3oss": 1.0}\n',  # a truncated UTF-8 sequence inside a key
        b'{"step": 4, "loss": 1.0}\n',
        b"\n",
        b"[1, 2]\n",  # JSON, but not a record
        b'{"step": true, "loss": 1.0}\n',  # a step that is not an integer
        b'{"step": 8, "loss": 0.5}\n',
    )
    warnings: list[str] = []
    records = read_jsonl_metrics(path, notify=warnings.append)
    assert [record["step"] for record in records] == [1, 4, 8]
    assert warnings == [f"warning: {path}: skipped 4 damaged lines (lines 2-3, 6-7): not a complete metrics record"]


def test_an_intact_file_reads_without_a_notice(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_lines(path, b'{"step": 2, "loss": 1.5}\n', b'{"step": 2, "loss": 1.25}\n')
    warnings: list[str] = []
    assert read_jsonl_metrics(path, notify=warnings.append) == [{"step": 2, "loss": 1.25}]
    assert warnings == []
