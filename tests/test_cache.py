"""Feature store: keys, atomic npz entries, hits and misses, invalidation, features files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from sg2eval.cache import FeatureCache, cache_key, default_cache_dir, read_npz, write_npz
from sg2eval.detectors import get_detector
from sg2eval.errors import Sg2evalError
from sg2eval.features import (
    extract_features,
    extract_moments,
    is_features_file,
    read_features_file,
    write_features_file,
)
from sg2eval.sources import open_source
from tests.helpers.fake_weights import write_nvidia_inception_torchscript


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    root.mkdir()
    for i in range(6):
        PIL.Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / f"{i}.png")
    return root


@pytest.fixture()
def weights(tmp_path: Path) -> Path:
    return write_nvidia_inception_torchscript(tmp_path / "inception-2015-12-05.pt", seed=0)


def test_cache_key_is_canonical_and_sensitive() -> None:
    parts = {"content_sha256": "ab", "num": 10, "detector": {"name": "x", "weights_sha256": "cd"}}
    assert cache_key(parts) == cache_key(dict(reversed(list(parts.items()))))
    assert cache_key(parts) != cache_key({**parts, "num": 11})


def test_npz_round_trip_is_atomic_and_pickle_free(tmp_path: Path) -> None:
    arrays = {"features": np.arange(6, dtype=np.float32).reshape(2, 3)}
    path = write_npz(tmp_path / "sub" / "x.npz", arrays, {"a": 1, "b": [1, 2]})
    assert [p.name for p in path.parent.iterdir()] == ["x.npz"]  # no temporary left behind
    loaded, meta = read_npz(path)
    np.testing.assert_array_equal(loaded["features"], arrays["features"])
    assert meta == {"a": 1, "b": [1, 2]}
    np.save(tmp_path / "plain.npy", np.zeros(3))
    with pytest.raises(Sg2evalError, match="cannot be read"):
        read_npz(tmp_path / "plain.npy")
    np.savez(tmp_path / "foreign.npz", x=np.zeros(2))
    with pytest.raises(Sg2evalError, match="no __meta__"):
        read_npz(tmp_path / "foreign.npz")


def test_cache_store_misses_corrupt_and_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SG2EVAL_CACHE", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root"
    store = FeatureCache()
    assert store.load("features", "ab" * 32, 2) is None
    path = store.save("features", "ab" * 32, {"features": np.ones((2, 2))}, {"k": "v"})
    assert path == tmp_path / "root" / "features" / "ab" / f"{'ab' * 32}.npz"
    entry = store.load("features", "ab" * 32, 2)
    assert entry is not None and entry[1]["k"] == "v" and entry[1]["integrity"]["rows"] == 2
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="not usable .unreadable"):
        assert store.load("features", "ab" * 32, 2) is None  # a corrupt entry is a miss, not a crash
    assert not path.exists()
    off = FeatureCache(tmp_path / "off", enabled=False)
    assert off.save("features", "cd" * 32, {"features": np.ones(1)}, {}) is None
    assert not (tmp_path / "off").exists()


def test_extraction_hits_and_invalidates(tmp_path: Path, folder: Path, weights: Path) -> None:
    detector = get_detector("inception-v3-tf", str(weights))
    store = FeatureCache(tmp_path / "cache")
    first = extract_features(open_source(folder), detector, cache=store, batch_size=4)
    assert first.features.shape == (6, 2048) and first.provenance["cache"]["status"] == "miss"
    second = extract_features(open_source(folder), detector, cache=store, batch_size=3)
    assert second.provenance["cache"]["status"] == "hit"
    np.testing.assert_array_equal(second.features, first.features)
    key = first.provenance["cache"]["key"]
    fewer = extract_features(open_source(folder), detector, num=5, cache=store)
    assert fewer.provenance["cache"]["key"] != key

    # Moments reuse cached features, then get their own entry.
    moments = extract_moments(open_source(folder), detector, cache=store)
    assert moments.provenance["cache"]["status"] == "hit (features)"
    np.testing.assert_allclose(moments.moments.gaussian().mu, first.features.astype(np.float64).mean(0))

    # One changed byte of one image: new content hash, new key, a miss.
    pixels = np.asarray(PIL.Image.open(folder / "3.png")).copy()
    pixels[0, 0, 0] ^= 1
    PIL.Image.fromarray(pixels).save(folder / "3.png")
    changed = extract_features(open_source(folder), detector, cache=store)
    assert changed.provenance["cache"]["status"] == "miss"
    assert changed.provenance["cache"]["key"] != key
    assert not np.array_equal(changed.features[3], first.features[3])

    # Other weights: other key.
    other = get_detector("inception-v3-tf", str(write_nvidia_inception_torchscript(tmp_path / "o.pt", 1)))
    assert extract_features(open_source(folder), other, cache=store).provenance["cache"]["status"] == "miss"


def _spoil(path: Path, how: str, store: FeatureCache) -> None:
    """Damage the features entry at ``path`` (12 rows) as ``how`` says."""
    arrays, meta = read_npz(path)
    features = arrays["features"]
    if how == "edited":  # values changed, checksums kept
        write_npz(path, {"features": features * 2}, meta)
    elif how == "short":  # fewer rows with consistent checksums, stored under the 12-row key
        store.save("features", path.stem, {"features": features[:5]}, meta)
    elif how == "zero-byte":
        path.write_bytes(b"")
    elif how == "unchecked":  # an entry without checksums (written by an older sg2eval)
        write_npz(path, arrays, {k: v for k, v in meta.items() if k != "integrity"})


@pytest.mark.parametrize(
    ("how", "problem"),
    [
        ("edited", "features differ from their checksums"),
        ("short", "holds 5 images, 12 asked for"),
        ("zero-byte", "unreadable"),
        ("unchecked", "no checksums recorded"),
    ],
)
def test_bad_cache_entries_are_recomputed_and_replaced(
    tmp_path: Path, weights: Path, how: str, problem: str
) -> None:
    rng = np.random.default_rng(1)
    images = tmp_path / "twelve"
    images.mkdir()
    for i in range(12):
        PIL.Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(images / f"{i:02d}.png")
    detector = get_detector("inception-v3-tf", str(weights))
    store = FeatureCache(tmp_path / "cache")
    fresh = extract_features(open_source(images), detector, cache=store)
    path = Path(fresh.provenance["cache"]["path"])
    _spoil(path, how, store)
    with pytest.warns(UserWarning, match=f"{path.name} is not usable .{problem}.*recomputing it"):
        again = extract_features(open_source(images), detector, cache=store)
    assert again.provenance["cache"]["status"] == "miss"
    np.testing.assert_array_equal(again.features, fresh.features)
    # The recomputed entry replaced the bad one: the next run is a plain hit, as are moments from it.
    assert extract_features(open_source(images), detector, cache=store).provenance["cache"]["status"] == "hit"
    moments = extract_moments(open_source(images), detector, cache=store)
    assert moments.provenance["cache"]["status"] == "hit (features)"


def test_edited_moments_entry_is_not_used(tmp_path: Path, folder: Path, weights: Path) -> None:
    detector = get_detector("inception-v3-tf", str(weights))
    store = FeatureCache(tmp_path / "cache")
    fresh = extract_moments(open_source(folder), detector, cache=store)
    path = Path(fresh.provenance["cache"]["path"])
    arrays, meta = read_npz(path)
    write_npz(path, {**arrays, "num": np.asarray(5, dtype=np.int64)}, meta)
    with pytest.warns(UserWarning, match="num differ from their checksums"):
        again = extract_moments(open_source(folder), detector, cache=store)
    assert again.provenance["cache"]["status"] == "miss" and again.moments.num == 6


def test_moments_stream_and_cache(tmp_path: Path, folder: Path, weights: Path) -> None:
    detector = get_detector("inception-v3-tf", str(weights))
    store = FeatureCache(tmp_path / "cache")
    streamed = extract_moments(open_source(folder), detector, cache=store, batch_size=4)
    assert streamed.provenance["cache"]["status"] == "miss"
    again = extract_moments(open_source(folder), detector, cache=store, batch_size=5)
    assert again.provenance["cache"]["status"] == "hit"
    np.testing.assert_allclose(again.moments.gaussian().sigma, streamed.moments.gaussian().sigma, rtol=1e-12)


def test_callable_detectors_are_not_cached(tmp_path: Path, folder: Path) -> None:
    detector = get_detector(lambda x: x.float().mean(dim=(2, 3)))
    found = extract_features(open_source(folder), detector, cache=FeatureCache(tmp_path / "c"))
    assert found.features.shape == (6, 3) and found.provenance["cache"]["status"] == "off"
    assert not (tmp_path / "c").exists()


def test_features_file_round_trip(tmp_path: Path, folder: Path, weights: Path) -> None:
    detector = get_detector("inception-v3-tf", str(weights))
    found = extract_features(open_source(folder), detector)
    path = write_features_file(tmp_path / "f.npz", found)
    assert is_features_file(path) and not is_features_file(folder / "0.png")
    loaded = read_features_file(path, num=4)
    np.testing.assert_array_equal(loaded.features, found.features[:4])
    assert loaded.provenance["content_sha256"] == found.provenance["content_sha256"]
    assert loaded.provenance["detector_identity"]["weights_sha256"] == detector.weights_sha256
    with pytest.raises(Sg2evalError, match="holds 6 feature vectors but 7"):
        read_features_file(path, num=7)
