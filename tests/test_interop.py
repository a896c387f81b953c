"""Statistics files of pytorch-fid, clean-fid and torch-fidelity read and written by sg2eval, checked with the
tools' own loaders and FID functions (same features, same random Inception weights)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import sg2eval
from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from sg2eval.features import FeatureSet, moments_of
from sg2eval.stats_formats import (
    FIDELITY_SUFFIX,
    InteropWarning,
    read_stats_file,
    write_stats_file,
)
from tests.helpers.inception_fixtures import offline  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")


def feature_sides(dim: int = 64, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated, shifted Gaussian feature sets [n, dim] (well-conditioned covariances)."""
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(dim, dim)) / np.sqrt(dim)
    real = rng.normal(size=(n, dim)) @ mix
    fake = rng.normal(size=(n, dim)) @ (mix + 0.1 * np.eye(dim)) + 0.3
    return real.astype(np.float32), fake.astype(np.float32)


def write_ours(path: Path, features: np.ndarray, fmt: str) -> list[Path]:
    moments = moments_of(FeatureSet(features, {"num": len(features)}))
    return write_stats_file(path, moments.moments, moments.provenance, fmt, features)  # type: ignore[arg-type]


def image_folder(root: Path, seed: int, n: int, size: int) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        PIL.Image.fromarray(pixels).save(root / f"{i:03d}.png")
    return root


# --- pytorch-fid --------------------------------------------------------------------------------------


