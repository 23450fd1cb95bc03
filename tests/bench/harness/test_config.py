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
