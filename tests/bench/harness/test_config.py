"""One run configuration (RunConfig) feeds the command line, the Python API and the runner."""
import dataclasses

import pytest

from bench.cli import build_parser
from bench.cli.run import options_from_args
from bench.core.defaults import DEFAULTS
from bench.core.errors import ConfigurationError
from bench.harness.config import RunConfig, cli_fields
from bench.harness.runner import Runner


def test_defaults_come_from_the_one_table():
    config = RunConfig()
    for name in ("method", "dataset", "root", "limit", "seed", "subset", "store", "out", "batch_size",
                 "save_images", "device", "workers", "executor", "ray_address", "ray_workers", "shard_size"):
        assert getattr(config, name) == DEFAULTS[name], name


def test_unknown_option_is_refused_with_a_suggestion():
    with pytest.raises(ConfigurationError, match="unknown run option 'limt'. Did you mean 'limit'"):
        RunConfig.from_options(limt=3)
    with pytest.raises(ConfigurationError, match="Did you mean 'batch_size'"):
        Runner("bicubic", "synthetic", batchsize=4)


def test_every_cli_flag_is_a_config_field_and_parses_to_the_same_options():
    parser = build_parser()
    args = parser.parse_args(["run", "--method", "bilinear", "--limit", "7", "--subset", "first", "--seed", "3",
                              "-D", "n=9", "-M", "w=0.5", "-X", "fid.resize=clean", "-X", "fid.batch_size=4",
                              "--no-progress", "--save-images", "--weights", "w.pth"])
    options = options_from_args(args)
    assert set(options) == {f.name for f in dataclasses.fields(RunConfig)}
    config = RunConfig.from_options(**options)
    assert (config.method, config.limit, config.subset, config.seed) == ("bilinear", 7, "first", 3)
    assert config.dataset_options == {"n": 9} and config.method_options == {"w": 0.5, "weights": "w.pth"}
    assert config.metric_options == {"fid": {"resize": "clean", "batch_size": 4}}
    assert config.progress is False and config.save_images is True
    help_text = parser._subparsers._group_actions[0].choices["run"].format_help()
    for field, meta in cli_fields():
        assert meta["flags"][0] in help_text, field.name
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--limit", "-1"])
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--seed", str(2 ** 63)])


def test_api_and_runner_take_the_same_options(tmp_path):
    from bench import api

    summary = api.run(method="bicubic", dataset="synthetic", dataset_options={"n": 3}, limit=2, metrics="psnr",
                      store=tmp_path / "r.sqlite", progress=False)
    again = Runner.from_config(RunConfig(method="bicubic", dataset="synthetic", dataset_options={"n": 3}, limit=2,
                                         metrics="psnr", store=tmp_path / "r.sqlite", progress=False)).run()
    assert again.run_id == summary.run_id and again.n_processed == 0


@pytest.mark.parametrize("option, value, message", [
    ("seed", 2 ** 63, r"option seed \(--seed\) must be an integer in 0 .. 2\*\*63-1, got 9223372036854775808"),
    ("seed", -1, r"option seed \(--seed\) must be an integer in 0 .. 2\*\*63-1, got -1"),
    ("seed", 1.5, r"option seed \(--seed\)"),
    ("subset_seed", -3, r"option subset_seed \(--subset-seed\) must be an integer in 0 .. 2\*\*63-1 \(or None\)"),
    ("limit", 0, r"option limit \(--limit\) must be an integer >= 1 \(or None\), got 0"),
    ("batch_size", 0, r"option batch_size \(--batch-size\) must be an integer >= 1, got 0"),
    ("workers", -2, r"option workers \(--workers\) must be an integer >= 1"),
    ("shard_size", True, r"option shard_size \(--shard-size\) must be an integer >= 1 \(or None\), got True"),
    ("max_pixels", 0, r"option max_pixels \(--max-pixels\) must be an integer >= 1, got 0"),
    ("max_pixels", "40e6", r"option max_pixels \(--max-pixels\)"),
])
def test_wrong_values_are_refused_up_front_naming_the_option(tmp_path, option, value, message):
    with pytest.raises(ConfigurationError, match=message):
        RunConfig.from_options(**{option: value})
    store = tmp_path / "r.sqlite"
    with pytest.raises(ConfigurationError, match=message):
        Runner("bicubic", "synthetic", dataset_options={"n": 2}, degradation="debiasfr", store=store,
               progress=False, **{option: value})
    assert not store.exists()  # refused before anything was written


def test_valid_limits_pass_and_max_pixels_reaches_the_plan():
    config = RunConfig.from_options(seed=2 ** 63 - 1, subset_seed=0, limit=1, max_pixels=123)
    assert (config.seed, config.limit, config.max_pixels) == (2 ** 63 - 1, 1, 123)
    assert RunConfig().max_pixels == DEFAULTS["max_pixels"]
    runner = Runner("bicubic", "synthetic", dataset_options={"n": 2}, max_pixels=5000, progress=False)
    assert runner.plan.max_pixels == 5000


def test_cli_refuses_a_bad_seed_without_a_traceback(capsys):
    from bench.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--seed", str(2 ** 63)])
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
    parser = build_parser()
    assert parser.parse_args(["run", "--max-pixels", "1000"]).max_pixels == 1000
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--max-pixels", "0"])
