"""Every built-in dataset resolves through the registry to a Dataset subclass of the same name."""
import pytest

from bench.core.registry import DATASETS
from bench.core.types import Dataset

BUILT_IN = {"synthetic": "SyntheticFaces", "utkface": "UTKFace", "ffhq": "FFHQ", "celebahq": "CelebAHQ",
            "imdb": "IMDBWiki", "cox": "COX", "folder": "FolderDataset"}


@pytest.mark.parametrize("name", sorted(BUILT_IN))
def test_registered_class(name):
    cls = DATASETS.get(name)
    assert issubclass(cls, Dataset) and cls.__name__ == BUILT_IN[name]
    assert cls.name == name and cls.description and "\n" not in cls.description
    assert cls.__module__ == f"bench.data.datasets.{name}"
    assert cls.synthetic is (name == "synthetic")
    if name == "synthetic":
        assert len(DATASETS.create(name, n=2)) == 2  # needs no root
    else:
        with pytest.raises(ValueError, match="needs --root"):
            DATASETS.create(name).samples
