import numpy as np
import pytest
from PIL import Image

from bench.data.datasets.synthetic import SyntheticFaces
from bench.core.imageio import read_image


def _down_up(image: np.ndarray, factor: int = 8) -> np.ndarray:
    """x``factor`` bicubic downsampling and back (PIL), as the suite's x8 degradation does."""
    size = image.shape[0]
    small = Image.fromarray(image).resize((size // factor, size // factor), Image.BICUBIC)
    return np.asarray(small.resize((size, size), Image.BICUBIC), dtype=np.float64)


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_deterministic_and_independent_of_n():
    few, many = SyntheticFaces(n=4, seed=7), SyntheticFaces(n=40, seed=7)
    assert [s.attributes for s in few] == [s.attributes for s in many.samples[:4]]
    assert np.array_equal(read_image(few.samples[3].hq), read_image(many.samples[3].hq))
    assert np.array_equal(read_image(few.samples[3].hq), read_image(few.samples[3].hq))
    other_seed = SyntheticFaces(n=4, seed=8)
    assert not np.array_equal(read_image(few.samples[3].hq), read_image(other_seed.samples[3].hq))
    assert [s.id for s in many] == sorted(s.id for s in many)


def test_lazy_rendering(monkeypatch):
    calls = []
    original = SyntheticFaces.render
    monkeypatch.setattr(SyntheticFaces, "render", lambda self, i, **kw: calls.append(i) or original(self, i, **kw))
    dataset = SyntheticFaces(n=5000, size=64)
    assert len(dataset) == 5000 and calls == []  # indexing renders nothing
    sample = dataset.samples[1234]
    assert callable(sample.hq) and sample.lq is None
    image = read_image(sample.hq)
    assert calls == [1234] and image.dtype == np.uint8 and image.shape == (64, 64, 3)


def test_attribute_distribution_is_honoured():
    attrs = [s.attributes for s in SyntheticFaces(n=4000, male_fraction=0.7)]
    assert abs(np.mean([a.gender for a in attrs]) - 0.7) < 0.03  # binomial sd 0.007
    assert min(a.age for a in attrs) >= 1 and max(a.age for a in attrs) <= 90
    attrs = [s.attributes for s in SyntheticFaces(n=4000, seed=1, male_fraction=0.2, age_range=(10, 80),
                                                  young_fraction=0.8, young_age=30)]
    assert abs(np.mean([a.gender for a in attrs]) - 0.2) < 0.03
    assert abs(np.mean([a.age < 30 for a in attrs]) - 0.8) < 0.03
    assert min(a.age for a in attrs) >= 10 and max(a.age for a in attrs) <= 80
    with pytest.raises(ValueError, match="male_fraction"):
        SyntheticFaces(male_fraction=1.5)


def test_cues_are_fine_details_erased_by_x8():
    dataset = SyntheticFaces(size=128)
    for index in range(3):
        female, male = dataset.render(index, gender=0, age=40), dataset.render(index, gender=1, age=40)
        young, old = dataset.render(index, gender=0, age=20), dataset.render(index, gender=0, age=85)
        other_face = dataset.render(index + 50, gender=0, age=40)
        gender_full, gender_low = _mad(male, female), _mad(_down_up(male), _down_up(female))
        age_full, age_low = _mad(old, young), _mad(_down_up(old), _down_up(young))
        assert gender_full > 0.8 and age_full > 0.8  # grey levels, averaged over the whole image
        assert gender_low < 0.15 * gender_full
        assert age_low < 0.2 * age_full
        # while the coarse face itself survives x8: two different faces still differ a lot
        assert _mad(_down_up(other_face), _down_up(female)) > 20 * max(gender_low, age_low)


def test_describe_says_synthetic():
    dataset = SyntheticFaces(n=3)
    info = dataset.describe()
    assert info["synthetic"] is True and info["name"] == "synthetic"
    assert "synthetic" in info["kind"] and "synthetic" in dataset.description.lower()
    assert info["options"]["male_fraction"] == 0.7 and info["options"]["n"] == 3