def test_ours_read_by_pytorch_fid_gives_the_same_fid(tmp_path: Path) -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance, compute_statistics_of_path

    real, fake = feature_sides()
    write_ours(tmp_path / "real.npz", real, "pytorch-fid")
    write_ours(tmp_path / "fake.npz", fake, "pytorch-fid")
    # pytorch-fid's own loader (the model is unused for .npz paths) and its FID
    m1, s1 = compute_statistics_of_path(str(tmp_path / "real.npz"), None, 50, 64, "cpu")
    m2, s2 = compute_statistics_of_path(str(tmp_path / "fake.npz"), None, 50, 64, "cpu")
    np.testing.assert_allclose(m1, real.astype(np.float64).mean(0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(s1, np.cov(real.astype(np.float64), rowvar=False), rtol=0, atol=1e-6)
    theirs = calculate_frechet_distance(m1, s1, m2, s2)
    ours = sg2eval.fid(real, fake).value
    ours_from_files = sg2eval.fid(tmp_path / "real.npz", tmp_path / "fake.npz").value
    assert theirs > 1.0
    assert ours == pytest.approx(theirs, rel=1e-7)
    assert ours_from_files == pytest.approx(ours, rel=1e-10)


def test_pytorch_fid_stats_read_by_us(tmp_path: Path) -> None:
    real, fake = feature_sides()
    # what pytorch-fid's save_fid_stats writes: np.savez_compressed(path, mu=..., sigma=...), float32 features
    path = tmp_path / "theirs.npz"
    np.savez_compressed(path, mu=np.mean(real, axis=0), sigma=np.cov(real, rowvar=False))
    found = read_stats_file(path)
    assert found.provenance["stats_file"]["format"] == "pytorch-fid"
    assert found.provenance["feature_space"] == {
        "detector": "pytorch-fid Inception block of 64",
        "resize": "torch-bilinear",
    }
    assert found.stats.num is None
    result = sg2eval.fid(path, fake)
    assert result.value == pytest.approx(sg2eval.fid(real, fake).value, rel=1e-5)
    assert result.provenance["sources"]["real"]["stats_file"]["sha256"]
    with pytest.raises(Sg2evalError, match="--covariance unbiased"):
        sg2eval.fid(path, fake, covariance="biased")
    with pytest.raises(Sg2evalError, match="only a mean and covariance"):
        sg2eval.kid(path, fake)


@pytest.mark.slow
def test_pytorch_fid_2048_stats_against_our_inception(
    pth: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytorch-fid's own pipeline (its model under the same random weights) writes statistics; sg2eval reads
    them as TF Inception pool3, computes the FID of two of them as torch-fidelity's eigenvalue route does, and
    warns about pytorch-fid's resize when they meet our own features."""
    import pytorch_fid.fid_score as pfid_score
    import pytorch_fid.inception as pfid
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    saved = torch.load(pth, weights_only=True)
    monkeypatch.setattr(pfid, "load_state_dict_from_url", lambda *a, **k: saved)
    for side, seed in (("real", 0), ("fake", 1)):
        folder = image_folder(tmp_path / side, seed, 3, 64)
        pfid_score.save_fid_stats([str(folder), str(tmp_path / f"{side}.npz")], 3, "cpu", 2048, 0)
    found = read_stats_file(tmp_path / "real.npz")
    assert found.provenance["feature_space"] == {"detector": "inception-v3-tf", "resize": "torch-bilinear"}
    with np.load(tmp_path / "real.npz") as real, np.load(tmp_path / "fake.npz") as fake:
        stats = [{"mu": f["mu"].astype(np.float64), "sigma": f["sigma"]} for f in (real, fake)]
    theirs = fid_statistics_to_metric(*stats, False)["frechet_inception_distance"]
    assert sg2eval.fid(tmp_path / "real.npz", tmp_path / "fake.npz").value == pytest.approx(theirs, rel=1e-6)
    with pytest.warns(InteropWarning, match="torch bilinear"):
        mixed = sg2eval.fid(tmp_path / "real.npz", tmp_path / "fake", weights=str(pth), cache=False)
    assert np.isfinite(mixed.value) and mixed.value > 0


# --- torch-fidelity -----------------------------------------------------------------------------------


def test_ours_read_by_torch_fidelity_loader(tmp_path: Path) -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.utils import cache_lookup_one_recompute_on_miss

    real, fake = feature_sides()
    write_ours(tmp_path / f"ours{FIDELITY_SUFFIX}", real, "torch-fidelity")

    def miss() -> None:
        raise AssertionError("torch-fidelity did not find our file")

    loaded = cache_lookup_one_recompute_on_miss(
        f"ours{FIDELITY_SUFFIX[:-3]}", miss, cache=True, cache_root=str(tmp_path), verbose=False
    )
    their_fake = fid_features_to_statistics(torch.from_numpy(fake))
    theirs = fid_statistics_to_metric(loaded, their_fake, False)["frechet_inception_distance"]
    assert loaded["mu"].dtype == their_fake["mu"].dtype  # torch-fidelity asserts this
    assert sg2eval.fid(real, fake).value == pytest.approx(theirs, rel=1e-6)


@pytest.mark.slow
def test_ours_read_by_torch_fidelity_cache(pth: Path, tmp_path: Path) -> None:
    """Our torch-fidelity file in its cache folder is what torch-fidelity's calculate_metrics uses as
    input2 (cache hit by name), and its FID against input1 equals ours."""
    import torch_fidelity

    real_dir = image_folder(tmp_path / "real", 0, 6, 32)
    fake_dir = image_folder(tmp_path / "fake", 1, 6, 32)
    cache_root = tmp_path / "fidelity_cache"
    out = cache_root / f"ours{FIDELITY_SUFFIX}"
    args = ["features", str(real_dir), "--format", "torch-fidelity", "--out", str(out), "--weights", str(pth)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    metrics = torch_fidelity.calculate_metrics(
        input1=str(fake_dir),
        input2="not-read",
        input2_cache_name="ours",
        cache_root=str(cache_root),
        fid=True,
        cuda=False,
        verbose=False,
        feature_extractor_weights_path=str(pth),
        samples_find_ext="png",
    )
    theirs = metrics["frechet_inception_distance"]
    ours = sg2eval.fid(out, fake_dir, weights=str(pth)).value
    assert theirs > 0
    assert ours == pytest.approx(theirs, rel=1e-5)
    # and the file reads back with the provenance we recorded
    found = read_stats_file(out)
    assert found.stats.num == 6
    assert found.provenance["feature_space"] == {"detector": "inception-v3-tf", "resize": "tf1-bilinear"}
    assert found.provenance["stats_file"]["format"] == "torch-fidelity"


def test_torch_fidelity_stats_read_by_us(tmp_path: Path) -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.utils_torch import torch_atomic_save

    real, fake = feature_sides()
    stats = fid_features_to_statistics(torch.from_numpy(real))  # what torch-fidelity caches
    path = tmp_path / "cifar10-train-inception-v3-compat-stat-fid-2048.pt"
    torch_atomic_save(stats, str(path))
    found = read_stats_file(path)
    assert found.provenance["feature_space"] == {"detector": "inception-v3-tf", "resize": "tf1-bilinear"}
    theirs = fid_statistics_to_metric(stats, fid_features_to_statistics(torch.from_numpy(fake)), False)
    assert sg2eval.fid(path, fake).value == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    # torch-fidelity's other extractors are another detector: refused against Inception statistics
    other = tmp_path / "x-clip-vit-b-32-stat-fid-clip.pt"
    torch_atomic_save(stats, str(other))
    with pytest.raises(Sg2evalError, match="one detector for both"):
        sg2eval.fid(other, path)


# --- clean-fid ----------------------------------------------------------------------------------------


def test_cleanfid_layout_and_modes(tmp_path: Path) -> None:
    real, fake = feature_sides()
    out = tmp_path / "mydata_legacy_tensorflow_custom_na.npz"
    written = write_ours(out, real, "clean-fid")
    assert [p.name for p in written] == [out.name, "mydata_legacy_tensorflow_custom_na_kid.npz"]
    # the keys clean-fid's get_reference_statistics reads: stats["mu"], stats["sigma"]; KID: ["feats"]
    with np.load(written[0]) as stats:
        assert stats["mu"].shape == (64,) and stats["sigma"].shape == (64, 64)
    with np.load(written[1]) as kid:
        np.testing.assert_array_equal(kid["feats"], real)
    # clean-fid's own files (no __meta__): the name tells the mode
    legacy = tmp_path / "ffhq_legacy_tensorflow_trainval70k_1024.npz"
    clean = tmp_path / "ffhq_clean_trainval70k_1024.npz"
    for path in (legacy, clean):
        np.savez_compressed(path, mu=real.mean(0), sigma=np.cov(real, rowvar=False))
    assert read_stats_file(legacy).provenance["feature_space"]["resize"] == "tf1-bilinear"
    assert read_stats_file(legacy).provenance["stats_file"]["split"] == "trainval70k"
    with pytest.raises(Sg2evalError, match="PIL bicubic"):
        sg2eval.fid(clean, legacy)
    # the KID file is read as features
    kid_value = sg2eval.kid(written[1], fake, num_subsets=5, subset_size=50).values["kid"]
    assert kid_value == pytest.approx(sg2eval.kid(real, fake, num_subsets=5, subset_size=50).values["kid"])


@pytest.mark.parametrize(
    "fmt,name,message",
    [
        ("clean-fid", "mydata.npz", "_legacy_tensorflow_custom_na.npz"),
        ("clean-fid", "mydata_clean_custom_na.npz", "legacy_tensorflow"),
        ("torch-fidelity", "mydata.pt", FIDELITY_SUFFIX),
        ("pytorch-fid", "mydata.pt", ".npz"),
    ],
)
def test_names_the_tools_cannot_find_are_refused(tmp_path: Path, fmt: str, name: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["features", "x", "--format", fmt, "--out", str(tmp_path / name)])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / name).exists()


def test_other_detector_cannot_be_written_as_inception_stats(tmp_path: Path) -> None:
    real, _ = feature_sides()
    provenance = {"detector_identity": {"name": "vgg16-nv", "weights_sha256": "x", "preprocess": "p"}}
    moments = moments_of(FeatureSet(real, provenance))
    with pytest.raises(Sg2evalError, match="--detector inception-v3-tf"):
        write_stats_file(tmp_path / "a.npz", moments.moments, provenance, "pytorch-fid")
    assert not (tmp_path / "a.npz").exists()


def test_meta_round_trips_and_is_ignored_by_the_tools(tmp_path: Path) -> None:
    real, _ = feature_sides()
    (path,) = write_ours(tmp_path / "a.npz", real, "pytorch-fid")
    with np.load(path) as archive:  # np.load without pickles, as pytorch-fid does
        meta = json.loads(str(archive["__meta__"]))
    assert meta["num"] == 400 and meta["covariance"] == "unbiased"
    assert read_stats_file(path).stats.num == 400
    assert os.path.getsize(path) > 0


# --- named reference statistics -----------------------------------------------------------------------


class _Server:
    """An http.server on 127.0.0.1 in a thread serving ``files`` ({url path: bytes}); counts requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        import http.server
        import threading

        served = files
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                requests.append(self.path)
                body = served.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads allowed again (the autouse fixture forbids them), through the real urllib downloader."""
    import sg2eval.weights as weights

    monkeypatch.delenv("SG2EVAL_OFFLINE")
    monkeypatch.setattr(weights, "DOWNLOADER", weights.urllib_download)


@pytest.fixture()
def served_stats(tmp_path: Path) -> tuple[bytes, np.ndarray, np.ndarray]:
    real, fake = feature_sides(dim=8, n=100)
    path = tmp_path / "served.npz"
    np.savez_compressed(path, mu=real.mean(0), sigma=np.cov(real, rowvar=False))
    return path.read_bytes(), real, fake


def _register(monkeypatch: pytest.MonkeyPatch, url: str | None, sha256: str | None) -> None:
    from sg2eval import reference_stats as rs

    monkeypatch.setitem(
        rs.REFERENCE_STATS,
        "toy-8",
        rs.ReferenceStats("toy-8", "toy_legacy_tensorflow_train_8.npz", "toy", url, sha256),
    )


def _stats_cache() -> Path:
    return Path(os.environ["SG2EVAL_CACHE"]) / "stats"


def test_reference_stats_fetched_verified_and_cached(
    monkeypatch: pytest.MonkeyPatch, online: None, served_stats: tuple[bytes, np.ndarray, np.ndarray]
) -> None:
    import hashlib

    body, real, fake = served_stats
    server = _Server({"/toy.npz": body})
    try:
        _register(monkeypatch, server.url("/toy.npz"), hashlib.sha256(body).hexdigest())
        result = sg2eval.fid("toy-8", fake)
        again = sg2eval.fid("toy-8", fake)  # from the cache: no second request
    finally:
        server.close()
    assert server.requests == ["/toy.npz"]
    assert result.value == pytest.approx(sg2eval.fid(real, fake).value, rel=1e-5)
    assert again.value == result.value
    reference = result.provenance["sources"]["real"]["reference"]
    assert reference["verified"] is True and reference["origin"] == "downloaded"
    assert [p.name for p in _stats_cache().iterdir()] == ["toy_legacy_tensorflow_train_8.npz"]


def test_reference_stats_with_a_wrong_hash_are_refused_and_not_cached(
    monkeypatch: pytest.MonkeyPatch, online: None, served_stats: tuple[bytes, np.ndarray, np.ndarray]
) -> None:
    body, _, fake = served_stats
    server = _Server({"/toy.npz": body})
    try:
        _register(monkeypatch, server.url("/toy.npz"), "0" * 64)
        with pytest.raises(Sg2evalError, match="differs from the published") as caught:
            sg2eval.fid("toy-8", fake)
    finally:
        server.close()
    assert "\n" not in str(caught.value)
    assert not _stats_cache().exists() or not list(_stats_cache().iterdir())


def test_reference_stats_without_a_hash_are_checked_by_content(
    monkeypatch: pytest.MonkeyPatch, online: None, served_stats: tuple[bytes, np.ndarray, np.ndarray]
) -> None:
    body, _, fake = served_stats
    server = _Server({"/toy.npz": body, "/junk.npz": b"not an npz"})
    try:
        _register(monkeypatch, server.url("/toy.npz"), None)
        reference = sg2eval.fid("toy-8", fake).provenance["sources"]["real"]["reference"]
        assert reference["verified"] is False and "no published hash" in reference["check"]
        for leftover in _stats_cache().iterdir():
            leftover.unlink()
        _register(monkeypatch, server.url("/junk.npz"), None)
        with pytest.raises(Sg2evalError, match="cannot be read"):
            sg2eval.fid("toy-8", fake)
    finally:
        server.close()
    assert not list(_stats_cache().iterdir())


def test_reference_stats_offline_or_unreachable_is_one_line(
    monkeypatch: pytest.MonkeyPatch, served_stats: tuple[bytes, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    import socket

    import sg2eval.weights as weights

    _, _, fake = served_stats
    with socket.socket() as probe:  # a port with nothing listening: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _register(monkeypatch, f"http://127.0.0.1:{port}/toy.npz", None)
    np.save(tmp_path / "fake.npy", np.zeros((4, 8, 8, 3), np.uint8))
    result = CliRunner().invoke(cli, ["fid", "--real", "toy-8", "--fake", str(tmp_path / "fake.npy")])
    assert result.exit_code == 2
    assert "SG2EVAL_OFFLINE=1" in result.output and f"127.0.0.1:{port}/toy.npz" in result.output
    assert len(result.output.strip().splitlines()) == 1
    monkeypatch.delenv("SG2EVAL_OFFLINE")
    monkeypatch.setattr(weights, "DOWNLOADER", weights.urllib_download)
    with pytest.raises(Sg2evalError, match="download failed") as caught:
        sg2eval.fid("toy-8", fake)
    assert "\n" not in str(caught.value) and str(_stats_cache()) in str(caught.value)


def test_reference_stats_found_in_the_peers_caches(
    monkeypatch: pytest.MonkeyPatch, served_stats: tuple[bytes, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    from sg2eval import reference_stats as rs

    body, real, fake = served_stats
    cleanfid_dir = tmp_path / "cleanfid" / "stats"
    cleanfid_dir.mkdir(parents=True)
    (cleanfid_dir / "toy_legacy_tensorflow_train_8.npz").write_bytes(body)
    monkeypatch.setattr(rs, "cleanfid_stats_dir", lambda: cleanfid_dir)
    _register(monkeypatch, None, None)
    reference = sg2eval.fid("toy-8", fake).provenance["sources"]["real"]["reference"]
    assert reference["origin"] == "clean-fid stats"
    # torch-fidelity's cache under $TORCH_HOME, for its own dataset names
    cache = Path(os.environ["TORCH_HOME"]) / "fidelity_cache"
    cache.mkdir(parents=True)
    from torch_fidelity.metric_fid import fid_features_to_statistics
    from torch_fidelity.utils_torch import torch_atomic_save

    torch_atomic_save(
        fid_features_to_statistics(torch.from_numpy(real)), str(cache / f"cifar10-train{FIDELITY_SUFFIX}")
    )
    found = rs.find_reference_stats("cifar10-train")
    assert found.origin == "torch-fidelity cache"
    assert sg2eval.fid("cifar10-train", fake).value == pytest.approx(sg2eval.fid(real, fake).value, rel=1e-5)
    with pytest.raises(Sg2evalError, match="not published for download"):
        rs.find_reference_stats("cifar10-val")


# --- image folders ------------------------------------------------------------------------------------


def test_folder_reads_the_common_formats_and_warns_once_about_the_rest(tmp_path: Path) -> None:
    from sg2datasets.images import SkippedFilesWarning

    rng = np.random.default_rng(0)
    pixels = [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(5)]
    for name, array in zip(["a.png", "b.bmp", "c.tif", "d.tiff", "e.ppm"], pixels, strict=True):
        PIL.Image.fromarray(array).save(tmp_path / name)
    for name in ("notes.txt", "x.gif", "y.svg", "z.psd", "dataset.json"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.warns(
        SkippedFilesWarning, match=r"skipped 4 file\(s\).*notes.txt, x.gif, y.svg, \.\.\."
    ) as caught:
        source = sg2eval.sources.open_source(tmp_path)
    assert len(caught) == 1
    assert source.names == ["a.png", "b.bmp", "c.tif", "d.tiff", "e.ppm"]
    decoded = np.concatenate(list(source.iter_batches(8, "all")))  # [5, 3, 8, 8], lossless formats
    np.testing.assert_array_equal(decoded, np.stack(pixels).transpose(0, 3, 1, 2))


@pytest.mark.parametrize("marker", ["network-snapshot-000100.sg2", "log.jsonl", "training_options.json"])
def test_a_training_run_folder_is_refused_in_one_line(tmp_path: Path, marker: str) -> None:
    run = tmp_path / "00001-run"
    run.mkdir()
    PIL.Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(run / "fakes000100.png")
    (run / marker).write_bytes(b"{}")
    np.save(tmp_path / "real.npy", np.zeros((4, 8, 8, 3), np.uint8))
    result = CliRunner().invoke(cli, ["fid", "--real", str(run), "--fake", str(tmp_path / "real.npy")])
    assert result.exit_code == 2
    assert "training run folder" in result.output and "network snapshot" in result.output
    assert len(result.output.strip().splitlines()) == 1
