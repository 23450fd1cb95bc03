"""`bench train attribute-classifier` on a few real UTKFace faces (tiny run: checks the plumbing)."""
import numpy as np
import pytest

from bench.cli import main
from reference_models.shared.attribute_classifiers import make_classifier
from reference_models.shared.attribute_classifiers.trained import LABEL


def test_train_cli_and_trained_backend(utkface_dir, tmp_path, capsys):
    out = tmp_path / "small.safetensors"
    code = main(["train", "attribute-classifier", "--dataset", "utkface", "--root", str(utkface_dir.parent),
                 "--split", "train", "--limit", "80", "--epochs", "1", "--batch-size", "32", "--threads", "1",
                 "--out", str(out)])
    assert code == 0 and out.exists()
    assert "gender_acc" in capsys.readouterr().out
    clf = make_classifier("trained", weights=out)
    assert clf.record["n_train"] + clf.record["n_val"] == 80 and clf.record["label"] == LABEL
    assert "not a reference evaluator" in clf.describe()["evaluator"]
    pred = clf.predict(np.zeros((3, 200, 200, 3), np.uint8))
    assert pred.gender.tolist()[0] in (0, 1) and (pred.age_years >= 0).all()
    np.testing.assert_allclose(pred.age_bin_probs.sum(1), 1.0, atol=1e-6)


def test_trained_backend_refuses_foreign_files(tmp_path):
    from safetensors.torch import save_file
    import torch

    path = tmp_path / "x.safetensors"
    save_file({"a": torch.zeros(1)}, str(path))
    with pytest.raises(ValueError, match="not a `bench train"):
        make_classifier("trained", weights=path)
    with pytest.raises(ValueError, match="weights=PATH"):
        make_classifier("trained")
