"""Study files (bench.harness.study_spec / bench.harness.study): schema errors, name suggestions, whole-file
validation before any run, the grid in the store, skipping, interrupt + resume, failing cells, shipped studies."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from bench import api
from bench.harness.study import find_study, prepare_study, run_study, shipped_studies
from bench.harness.study_spec import StudyError, parse_study, read_study
from tests.bench.harness.store_support import snapshot

REPO = Path(__file__).resolve().parents[3]
#: 8 synthetic 32 px faces, 6 per cell, batches of 2: 2 degradations x 2 methods = 4 cells
TINY = {"name": "tiny", "limit": 6, "batch_size": 2, "seed": 3,
        "datasets": [{"name": "synthetic", "options": {"n": 8, "size": 32}, "degradations": ["x4", "x8"]}],
        "methods": [{"name": "bicubic"}, {"name": "bilinear"}], "metrics": ["psnr", "ssim"]}


def write(tmp_path: Path, data, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def run(path: Path, store: Path, **options):
    return api.study(str(path), store=str(store), out=str(store.parent / "out"), progress=False, report=False,
                     **options)


def scores(store: Path) -> dict[tuple[str, str, str, str], float]:
    """(method, protocol, sample, metric) -> value, read with plain SQL."""
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT r.method, r.protocol, s.sample_id, s.metric, s.value FROM scores s "
                            "JOIN runs r ON r.run_id = s.run_id").fetchall()
    return {row[:4]: row[4] for row in rows}


# -- schema -----------------------------------------------------------------------------------------------
SCHEMA_CASES = [
    ({k: v for k, v in TINY.items() if k != "name"}, "name", "required"),
    ({**TINY, "metircs": ["psnr"]}, "metircs", "Did you mean 'metrics'"),
    ({**TINY, "datasets": {"name": "synthetic"}}, "datasets", "non-empty list"),
    ({**TINY, "datasets": [{"name": "synthetic"}]}, "datasets[0].degradations", "required"),
    ({**TINY, "datasets": [{**TINY["datasets"][0], "degradation": ["x4"]}]}, "datasets[0].degradation",
     "Did you mean 'degradations'"),
    ({**TINY, "methods": [{"name": "bicubic", "options": [1, 2]}]}, "methods[0].options", "must be a mapping"),
    ({**TINY, "methods": []}, "methods", "non-empty list"),
    ({**TINY, "seed": -1}, "seed", "must be an integer"),
    ({**TINY, "limit": 0}, "limit", "must be an integer >= 1"),
    ({**TINY, "subset": "middle"}, "subset", "must be one of random, first"),
    ({**TINY, "metric_options": {"fid": {"reference": "hq"}}}, "metric_options.fid", "no dataset of the study"),
    ({**TINY, "methods": [{"name": "bicubic"}, {"name": "bicubic"}]}, "methods", "label 'bicubic' is used 2 times"),
    ({**TINY, "methods": [{"name": "debiasfr", "attributes": "labels", "options": {"attributes": "top2"}}]},
     "methods[0].attributes", "given twice"),
    ({**TINY, "metrics": "  "}, "metrics", "non-empty list"),
]


@pytest.mark.parametrize("data, key, text", SCHEMA_CASES, ids=[c[1] for c in SCHEMA_CASES])
def test_each_schema_error_is_one_line_naming_the_file_and_the_key(tmp_path, data, key, text):
    path = write(tmp_path, data)
    _, problems = read_study(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: {key}: ") and text in problems[0]
    assert "\n" not in problems[0]


def test_unreadable_yaml_and_a_non_mapping_are_one_line_each(tmp_path):
    bad = write(tmp_path, "name: [unclosed\n", "bad.yaml")
    study, problems = read_study(bad)
    assert study is None and len(problems) == 1 and problems[0].startswith(f"{bad}: not valid YAML")
    assert "\n" not in problems[0]
    assert parse_study(["a"], "x.yaml")[1] == ["x.yaml: the study file must be a mapping with keys name, description, "
                                               "seed, limit, subset, subset_seed, batch_size, datasets, methods, "
                                               "metrics, metric_options, got list"]


def test_yaml_is_read_safely(tmp_path):
    path = write(tmp_path, "name: !!python/object/apply:os.system ['echo pwned']\n")
    study, problems = read_study(path)
    assert study is None and "not valid YAML" in problems[0]  # safe_load refuses the tag, nothing is executed


def test_environment_variables_in_roots(tmp_path, monkeypatch):
    monkeypatch.delenv("FRB_STUDY_ROOT", raising=False)
    data = {**TINY, "datasets": [{"name": "utkface", "root": "${FRB_STUDY_ROOT}/faces", "degradations": ["x8"]}]}
    _, problems = read_study(write(tmp_path, data))
    assert problems == [f"{tmp_path / 'study.yaml'}: datasets[0].root: missing: environment variable FRB_STUDY_ROOT "
                        f"is not set (root '${{FRB_STUDY_ROOT}}/faces')"]
    monkeypatch.setenv("FRB_STUDY_ROOT", str(tmp_path))
    study, problems = read_study(write(tmp_path, data))
    assert problems == [] and study.datasets[0].root == str(tmp_path / "faces")


def test_relative_roots_are_relative_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {**TINY, "datasets": [{"name": "utkface", "root": "data/utk", "degradations": ["x8"]}]}
    study, _ = read_study(write(tmp_path, data))
    assert study.datasets[0].root == str(tmp_path / "data" / "utk")


# -- validation of the components -------------------------------------------------------------------------
def test_misspelt_names_get_suggestions(tmp_path):
    data = {**TINY, "datasets": [{"name": "synthtic", "degradations": ["x88"]}],
            "methods": [{"name": "bicubc"}], "metrics": ["psnrr", "ssim"]}
    prepared = prepare_study(write(tmp_path, data))
    text = "\n".join(prepared.problems)
    assert "datasets[0].name: unknown dataset 'synthtic'. Did you mean 'synthetic'?" in text
    assert "datasets[0].degradations: unknown degradation 'x88'. Did you mean 'x8'" in text
    assert "methods[0].name: unknown method 'bicubc'. Did you mean 'bicubic'?" in text
    assert "metrics: unknown metric 'psnrr'. Did you mean 'psnr'" in text
    assert len(prepared.problems) == 4 and all("\n" not in p for p in prepared.problems)


def test_every_problem_is_reported_together_and_nothing_is_written(tmp_path):
    data = {**TINY, "seed": "zero",
            "datasets": [TINY["datasets"][0], {"name": "utkface", "root": str(tmp_path / "absent"),
                                               "degradations": ["x8"]},
                         {"name": "imdb", "root": str(tmp_path), "degradations": ["x8"], "metrics": ["psnr"]}],
            "methods": [{"name": "bicubic"}, {"name": "gfpgan"}, {"name": "bicubic", "label": "b2",
                                                                  "options": {"sharpness": 2}}]}
    path, store = write(tmp_path, data), tmp_path / "store.sqlite"
    with pytest.raises(StudyError) as info:
        run(path, store)
    problems = info.value.problems
    expected = ["seed: option seed (--seed) must be an integer",
                f"datasets[1] (utkface).root: missing: {tmp_path / 'absent'} does not exist",
                "datasets[2] (imdb): dataset 'imdb': no imdb.mat or wiki.mat",
                "methods[1] (gfpgan): weights missing: asset 'gfpgan_v1_3' not in the asset cache",
                "methods[2] (b2): method 'bicubic' has no option 'sharpness'"]
    for text in expected:
        assert sum(text in p for p in problems) == 1, (text, problems)
    assert len(problems) == len(expected) and all(p.startswith(f"{path}: ") for p in problems)
    assert not store.exists() and not (tmp_path / "out").exists()  # validated before anything was written


def test_a_captured_lq_dataset_takes_only_no_reference_metrics_and_degradation_none(tmp_path):
    lq = tmp_path / "faces" / "lq"
    lq.mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (32, 32), (120, 90, 60)).save(lq / "a.png")
    data = {**TINY, "datasets": [{"name": "folder", "root": str(tmp_path / "faces"), "options": {"kind": "lq"},
                                  "degradations": ["x8"]}]}
    problems = prepare_study(write(tmp_path, data)).problems
    assert any("datasets[0] (folder).degradations: the dataset provides captured LQ images" in p for p in problems)
    assert sum("metric 'psnr' needs HQ images" in p for p in problems) == 1
    assert sum("metric 'ssim' needs HQ images" in p for p in problems) == 1 and len(problems) == 3


def test_validation_checks_the_first_asset_without_loading_or_fetching(tmp_path, monkeypatch):
    """gfpgan with its checkpoint present in the (isolated) cache: no problem, and the file is never opened."""
    from bench.core.assets import AssetManager
    from bench.core.checkpoints import loading

    target = AssetManager().cache_path("gfpgan_v1_3")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a checkpoint: validation must not read it")
    monkeypatch.setattr(loading, "load_state_dict", lambda *a, **k: pytest.fail("validation loaded a file"))
    data = {**TINY, "methods": [{"name": "gfpgan"}]}
    assert prepare_study(write(tmp_path, data)).problems == []


def test_overrides_of_root_and_limit(tmp_path):
    data = {**TINY, "datasets": [{"name": "utkface", "root": "/nowhere", "degradations": ["x8"]}]}
    path = write(tmp_path, data)
    (tmp_path / "faces").mkdir()
    prepared = prepare_study(path, roots={"utkface": str(tmp_path / "faces")}, limit=2)
    assert prepared.study.datasets[0].root == str(tmp_path / "faces") and prepared.study.settings["limit"] == 2
    assert not any("/nowhere" in p for p in prepared.problems)
    with pytest.raises(StudyError, match=r"--root celeba=\.\.\.: the study has no dataset 'celeba'"):
        prepare_study(path, roots={"celeba": "x"}).raise_problems()


# -- execution -------------------------------------------------------------------------------------------
def test_the_grid_is_in_the_store_and_a_second_invocation_skips_every_cell(tmp_path):
    path, store = write(tmp_path, TINY), tmp_path / "study.sqlite"
    summary = run(path, store)
    assert [r.status for r in summary.results] == ["done"] * 4 and summary.exit_code == 0
    assert [(r.cell.degradation, r.cell.method.label) for r in summary.results] == [
        ("x4", "bicubic"), ("x4", "bilinear"), ("x8", "bicubic"), ("x8", "bilinear")]
    with sqlite3.connect(store) as conn:
        runs = conn.execute("SELECT run_id, method, protocol, status, n_planned FROM runs").fetchall()
    assert sorted((m, p, s, n) for _, m, p, s, n in runs) == [
        ("bicubic", "x4", "complete", 6), ("bicubic", "x8", "complete", 6),
        ("bilinear", "x4", "complete", 6), ("bilinear", "x8", "complete", 6)]
    assert sorted(summary.run_ids) == sorted(r[0] for r in runs)

    # each cell equals the ordinary run of the same options (into its own store)
    reference = tmp_path / "reference.sqlite"
    for degradation in ("x4", "x8"):
        for method in ("bicubic", "bilinear"):
            api.run(method, "synthetic", dataset_options={"n": 8, "size": 32}, degradation=degradation, limit=6,
                    batch_size=2, seed=3, metrics=["psnr", "ssim"], store=str(reference), progress=False)
    assert scores(store) == scores(reference) and len(scores(store)) == 4 * 6 * 2

    before = snapshot(store)
    again = run(path, store)
    assert [r.status for r in again.results] == ["skipped"] * 4 and again.exit_code == 0
    assert [r.run_id for r in again.results] == [r.run_id for r in summary.results]
    assert all(r.n_processed == 0 for r in again.results)
    assert snapshot(store) == before


def test_interrupted_in_the_second_cell_then_resumed_equals_an_uninterrupted_study(tmp_path, monkeypatch):
    from baselines.interpolation import Bilinear

    data = {**TINY, "datasets": [{**TINY["datasets"][0], "degradations": ["x4"]}]}  # cells: bicubic, bilinear
    path = write(tmp_path, data)
    calls = {"n": 0}
    original = Bilinear.restore

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch of the bilinear cell: Ctrl-C
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Bilinear, "restore", interrupted)
    store = tmp_path / "interrupted.sqlite"
    with pytest.raises(KeyboardInterrupt):
        run(path, store)
    with sqlite3.connect(store) as conn:
        partial = dict(conn.execute("SELECT method, COUNT(*) FROM samples s JOIN runs r ON r.run_id = s.run_id "
                                    "GROUP BY method").fetchall())
    assert partial == {"bicubic": 6, "bilinear": 2}  # the first cell complete, one batch of the second
    monkeypatch.setattr(Bilinear, "restore", original)

    resumed = run(path, store)
    assert [(r.status, r.n_processed) for r in resumed.results] == [("skipped", 0), ("done", 4)]
    uninterrupted = tmp_path / "uninterrupted.sqlite"
    run(path, uninterrupted)
    assert snapshot(store) == snapshot(uninterrupted)


def test_a_failing_cell_does_not_stop_the_others(tmp_path, monkeypatch):
    from bench.harness import runner as runner_module

    original = runner_module.Runner.run

    def failing(self):
        if self.plan.method_name == "bilinear" and self.plan.protocol_name() == "x4":
            raise RuntimeError("disk on fire")
        return original(self)

    monkeypatch.setattr(runner_module.Runner, "run", failing)
    path, store = write(tmp_path, TINY), tmp_path / "study.sqlite"
    summary = run(path, store)
    assert [r.status for r in summary.results] == ["done", "failed", "done", "done"]
    failed = summary.results[1]
    assert failed.error == "RuntimeError: disk on fire" and failed.run_id  # the run id it would have had
    assert summary.exit_code == 1 and failed.run_id not in summary.run_ids and len(summary.run_ids) == 3
    text = summary.format()
    assert "3 done, 0 skipped (already complete in the store), 1 failed" in text
    assert "failed cell 1 (synthetic/x4/bilinear): RuntimeError: disk on fire" in text
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'complete'").fetchone()[0] == 3
    table = summary.table()
    assert list(table["status"]) == ["done", "failed", "done", "done"]
    assert {"run_id", "seconds", "status"} <= set(table.columns)


def test_run_options_pass_the_executor_and_store_to_every_cell(tmp_path):
    prepared = prepare_study(write(tmp_path, TINY), check=False)
    cell = prepared.study.cells()[3]
    options = prepared.study.run_options(cell, store="s.sqlite", executor="ray", ray_workers=2, shard_size=None)
    assert options["executor"] == "ray" and options["ray_workers"] == 2 and "shard_size" not in options
    assert (options["method"], options["degradation"], options["limit"], options["store"]) == \
        ("bilinear", "x8", 6, "s.sqlite")
    assert options["dataset_options"] == {"n": 8, "size": 32} and options["metrics"] == ["psnr", "ssim"]


def test_a_study_with_problems_does_not_run(tmp_path):
    prepared = prepare_study(write(tmp_path, {**TINY, "methods": [{"name": "bicubc"}]}))
    with pytest.raises(StudyError, match="1 problem"):
        run_study(prepared, store=str(tmp_path / "s.sqlite"), progress=False)
    assert not (tmp_path / "s.sqlite").exists()


# -- shipped studies -------------------------------------------------------------------------------------
EXPECTED_WEIGHTS = {  # with an empty asset cache: the components that need a pretrained file
    "utkface-small": {"metric niqe", "metric fid", "metric attr"},
    "debiasfr-paper": {"methods[0] (debiasfr[predicted])", "methods[1] (gfpgan)", "methods[2] (gpen)",
                       "methods[3] (codeformer)", "methods[4] (vqfr)", "methods[5] (psfrgan)",
                       "methods[6] (restoreformerpp)", "metric niqe", "metric fid", "metric attr"},
    "resolution-bias": {"methods[1] (debiasfr)", "methods[2] (gfpgan)", "methods[3] (codeformer)",
                        "metric lpips", "metric identity", "metric attr"},
}


def test_the_shipped_studies(tmp_path, monkeypatch):
    assert set(shipped_studies()) == set(EXPECTED_WEIGHTS)
    for variable in ("CELEBAHQ_ROOT", "IMDB_ROOT", "COX_ROOT"):
        (tmp_path / variable).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / variable))
    monkeypatch.chdir(REPO)  # utkface-small's root is relative: ../shared/data/utkface
    for name, weights in EXPECTED_WEIGHTS.items():
        path = find_study(name)
        study, schema = read_study(path)
        assert schema == [] and study.name == name
        problems = prepare_study(name).problems
        missing = {p.split(": ")[1] for p in problems if "weights missing" in p}
        assert missing == weights, (name, problems)
        roots = [p for p in problems if "weights missing" not in p]
        for problem in roots:  # the empty folders given for the datasets: no data in them
            assert any(f"(root {v!s}" in problem or str(tmp_path / v) in problem
                       for v in ("CELEBAHQ_ROOT", "IMDB_ROOT", "COX_ROOT")), problem
        datasets = {d.index for d in study.datasets if d.name != "utkface" or not (REPO.parent / "shared").exists()}
        assert len(roots) == len(datasets), (name, roots)


def test_with_the_ray_executor_the_store_equals_the_local_one(tmp_path):
    """One Ray started for the whole study (and stopped after it); rows bit-identical to the local executor's."""
    from tests.conftest import asset_unavailable

    try:
        import ray
    except ImportError:
        asset_unavailable("Ray is not installed (pip install 'frbench[ray]'): the Ray study test is skipped")
    data = {**TINY, "limit": 4, "datasets": [{**TINY["datasets"][0], "degradations": ["x8"]}]}
    path = write(tmp_path, data)
    local, remote = tmp_path / "local.sqlite", tmp_path / "ray.sqlite"
    run(path, local)
    summary = run(path, remote, executor="ray", ray_workers=1)
    assert [r.status for r in summary.results] == ["done", "done"] and not ray.is_initialized()
    assert snapshot(remote) == snapshot(local)
