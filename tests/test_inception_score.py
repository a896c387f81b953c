"""Inception Score against torch-fidelity's ``isc`` (same logits; same images and random Inception weights),
closed forms, NVIDIA's TorchScript convention and the ``sg2eval is`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from click.testing import CliRunner

import sg2eval
from sg2eval.cli.main import cli
from sg2eval.detectors import get_detector
from sg2eval.errors import Sg2evalError
from sg2eval.metrics.inception_score import inception_score
from tests.helpers.fake_weights import (
    FakeNvidiaInception,
    write_nvidia_inception_torchscript,
)
from tests.helpers.inception_fixtures import offline  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.filterwarnings("ignore::sg2eval.weights.UnverifiedWeightsWarning")


def images(seed: int, n: int, size: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, size, size), dtype=np.uint8)  # NCHW


@pytest.mark.parametrize("shuffle", [False, True])
def test_score_equals_torch_fidelity_on_the_same_logits(shuffle: bool) -> None:
    from torch_fidelity.metric_isc import isc_features_to_metric

    logits = torch.from_numpy(np.random.default_rng(0).normal(0, 3, (503, 1008)).astype(np.float32))
    theirs = isc_features_to_metric(logits, splits=10, shuffle=shuffle, rng_seed=2020)
    ours = inception_score(logits, splits=10, shuffle_seed=2020 if shuffle else None)
    assert ours.values["is"] == pytest.approx(theirs["inception_score_mean"], rel=1e-12)
    assert ours.values["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-9)
    assert ours.values["is_std"] > 0


def test_closed_forms() -> None:
    # every image certain of its own class, classes spread evenly: IS = number of classes used
    one_hot = torch.full((40, 10), -1e4, dtype=torch.float64)
    one_hot[torch.arange(40), torch.arange(40) % 10] = 0
    assert inception_score(one_hot, splits=4).values == {
        "is": pytest.approx(10.0),
        "is_std": pytest.approx(0.0),
    }
    # identical predictions: p(y|x) = p(y), KL 0, IS 1
    same = torch.randn(1, 7).repeat(30, 1)
    assert inception_score(same, splits=3).value == pytest.approx(1.0)
    with pytest.raises(Sg2evalError, match="splits"):
        inception_score(same, splits=31)


def test_logits_and_score_equal_torch_fidelity_under_shared_weights(pth: Path) -> None:
    """Same images, same random weights: our unbiased logits are torch-fidelity's 'logits_unbiased', and
    the scores agree."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.metric_isc import isc_features_to_metric

    x = images(0, 4, 48)
    theirs_fx = FeatureExtractorInceptionV3(
        "inception-v3-compat", ["logits_unbiased"], feature_extractor_weights_path=str(pth)
    )
    with torch.no_grad():
        their_logits = theirs_fx(torch.from_numpy(x))[0]
    ours = sg2eval.inception_score(x, splits=2, weights=str(pth), cache=False)
    our_logits = get_detector("inception-v3-tf-logits", str(pth))(torch.from_numpy(x))
    assert our_logits.shape == (4, 1008) and our_logits.std() > 0.1
    torch.testing.assert_close(our_logits, their_logits, rtol=1e-5, atol=1e-5)
    theirs = isc_features_to_metric(their_logits, splits=2, shuffle=False)
    assert ours.values["is"] > 1.0
    assert ours.values["is"] == pytest.approx(theirs["inception_score_mean"], rel=1e-5)
    assert ours.values["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-4, abs=1e-7)
    assert ours.provenance["detector"]["detector"] == "inception-v3-tf-logits"
    assert ours.params["splits"] == 2


@pytest.mark.slow
def test_score_equals_torch_fidelity_calculate_metrics_on_a_folder(pth: Path, tmp_path: Path) -> None:
    import torch_fidelity

    folder = tmp_path / "fake"
    folder.mkdir()
    for i, pixels in enumerate(images(1, 10, 32)):
        PIL.Image.fromarray(pixels.transpose(1, 2, 0)).save(folder / f"{i:02d}.png")
    theirs = torch_fidelity.calculate_metrics(
        input1=str(folder),
        isc=True,
        isc_splits=5,
        cuda=False,
        verbose=False,
        feature_extractor_weights_path=str(pth),
    )
    ours = sg2eval.inception_score(folder, splits=5, shuffle_seed=2020, weights=str(pth), cache=False)
    assert ours.values["is"] == pytest.approx(theirs["inception_score_mean"], rel=1e-5)
    assert ours.values["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-4)


def test_nvidia_torchscript_gives_the_same_score_as_its_unbiased_logits(tmp_path: Path) -> None:
    path = write_nvidia_inception_torchscript(tmp_path / "inception-2015-12-05.pt", seed=3)
    x = images(2, 12, 16)
    ours = sg2eval.inception_score(x, splits=3, weights=str(path), cache=False)
    fake = FakeNvidiaInception(seed=3)
    with torch.no_grad():
        unbiased = fake(torch.from_numpy(x), return_features=True) @ fake.fc  # [N, 1008], no bias
        biased = unbiased + fake.bias
    assert ours.value == pytest.approx(inception_score(unbiased, splits=3).value, rel=1e-5)
    assert ours.value != pytest.approx(inception_score(biased, splits=3).value, rel=1e-3)


def test_cli_is_and_refusals(pth: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", images(3, 4, 32))
    out = tmp_path / "is.json"
    args = ["is", str(tmp_path / "x.npy"), "--splits", "2", "--weights", str(pth), "--json", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("is: ")
    saved = json.loads(out.read_text())
    assert saved["is"] == pytest.approx(float(result.output.split()[1]), rel=1e-5)
    # pool3 features are not logits
    pool3 = sg2eval.compute_features(tmp_path / "x.npy", weights=str(pth), cache=False)
    with pytest.raises(Sg2evalError, match="--detector inception-v3-tf-logits"):
        sg2eval.inception_score(pool3)
    bad = CliRunner().invoke(cli, ["is", str(tmp_path / "x.npy"), "--splits", "9", "--weights", str(pth)])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
