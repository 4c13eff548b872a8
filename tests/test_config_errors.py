"""Configuration errors stop the run up front with one line that says what would be valid."""

from __future__ import annotations

import pytest

from conftest import SAMPLES, run_pipeline
from dataprep import cli, pipeline
from dataprep.errors import ConfigError
from dataprep.stages import REGISTRY


def write(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def one_line_error(capsys, argv) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_unknown_stage_lists_valid_names_and_suggests(tmp_path, capsys):
    path = write(tmp_path, "input: samples\noutput: out\nstages:\n  - normalize: {}\n  - lenght: {min_words: 3}\n")
    err = one_line_error(capsys, ["run", str(path)])
    assert "unknown stage 'lenght'" in err and "did you mean 'length'" in err
    for name in REGISTRY:
        assert name in err
    assert "stage 2" in err


def test_unknown_parameter_names_the_valid_ones(tmp_path, capsys):
    path = write(tmp_path, "stages:\n  - length: {min_word: 3}\n")
    err = one_line_error(capsys, ["run", str(path), "--input", "samples", "--output", str(tmp_path / "o")])
    assert "unknown parameter 'min_word'" in err and "did you mean 'min_words'" in err and "max_chars" in err


@pytest.mark.parametrize("yaml_text, expected", [
    ("stages:\n  - length: {min_words: three}\n", "min_words: expected"),
    ("stages:\n  - length: {min_words: -1}\n", "min_words must be >= 0"),
    ("stages:\n  - normalize: {form: NFX}\n", "form must be one of"),
    ("stages:\n  - minhash_dedup: {threshold: 0.8, num_perm: 4}\n", "threshold 0.8 with num_perm 4: datasketch finds no bands x rows"),
    ("stages:\n  - line_dedup: {min_words_left: -1}\n", "min_words_left must be >= 0, not -1"),
    ("stages:\n  - length: {min_chars: 10, max_chars: 5}\n", "min_chars (10) is above max_chars (5): no document could pass both"),
    ("stages:\n  - gopher_quality: {min_words: 500, max_words: 50}\n", "min_words (500) is above max_words (50)"),
    ("stages:\n  - language: {languages: []}\n", "languages is empty, which would remove every document"),
    ("stages:\n  - language: {max_chars: -100}\n", "max_chars must be >= 1, or null"),
    ("stages:\n  - perplexity: {max_perplexity: -1}\n", "max_perplexity must be >= 0"),
    ("stages:\n  - perplexity: {cutoffs: [-5, 0]}\n", "cutoffs must be two increasing perplexities"),
    ("stages:\n  - quality_classifier: {model: pyproject.toml, max_chars: 0}\n", "model pyproject.toml: not a fastText model"),
    ("stages: [normalize\n", "not valid YAML"),
    ("stages: []\n", "'stages' must be a non-empty list"),
    ("stagse:\n  - normalize: {}\n", "'stages' must be a non-empty list"),
    ("limit: 0\nstages:\n  - normalize: {}\n", "limit must be >= 1"),
    ("part_bytes: 0\nstages:\n  - normalize: {}\n", "part_bytes must be >= 1, not 0"),
    ("part_bytes: -5\nstages:\n  - normalize: {}\n", "part_bytes must be >= 1, not -5"),
    ("batch_rows: 0\nstages:\n  - normalize: {}\n", "batch_rows must be >= 1, not 0"),
    ("colour: red\nstages:\n  - normalize: {}\n", "unknown key 'colour'"),
])
def test_bad_pipeline_files(tmp_path, capsys, yaml_text, expected):
    err = one_line_error(capsys, ["run", str(write(tmp_path, yaml_text)), "--input", "samples", "--output", str(tmp_path / "o")])
    assert expected in err


@pytest.mark.parametrize("flag, value, expected", [
    ("--error-budget", "2", "--error-budget must be within 0..1, not 2.0"),
    ("--num-cpus", "0", "--num-cpus must be >= 1, not 0"),
    ("--input-format", "jsnol", "--input-format must be one of"),
    ("--ledger-text", "redact", "--ledger-text must be one of"),
])
def test_a_bad_flag_is_named_as_the_flag_not_as_the_pipeline_file(tmp_path, capsys, flag, value, expected):
    """A student looked in the YAML for a value given on the command line."""
    path = write(tmp_path, "stages:\n  - normalize: {}\n")
    err = one_line_error(capsys, ["run", str(path), "--input", "samples", "--output", str(tmp_path / "o"), flag, value])
    assert expected in err and str(path) not in err, err


def test_missing_pipeline_file_and_missing_input(tmp_path, capsys):
    assert "pipeline file not found" in one_line_error(capsys, ["run", str(tmp_path / "nope.yaml")])
    path = write(tmp_path, "stages:\n  - normalize: {}\n")
    err = one_line_error(capsys, ["run", str(path), "--input", str(tmp_path / "missing"), "--output", str(tmp_path / "o")])
    assert "input not found" in err


def test_empty_input_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an input file")
    path = write(tmp_path, "stages:\n  - normalize: {}\n")
    err = one_line_error(capsys, ["run", str(path), "--input", str(tmp_path / "empty"), "--output", str(tmp_path / "o")])
    assert "no input files in" in err and "*.parquet" in err


def test_output_without_input_or_output_is_explained(tmp_path, capsys):
    path = write(tmp_path, "stages:\n  - normalize: {}\n")
    assert "no input" in one_line_error(capsys, ["run", str(path), "--output", str(tmp_path / "o")])
    assert "no output folder" in one_line_error(capsys, ["run", str(path), "--input", "samples"])


def test_yaml_and_cli_accept_the_same_options():
    from dataprep.pipeline import OPTION_TYPES

    assert set(cli.option_help()) == set(OPTION_TYPES)
    loaded = pipeline.from_dict({"stages": ["normalize"], "limit": 5}, {"limit": 7, "input": "x"})
    assert loaded.options.limit == 7 and loaded.options.input == "x"


def test_from_dict_raises_config_error_not_type_error():
    with pytest.raises(ConfigError):
        pipeline.from_dict({"stages": [{"length": "oops"}]})


def test_heavy_libraries_load_only_for_the_stages_that_use_them():
    """Every process of a run (driver and Ray workers) imports the runner and discovers every
    stage: the libraries of one stage (Presidio, spaCy, trafilatura, fastText, SentencePiece)
    load when that stage is built, not at discovery, so a run without it never pays for them.
    Nor do pandas and Ray Data (0.4 and 0.75 CPU s a process): imported where a step uses
    pandas, and where a run builds its first dataset."""
    import subprocess
    import sys

    heavy = ["presidio_analyzer", "spacy", "trafilatura", "fasttext", "sentencepiece", "pandas", "ray.data"]
    probe = ("import sys, dataprep.cli, dataprep.run, dataprep.stages; from dataprep import pipeline; "
             "pipeline.build_stage('gopher_quality', {'word_splitter': 'whitespace'}, 'gopher_quality'); "
             f"print([m for m in {heavy!r} if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    probe = "import sys; from dataprep import pipeline; pipeline.build_stage('pii', {}, 'pii'); print('presidio_analyzer' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "True"


def test_a_ray_address_where_nothing_answers_is_one_line_at_once(tmp_path, capsys):
    """Ray's own retries took 14 minutes to give up on an address where nothing listens."""
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    message = one_line_error(capsys, ["run", str(write(tmp_path, "stages:\n  - length: {}\n")), "--input", "samples",
                                      "--output", str(tmp_path / "o"), "--ray-address", f"127.0.0.1:{port}"])
    assert time.monotonic() - started < 30 and f"cannot reach Ray at 127.0.0.1:{port}: nothing answers there" in message
    without_port = one_line_error(capsys, ["run", str(write(tmp_path, "stages:\n  - length: {}\n")), "--input", "samples",
                                           "--output", str(tmp_path / "o2"), "--ray-address", "127.0.0.1"])
    assert "--ray-address 127.0.0.1: give the head's host:port" in without_port  # Ray's own: "Invalid address format"


def test_a_config_error_raised_in_a_ray_task_is_its_own_line(tmp_path, capsys, monkeypatch):
    """Ray re-raises a task's error as an instance of its class too: the CLI prints the task's
    message, not Ray's traceback of it (16 lines with colour codes)."""
    from ray.exceptions import RayTaskError

    cause = ConfigError("s3://corpus/x: something a task found wrong")
    wrapped = RayTaskError("process_part", "Traceback (most recent call last):\n  File \"run.py\"\nConfigError: ...", cause).as_instanceof_cause()
    assert isinstance(wrapped, ConfigError) and str(cause) != str(wrapped)

    def fails(*args, **kwargs):
        raise wrapped

    monkeypatch.setattr("dataprep.run.run", fails)
    path = write(tmp_path, "stages:\n  - normalize: {}\n")
    err = one_line_error(capsys, ["run", str(path), "--input", "samples", "--output", str(tmp_path / "o")])
    assert err == "dataprep: error: s3://corpus/x: something a task found wrong"



def test_a_damaged_stats_json_is_a_one_line_error_for_every_command_that_reads_it(ray_session, tmp_path, capsys):
    """stats.json cut short or edited: `stats` and `report` printed an internal error that said
    to rerun them to resume, and `{}` a KeyError; a rerun of the finished run read it too."""
    out = tmp_path / "out"
    stats = run_pipeline([{"length": {"min_words": 5}}], SAMPLES / "shard-00.parquet", out, limit=20)
    assert stats["invariant_ok"]
    for damage in (b'{"input":', b"{}", b"[1, 2]", b"\xff\xfe"):
        (out / "stats.json").write_bytes(damage)
        for argv in (["stats", str(out)], ["report", str(out)], ["explain", str(out), "--id", "any"]):
            err = one_line_error(capsys, argv)
            assert "stats.json is damaged" in err and "--overwrite" in err, (argv, damage, err)
        with pytest.raises(ConfigError, match="stats.json is damaged"):
            run_pipeline([{"length": {"min_words": 5}}], SAMPLES / "shard-00.parquet", out, limit=20)
