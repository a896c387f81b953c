"""Linear separability: entropy math, confident-half selection, SVM settings, streaming, determinism, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sg2eval.classifiers import ClassifierEntry, ClassifierSet, build_attribute_network, write_manifest
from sg2eval.errors import Sg2evalError
from sg2eval.metrics.separability import (
    SvmSettings,
    conditional_entropy_bits,
    entropies_from_arrays,
    fit_linear_svm,
    keep_most_confident,
    labels_and_confidence,
    score_from_entropies,
    separability,
)


def _direct_conditional_entropy(x: np.ndarray, y: np.ndarray) -> float:
    """H(Y|X) = sum_x p(x) H(Y | X = x), in bits, by looping over the values of X."""
    total = 0.0
    for value in np.unique(x):
        sel = y[x == value]
        p_x = len(sel) / len(y)
        for label in np.unique(sel):
            q = np.mean(sel == label)
            total -= p_x * q * np.log2(q)
    return total


@pytest.mark.parametrize("seed", range(5))
def test_conditional_entropy_matches_direct_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(500) < rng.uniform(0.1, 0.9)).astype(int)
    flip = rng.random(500) < rng.uniform(0.0, 0.5)
    x = np.where(flip, 1 - y, y)
    assert conditional_entropy_bits(x, y) == pytest.approx(_direct_conditional_entropy(x, y), abs=1e-12)


def test_conditional_entropy_edge_cases() -> None:
    y = np.array([0, 1, 1, 0, 1])
    assert conditional_entropy_bits(y, y) == 0.0  # X determines Y
    assert conditional_entropy_bits(1 - y, y) == 0.0
    assert conditional_entropy_bits(np.zeros(4, int), np.array([0, 1, 0, 1])) == pytest.approx(1.0)
    assert conditional_entropy_bits(np.array([0, 1, 0, 1]), np.ones(4, int)) == 0.0  # H(Y) = 0
    with pytest.raises(Sg2evalError):
        conditional_entropy_bits(np.zeros(3, int), np.zeros(4, int))


def test_labels_and_confidence_follow_softmax_of_plus_minus_logit() -> None:
    logits = np.array([2.0, -0.5, 0.0, -3.0, 0.1])
    labels, confidence = labels_and_confidence(logits)
    t = torch.tensor(logits)[:, None]
    probs = torch.softmax(torch.cat([t, -t], dim=1), dim=1).numpy()
    np.testing.assert_array_equal(labels, probs.argmax(axis=1))
    np.testing.assert_allclose(confidence, probs.max(axis=1), rtol=1e-12)


def test_keep_most_confident_selects_largest_confidence() -> None:
    confidence = np.array([0.6, 0.99, 0.51, 0.8, 0.97, 0.7])
    np.testing.assert_array_equal(keep_most_confident(confidence, 3), [1, 3, 4])
    np.testing.assert_array_equal(keep_most_confident(confidence, 6), np.arange(6))
    with pytest.raises(Sg2evalError):
        keep_most_confident(confidence, 0)


def test_linear_labels_give_zero_entropy_and_unit_score() -> None:
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((1200, 8)).astype(np.float32)
    directions = rng.standard_normal((8, 3))
    logits = (latents @ directions).astype(np.float32)  # each attribute an exact linear function
    table = entropies_from_arrays(latents, logits, ["a", "b", "c"], workers=1)
    assert (table["entropy_bits"] < 0.02).all(), table
    assert score_from_entropies(table["entropy_bits"]) == pytest.approx(1.0, abs=0.05)
    assert (table["num_kept"] == 600).all() and (table["svm_accuracy"] > 0.99).all()


def test_random_labels_give_one_bit_each() -> None:
    rng = np.random.default_rng(1)
    latents = rng.standard_normal((4000, 8)).astype(np.float32)
    logits = rng.standard_normal((4000, 2)).astype(np.float32)  # independent of the latents
    table = entropies_from_arrays(latents, logits, ["a", "b"], workers=1)
    np.testing.assert_allclose(table["entropy_bits"], 1.0, atol=0.03)
    np.testing.assert_allclose(table["entropy_nats"], np.log(2.0), atol=0.03)
    assert score_from_entropies(table["entropy_bits"]) == pytest.approx(4.0, rel=0.05)


def test_parallel_fits_equal_sequential_fits() -> None:
    """Worker processes keep liblinear's global random generator private to each fit (threads would not)."""
    rng = np.random.default_rng(4)
    latents = rng.standard_normal((600, 16)).astype(np.float32)
    logits = (latents[:, :3] + rng.standard_normal((600, 3))).astype(np.float32)
    settings = SvmSettings(max_iter=3)  # unconverged, so the coordinate order matters
    one = entropies_from_arrays(latents, logits, ["a", "b", "c"], settings=settings, seed=1, workers=1)
    two = entropies_from_arrays(latents, logits, ["a", "b", "c"], settings=settings, seed=1, workers=2)
    assert not one["converged"].any()
    np.testing.assert_array_equal(one["entropy_bits"], two["entropy_bits"])
    np.testing.assert_array_equal(one["svm_accuracy"], two["svm_accuracy"])


