"""Attribution (StyleGAN2 Section 5.1): thresholds, calibration files, verdicts, commands, Figure 10."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from click.testing import CliRunner

from sg2eval.attribution import (
    Calibration,
    choose_threshold,
    error_rates,
    find_calibration,
    save_calibration,
)
from sg2eval.cli.main import cli
from sg2eval.errors import Sg2evalError
from tests.test_projector import block_image, noise_image, tiny_generator, write_png

STEPS = 80


@dataclass(frozen=True)
class World:
    """A tiny network with a calibration beside it, the calibrated generated images as PNGs, real images,
    and the LPIPS options every command takes."""

    root: Path
    network: Path
    generated: list[Path]
    real: list[Path]
    lpips_args: list[str]

    @property
    def calibration_file(self) -> Path:
        return Path(f"{self.network}.calibration-vgg16-nv.json")


def invoke(args: list[str]) -> tuple[int, str]:
    run = CliRunner().invoke(cli, args)
    return run.exit_code, run.output


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from sg2eval.sources.network import NetworkSource
    from sg2model import save_network
    from tests.helpers.fake_weights import write_nvidia_vgg16_torchscript

    root = tmp_path_factory.mktemp("attribution")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SG2EVAL_CACHE", str(root / "cache"))
        network = root / "net" / "tiny.sg2"
        network.parent.mkdir()
        save_network(network, G_ema=tiny_generator())
        weights = write_nvidia_vgg16_torchscript(root / "vgg16.pt", seed=0)
        lpips_args = ["--lpips", "vgg16-nv", "--weights", str(weights)]
        (root / "real").mkdir()
        (root / "gen").mkdir()
        real = [write_png(root / "real" / f"r{i}.png", noise_image(16, 20 + i)[0]) for i in range(2)]
        real.append(write_png(root / "real" / "r2.png", block_image(16, 3)[0]))
        images = next(NetworkSource(network, seed=0).iter_batches(3, 3))
        generated = [write_png(root / "gen" / f"g{i}.png", img) for i, img in enumerate(images)]
        code, output = invoke(
            ["attribute-calibrate", "--network", str(network), "--real", str(root / "real"), "--num", "3"]
            + ["--steps", str(STEPS), *lpips_args]
        )
        assert code == 0, output
        yield World(root, network, generated, real, lpips_args)


# ----------------------------------------------------------------------------------------------------------
# Threshold choice.


def test_threshold_separates_disjoint_samples_at_the_gap_midpoint() -> None:
    threshold = choose_threshold(np.array([0.05, 0.1, 0.2]), np.array([0.4, 0.3]))
    assert threshold == pytest.approx(0.25)
    assert error_rates(np.array([0.05, 0.1, 0.2]), np.array([0.4, 0.3]), threshold) == (0.0, 0.0)


def test_threshold_minimizes_the_sum_of_error_rates() -> None:
    rng = np.random.RandomState(0)
    for _ in range(20):
        gen, real = rng.rand(rng.randint(1, 12)) * 0.6, rng.rand(rng.randint(1, 12)) * 0.6 + 0.2
        chosen = sum(error_rates(gen, real, choose_threshold(gen, real)))
        brute = min(
            sum(error_rates(gen, real, t))
            for t in np.unique(np.concatenate([gen, real, gen + 1e-9, real + 1e-9]))
        )
        assert chosen <= brute + 1e-12
        # FPR counts real images below the threshold, FNR generated ones at or above it.
        t = 0.5
        assert error_rates(gen, real, t) == (np.mean(real < t), np.mean(gen >= t))


# ----------------------------------------------------------------------------------------------------------
# Calibration files.


def test_calibration_is_stored_beside_the_network_with_its_hash(world: World) -> None:
    from sg2model import load_network

    stored = json.loads(world.calibration_file.read_text())
    assert stored["network_sha256"] == load_network(world.network).sha256
    assert stored["lpips"]["lpips"] == "vgg16-nv" and stored["projector"]["num_steps"] == STEPS
    gen, real = np.array(stored["generated"]), np.array(stored["real"])
    assert len(gen) == len(real) == 3
    assert gen.max() < stored["threshold"] < real.min()  # the toy network's own images project far closer
    assert stored["false_positive_rate"] == stored["false_negative_rate"] == 0.0
    assert stored["generation"]["seed"] == 0 and stored["real_source"]["kind"] == "folder"


def test_calibration_round_trip_cache_store_and_stale_files(
    world: World, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SG2EVAL_CACHE", str(tmp_path / "cache"))
    calibration = Calibration.read(world.calibration_file)
    copy = tmp_path / "copy.sg2"
    shutil.copy(world.network, copy)
    path = save_calibration(calibration, copy, store="cache")
    assert path == tmp_path / "cache" / "attribution" / f"{calibration.network_sha256}-vgg16-nv.json"
    found = find_calibration(copy, calibration.network_sha256, calibration.lpips)
    assert found is not None and found[0] == calibration and found[1] == path
    # Other LPIPS weights or another network's hash: the file is not used.
    other_lpips = {**calibration.lpips, "weights_sha256": "0" * 64}
    with pytest.warns(UserWarning, match="other LPIPS weights"):
        assert find_calibration(copy, calibration.network_sha256, other_lpips) is None
    shutil.copy(world.calibration_file, f"{copy}.calibration-vgg16-nv.json")
    with pytest.warns(UserWarning, match="another network file"):
        assert find_calibration(copy, "f" * 64, calibration.lpips) is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(Sg2evalError, match="bad.json is not a readable sg2eval calibration"):
        Calibration.read(tmp_path / "bad.json")


# ----------------------------------------------------------------------------------------------------------
# Verdicts.


def test_attribute_uses_the_calibration_and_writes_json(world: World) -> None:
    out = world.root / "verdicts.json"
    images = [str(world.generated[0]), str(world.generated[1]), str(world.real[2])]
    code, output = invoke(
        ["attribute", *images, "--network", str(world.network), "--json", str(out)] + world.lpips_args
    )
    assert code == 0, output
    payload = json.loads(out.read_text())
    verdicts = [item["verdict"] for item in payload["images"]]
    assert verdicts == [
        "generated by this network",
        "generated by this network",
        "not generated by this network",
    ]
    calibration = Calibration.read(world.calibration_file)
    # Same images, same projection seeds, same settings as in the calibration: the same distances.
    distances = [item["distance"] for item in payload["images"]]
    np.testing.assert_allclose(distances[:2], calibration.generated[:2], rtol=1e-4)
    assert payload["threshold"] == calibration.threshold
    assert payload["provenance"]["threshold_source"] == "calibration"
    assert payload["provenance"]["calibration"]["path"] == str(world.calibration_file)
    assert payload["params"]["num_steps"] == STEPS and payload["provenance"]["lpips"]["lpips"] == "vgg16-nv"
    assert "from calibration" in output and "false positives 0.0%" in output


def test_explicit_threshold_overrides_and_is_reported(world: World) -> None:
    out = world.root / "explicit.json"
    args = ["attribute", str(world.generated[2]), str(world.real[0]), "--network", str(world.network)]
    code, output = invoke(
        [*args, "--threshold", "1e9", "--steps", "5", "--json", str(out), *world.lpips_args]
    )
    assert code == 0, output
    payload = json.loads(out.read_text())
    assert all(item["generated"] for item in payload["images"]) and payload["threshold"] == 1e9
    assert payload["provenance"]["threshold_source"] == "--threshold" and "error rates unknown" in output


def test_other_settings_than_the_calibration_are_flagged(world: World) -> None:
    args = ["attribute", str(world.generated[0]), "--network", str(world.network), "--steps", "3"]
    code, output = invoke(args + world.lpips_args)
    assert code == 0, output
    assert "other projector settings (num_steps)" in output


def test_without_calibration_or_threshold_the_error_says_what_to_do(world: World, tmp_path: Path) -> None:
    from sg2model import save_network

    other = tmp_path / "other.sg2"
    save_network(other, G_ema=tiny_generator(noise_strength=0.1))
    code, output = invoke(["attribute", str(world.generated[0]), "--network", str(other), *world.lpips_args])
    assert code != 0
    assert (
        "no calibration of" in output and "sg2eval attribute-calibrate" in output and "--threshold" in output
    )


def test_bad_inputs_give_one_line_errors(world: World, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG nothing")
    big = tmp_path / "big.png"
    PIL.Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(big)
    base = ["--network", str(world.network), "--threshold", "0.1", "--steps", "2", *world.lpips_args]
    code, output = invoke(["attribute", str(broken), *base])
    assert code != 0 and "broken.png is not a readable image" in output
    code, output = invoke(["attribute", str(big), "--no-resize", *base])
    assert code != 0 and "32x32 but the network makes 16x16" in output
    code, output = invoke(["attribute", str(big), *base])
    assert code == 0 and "warning:" in output and "resized to 16x16" in output
    code, output = invoke(
        ["attribute", str(big), "--network", str(tmp_path / "gone.sg2"), "--threshold", "1"]
    )
    assert code != 0 and "gone.sg2 does not exist" in output
    code, output = invoke(
        ["attribute-calibrate", "--network", str(world.network), "--real", str(tmp_path / "nope")]
        + world.lpips_args
    )
    assert code != 0 and "nope does not exist" in output


# ----------------------------------------------------------------------------------------------------------
# Figure 10.


def test_figure10_table_and_png_from_stored_calibrations(world: World, monkeypatch, tmp_path: Path) -> None:
    import sg2eval.figure10 as F10

    def no_projection(*args, **kwargs):
        raise AssertionError("a stored calibration should have been reused")

    monkeypatch.setattr(F10, "calibrate_network", no_projection)
    weights = world.lpips_args[-1]
    config = F10.ProjectorConfig(num_steps=STEPS)
    frame = F10.figure10_networks(
        [str(world.network)], str(world.root / "real"), 3, config, lpips="vgg16-nv", lpips_weights=weights
    )
    calibration = Calibration.read(world.calibration_file)
    assert list(frame.columns) == ["network", "kind", "index", "distance", "threshold"]
    assert frame.groupby("kind").size().to_dict() == {"generated": 3, "real": 3}
    np.testing.assert_allclose(frame.loc[frame.kind == "real", "distance"], calibration.real)
    two = F10.figure10_frame({"StyleGAN2 toy": calibration, "copy": calibration})
    assert len(two) == 12 and set(two["network"]) == {"StyleGAN2 toy", "copy"}
    F10.save_figure10(two, tmp_path / "figure10.png")
    with PIL.Image.open(tmp_path / "figure10.png") as png:
        assert png.format == "PNG" and png.size[0] > png.size[1]
