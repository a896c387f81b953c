"""End to end: the fid/kid/pr/features commands and the Python API on tiny inputs with fake weights, and
agreement with torch-fidelity and pytorch-fid under the same random Inception weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import sg2eval
from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from sg2eval.weights import file_sha256
from tests.helpers.fake_weights import (
    isolate_weight_search,
    write_inception_pth,
    write_nvidia_inception_torchscript,
    write_nvidia_vgg16_torchscript,
    write_small_detector,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore::sg2eval.weights.UnverifiedWeightsWarning", "ignore::FutureWarning"
)


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_weight_search(monkeypatch, tmp_path / "search")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("weights")
    small = write_small_detector(root / "small.pt", seed=0)
    write_small_detector(root / "small_other.pt", seed=1)
    return {
        "inception": write_nvidia_inception_torchscript(root / "inception-2015-12-05.pt", seed=0),
        "vgg": write_nvidia_vgg16_torchscript(root / "vgg16.pt", seed=0),
        "small": small,
        "small_other": root / "small_other.pt",
    }


def random_images(seed: int, n: int, size: int = 16, offset: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.integers(0, 200, (n, size, size, 3)) + offset, 0, 255).astype(np.uint8)  # NHWC


@pytest.fixture()
def data(tmp_path: Path) -> dict[str, Path]:
    real = tmp_path / "real"
    real.mkdir()
    for i, pixels in enumerate(random_images(0, 10)):
        PIL.Image.fromarray(pixels).save(real / f"{i:02d}.png")
    np.save(tmp_path / "fake.npy", random_images(1, 10, offset=40))
    return {"real": real, "fake": tmp_path / "fake.npy", "root": tmp_path}


def invoke(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def test_fid_command_writes_json_matching_the_api(data: dict[str, Path], weights: dict[str, Path]) -> None:
    out = data["root"] / "fid.json"
    cache = data["root"] / "cache"
    args = ("--real", data["real"], "--fake", data["fake"], "--weights", weights["inception"])
    code, output = invoke("fid", *args, "--json", out, "--cache-dir", cache, "--device", "cpu")
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert payload["metric"] == "fid" and payload["value"] == payload["fid"] > 0
    assert f"fid: {payload['fid']:.6g}" in output
    provenance = payload["provenance"]
    assert provenance["detector"]["weights"]["sha256"] == file_sha256(weights["inception"])
    assert provenance["detector"]["verified"] is False
    assert (
        provenance["sources"]["real"]["num"] == 10
        and provenance["sources"]["real"]["source"]["kind"] == "folder"
    )
    assert len(provenance["sources"]["fake"]["content_sha256"]) == 64
    assert {"versions", "device", "elapsed_s"} <= provenance.keys()
    # The second run reads both statistics from the feature store and gives the same number.
    code, output = invoke("fid", *args, "--json", out, "--cache-dir", cache, "--device", "cpu")
    again = json.loads(out.read_text())
    assert again["value"] == payload["value"]
    assert again["provenance"]["sources"]["real"]["cache"]["status"] == "hit"


def test_fid_options_num_and_covariance(data: dict[str, Path], weights: dict[str, Path]) -> None:
    detector = f"torchscript:{weights['small']}"
    unbiased = sg2eval.fid(str(data["real"]), str(data["fake"]), num=6, detector=detector, cache=False)
    biased = sg2eval.fid(
        str(data["real"]), str(data["fake"]), num=6, covariance="biased", detector=detector, cache=False
    )
    assert unbiased.params["num_real"] == unbiased.params["num_fake"] == 6
    row = unbiased.to_frame()
    assert list(row.columns[:2]) == ["metric", "fid"] and row["param.covariance"][0] == "unbiased"
    assert row["fid"][0] == unbiased.value
    # What was measured is in the row, so rows of several runs make one table.
    assert row["real"][0] == str(data["real"]) and row["fake"][0] == str(data["fake"])
    assert row["detector"][0] == unbiased.provenance["detector"]["detector"] and row["detector_sha256"][0]
    table = pd.concat([unbiased.to_frame(), biased.to_frame()], ignore_index=True)
    assert list(table["param.covariance"]) == ["unbiased", "biased"] and table["real"].nunique() == 1
    assert biased.value != pytest.approx(unbiased.value, rel=1e-6)
    code, output = invoke("fid", "--real", data["real"], "--fake", data["fake"], "--num", "11",
                          "--detector", detector, "--no-cache")  # fmt: skip
    assert code != 0 and "holds 10 images but 11" in output
    code, output = invoke("fid", "--real", data["real"], "--fake", data["fake"], "--num", "many")
    assert code != 0 and "neither a number nor 'all'" in output


def test_kid_and_pr_commands(data: dict[str, Path], weights: dict[str, Path]) -> None:
    out = data["root"] / "kid.json"
    args = ("--real", data["real"], "--fake", data["fake"], "--no-cache")
    code, output = invoke("kid", *args, "--weights", weights["inception"], "--subsets", 5, "--subset-size", 8,
                          "--json", out)  # fmt: skip
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert payload["metric"] == "kid" and payload["params"]["subset_size"] == 8 and "kid_std" in payload
    out = data["root"] / "pr.json"
    code, output = invoke("pr", "--real", data["real"], "--fake", data["fake"], "--weights", weights["vgg"],
                          "--k", 2, "--json", out, "--no-cache")  # fmt: skip
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert payload["metric"] == "pr" and 0 <= payload["precision"] <= 1 and 0 <= payload["recall"] <= 1
    assert payload["params"]["k"] == 2 and payload["provenance"]["detector"]["detector"] == "vgg16-nv"
    same = sg2eval.precision_recall(
        str(data["real"]), str(data["real"]), weights=str(weights["vgg"]), cache=False
    )
    assert same.values == {"precision": 1.0, "recall": 1.0}


def test_features_file_is_a_source(data: dict[str, Path], weights: dict[str, Path]) -> None:
    detector = f"torchscript:{weights['small']}"
    feats = data["root"] / "real_features.npz"
    code, output = invoke("features", data["real"], "--out", feats, "--detector", detector, "--no-cache")
    assert code == 0 and "10 x 64" in output, output
    direct = sg2eval.fid(str(data["real"]), str(data["fake"]), detector=detector, cache=False)
    via_file = sg2eval.fid(str(feats), str(data["fake"]), detector=detector, cache=False)
    assert via_file.value == pytest.approx(direct.value, rel=1e-12)
    assert via_file.provenance["sources"]["real"]["features_file"]["rows_used"] == 10
    # Precomputed arrays from Python are accepted too.
    real = sg2eval.compute_features(str(data["real"]), detector=detector, cache=False)
    fake = sg2eval.compute_features(str(data["fake"]), detector=detector, cache=False)
    assert sg2eval.fid(real.features, fake.features).value == pytest.approx(direct.value, rel=1e-12)
    # Features from another detector cannot be mixed with this one.
    with pytest.raises(Sg2evalError, match="use one detector and weights for both"):
        sg2eval.fid(
            str(feats), str(data["fake"]), detector=f"torchscript:{weights['small_other']}", cache=False
        )
    code, output = invoke("features", data["real"], "--out", data["root"] / "x.txt")
    assert code != 0 and "must end in .npz" in output


def test_network_source_and_mixed_size_error(data: dict[str, Path], weights: dict[str, Path]) -> None:
    from sg2model import Generator, save_network

    torch.manual_seed(0)
    G = Generator(z_dim=8, w_dim=8, img_resolution=16, img_channels=3, channel_base=128, channel_max=16,
                  mapping_kwargs={"num_layers": 1}).eval()  # fmt: skip
    network = save_network(data["root"] / "g.sg2", G_ema=G)
    out = data["root"] / "net.json"
    detector = f"torchscript:{weights['small']}"
    code, output = invoke("fid", "--real", data["real"], "--fake", network, "--num-fake", 6, "--seed", 3,
                          "--detector", detector, "--json", out, "--no-cache")  # fmt: skip
    assert code == 0, output
    fake = json.loads(out.read_text())["provenance"]["sources"]["fake"]
    assert (
        fake["seeds"] == [3, 8]
        and fake["source"]["truncation"] == 1.0
        and fake["source"]["noise_mode"] == "random"
    )
    PIL.Image.fromarray(random_images(2, 1, size=20)[0]).save(data["real"] / "05b.png")
    code, output = invoke("fid", "--real", data["real"], "--fake", data["fake"], "--detector", detector,
                          "--no-cache")  # fmt: skip
    assert code != 0 and "05b.png is 20x20 with 3 channels but the first image is 16x16" in output


@pytest.mark.slow
def test_fid_and_kid_agree_with_torch_fidelity_and_pytorch_fid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same images, same random Inception weights (pytorch-fid layout): FID to 1e-4 relative, KID to 1e-4."""
    import pytorch_fid.inception as pfid
    from pytorch_fid.fid_score import calculate_frechet_distance
    from torch_fidelity import calculate_metrics

    pth = write_inception_pth(tmp_path / "pt_inception-2015-12-05-6726825d.pth", seed=0)
    real = random_images(3, 5, size=299).transpose(0, 3, 1, 2)  # NCHW, no resize needed by any package
    fake = random_images(4, 5, size=299, offset=40).transpose(0, 3, 1, 2)
    ours_fid = sg2eval.fid(real, fake, weights=str(pth), cache=False, batch_size=3)
    ours_kid = sg2eval.kid(real, fake, weights=str(pth), cache=False, num_subsets=10, subset_size=5)

    class Images(torch.utils.data.Dataset):
        def __init__(self, array: np.ndarray) -> None:
            self.array = array

        def __len__(self) -> int:
            return len(self.array)

        def __getitem__(self, i: int) -> torch.Tensor:
            return torch.from_numpy(self.array[i])

    theirs = calculate_metrics(input1=Images(fake), input2=Images(real), fid=True, kid=True, cache=False,
                               feature_extractor_weights_path=str(pth), kid_subsets=10, kid_subset_size=5,
                               samples_shuffle=False, verbose=False, batch_size=3, cuda=False)  # fmt: skip
    assert ours_fid.value == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    assert ours_kid.values["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)

    saved = torch.load(pth, weights_only=True)
    monkeypatch.setattr(pfid, "load_state_dict_from_url", lambda *a, **k: saved)
    model = pfid.InceptionV3([pfid.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    with torch.no_grad():  # pytorch-fid maps [0, 1] by 2x - 1; x / 256 makes that (x - 128) / 128
        feats = [model(torch.from_numpy(a).double().div(256).float())[0].flatten(1).double().numpy()
                 for a in (real, fake)]  # fmt: skip
    peer = calculate_frechet_distance(feats[0].mean(0), np.cov(feats[0], rowvar=False),
                                      feats[1].mean(0), np.cov(feats[1], rowvar=False))  # fmt: skip
    assert ours_fid.value == pytest.approx(peer, rel=1e-4)