def test_default_workers_respect_cpus_attributes_and_memory() -> None:
    from sg2eval.metrics.separability import default_workers, svm_worker_bytes

    assert 1 <= default_workers(40) <= 40 and default_workers(1) == 1
    assert default_workers(40, bytes_per_worker=10**15) == 1  # no more fits than half the free memory holds
    assert svm_worker_bytes(100_000, 512) == 100_000 * 513 * 24


def test_svm_uses_the_pinned_historical_defaults_and_falls_back_to_labels() -> None:
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5))
    y = (x[:, 0] + 0.5 * rng.standard_normal(300) > 0).astype(int)
    pred, converged, failed = fit_linear_svm(x, y, SvmSettings(), seed=3)
    reference = (
        LinearSVC(
            C=1.0, loss="squared_hinge", penalty="l2", tol=1e-4, max_iter=1000, dual=True, random_state=3
        )
        .fit(x, y)
        .predict(x)
    )
    np.testing.assert_array_equal(pred, reference)
    assert converged and not failed
    one_class = np.zeros(300, int)
    pred, _, failed = fit_linear_svm(x, one_class, SvmSettings(), seed=0)
    assert failed and (pred == one_class).all()


def _tiny_generator(seed: int = 0, resolution: int = 16):
    from sg2model import Generator

    torch.manual_seed(seed)
    G = Generator(
        z_dim=8,
        c_dim=0,
        w_dim=8,
        img_resolution=resolution,
        img_channels=3,
        channel_base=64,
        channel_max=16,
        mapping_kwargs={"num_layers": 2},
    ).eval()
    for name, buf in G.named_parameters():
        if name.endswith("noise_strength"):
            buf.data.fill_(0.5)  # make the noise matter, so the per-sample noise stream is exercised
    return G


class _FirstPixels:
    """A classifier callable: left-half minus right-half mean of each colour channel as three logits."""

    names = ["red", "green", "blue"]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        half = images.shape[3] // 2
        return images[..., :half].mean(dim=(2, 3)) - images[..., half:].mean(dim=(2, 3))  # [N, 3]


def test_results_do_not_depend_on_batch_size_and_follow_the_seed() -> None:
    G = _tiny_generator()
    kwargs = {"num": 300, "space": "both", "workers": 1}
    a = separability(G, _FirstPixels(), batch_size=7, seed=5, **kwargs)
    b = separability(G, _FirstPixels(), batch_size=32, seed=5, **kwargs)
    c = separability(G, _FirstPixels(), batch_size=32, seed=6, **kwargs)
    bits_a, bits_b = (r.per_item["entropies"]["entropy_bits"] for r in (a, b))
    assert bits_a.sum() > 0.1  # a non-trivial case
    np.testing.assert_allclose(bits_a, bits_b, atol=1e-9)
    assert a.values == pytest.approx(b.values, rel=1e-9)
    assert set(a.values) == {"separability_w", "separability_z"}
    assert a.values != pytest.approx(c.values, rel=1e-6)


def test_generation_streams_latents_and_logits() -> None:
    from sg2eval.metrics.separability import generate_and_classify

    G = _tiny_generator()
    small = generate_and_classify(G, _FirstPixels(), 20, ["w", "z"], batch_size=3, seed=1)
    large = generate_and_classify(G, _FirstPixels(), 20, ["w", "z"], batch_size=20, seed=1)
    np.testing.assert_allclose(small.logits, large.logits, atol=1e-6)
    np.testing.assert_array_equal(small.latents["z"], large.latents["z"])
    np.testing.assert_allclose(small.latents["w"], large.latents["w"], atol=1e-6)
    z = torch.from_numpy(small.latents["z"])
    ws = G.mapping(z, None)
    np.testing.assert_allclose(small.latents["w"], ws[:, -1].detach().numpy(), atol=1e-5)  # the last w


def test_result_table_and_params() -> None:
    G = _tiny_generator()
    result = separability(G, _FirstPixels(), num=40, space="z", batch_size=8, workers=2)
    table = result.per_item["entropies"]
    assert list(table.index) == _FirstPixels.names
    assert {"entropy_bits", "entropy_nats", "svm_accuracy", "num_kept", "converged"} <= set(table.columns)
    assert (table["num_kept"] == 20).all()
    assert result.value == pytest.approx(2.0 ** table["entropy_bits"].sum())
    assert result.params["svm"]["dual"] is True and result.params["num_keep"] == 20
    json.dumps(result.to_dict())
    with pytest.raises(Sg2evalError, match="space"):
        separability(G, _FirstPixels(), num=10, space="x")


def _write_set(folder, resolution: int, names: list[str]) -> ClassifierSet:
    from sg2model import save_network

    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, name in enumerate(names):
        torch.manual_seed(10 + i)
        net = build_attribute_network(resolution, channel_base=64, channel_max=16)
        save_network(folder / f"{i:02d}-{name}.sg2", D=net)
        entries.append(ClassifierEntry(name, f"{i:02d}-{name}.sg2"))
    write_manifest(folder, entries, resolution)
    from sg2eval.classifiers import load_classifier_set

    loaded = load_classifier_set(folder)
    assert isinstance(loaded, ClassifierSet)
    return loaded


def test_classifier_set_downsamples_larger_generator_output(tmp_path) -> None:
    classifiers = _write_set(tmp_path / "set", 8, ["a", "b"])
    images = torch.rand(4, 3, 16, 16) * 2 - 1
    expected = classifiers(torch.nn.functional.avg_pool2d(images, 2))
    torch.testing.assert_close(classifiers(images), expected)
    result = separability(_tiny_generator(), tmp_path / "set", num=24, batch_size=8, workers=1)
    assert list(result.per_item["entropies"].index) == ["a", "b"]


def test_cli_writes_json(tmp_path) -> None:
    from sg2eval.cli.main import cli
    from sg2model import save_network

    _write_set(tmp_path / "set", 16, ["a", "b"])
    save_network(tmp_path / "g.sg2", G_ema=_tiny_generator())
    out = tmp_path / "ls.json"
    args = [
        "separability",
        "--network",
        str(tmp_path / "g.sg2"),
        "--classifiers",
        str(tmp_path / "set"),
        "--num",
        "32",
        "--space",
        "z",
        "--batch",
        "8",
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["metric"] == "separability" and payload["params"]["space"] == "z"
    assert set(payload["per_attribute"]) == {"a", "b"}
    assert payload["value"] == pytest.approx(
        2.0 ** sum(v["entropy_bits"] for v in payload["per_attribute"].values())
    )
