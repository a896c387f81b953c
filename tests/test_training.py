"""StyleGAN2 trainer (sg2model.training): losses, regularization intervals, EMA, lazy Adam, configs, exact
resume, atomic checkpoints, spectral norm, snapshot metrics with fake detectors, bad input.

Tiny networks at 16x16 on the built-in shapes dataset; every fast case runs in a few seconds on one core.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from sg2datasets.labelled import write_labelled_zip
from sg2datasets.shapes import ATTRIBUTES, make_shapes
from sg2eval.cli.main import cli
from sg2model import load_network
from sg2model.core.errors import Sg2Error
from sg2model.training import CONFIGS, Trainer, TrainingOptions, get_config
from sg2model.training import checkpoint as ckpt
from sg2model.training.loop import build_phases
from sg2model.training.loss import path_lengths, r1_penalty
from sg2model.training.options import ResolvedSettings
from tests.helpers.training import TINY_TRAINING


@pytest.fixture(scope="module")
def shapes_zip(tmp_path_factory: pytest.TempPathFactory) -> str:
    images, attributes = make_shapes(64, resolution=16, seed=3)
    path = tmp_path_factory.mktemp("data") / "shapes16.zip"
    write_labelled_zip(path, images, attributes, ATTRIBUTES)
    return str(path)


def options(data: str, out: Path, **changes: Any) -> TrainingOptions:
    return TrainingOptions(data=data, out=str(out), **{"config": "F", **TINY_TRAINING, **changes})


def all_close_state(a: Any, b: Any) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)


# ----------------------------------------------------------------------------------------------------------
# Configs and phases.


def test_configs_record_what_they_change() -> None:
    assert sorted(CONFIGS) == ["B", "C", "D", "E", "F"]
    assert all(c.changes and c.paper_row for c in CONFIGS.values())
    assert get_config("B").lazy_regularization is False and get_config("B").pl_weight == 0
    assert get_config("C").lazy_regularization is True and get_config("C").pl_weight == 0
    assert get_config("D").pl_weight == 2 and get_config("D").network_preset == "D"
    assert get_config("E").r1_gamma == 100 and get_config("E").network_preset == "E"
    assert get_config("F").r1_gamma == 10 and get_config("F").network_preset == "F"
    assert (get_config("F").g_reg_interval, get_config("F").d_reg_interval) == (4, 16)
    with pytest.raises(Sg2Error, match="unknown training config"):
        get_config("Z")


def test_phases_lazy_and_combined(shapes_zip: str, tmp_path: Path) -> None:
    lazy = build_phases(ResolvedSettings.from_options(options(shapes_zip, tmp_path, config="F")))
    assert [(p.name, p.interval, p.gain) for p in lazy] == [
        ("G_main", 1, 1.0),
        ("G_reg", 2, 2.0),
        ("D_main", 1, 1.0),
        ("D_reg", 3, 3.0),
    ]
    combined = build_phases(ResolvedSettings.from_options(options(shapes_zip, tmp_path, config="B")))
    assert [(p.name, p.main, p.reg, p.interval) for p in combined] == [
        ("G_both", True, False, 1),
        ("D_both", True, True, 1),
    ]


def test_lazy_adam_adjustment_and_networks_of_each_config(shapes_zip: str, tmp_path: Path) -> None:
    f = Trainer(options(shapes_zip, tmp_path, config="F", g_reg_interval=None, d_reg_interval=None))
    g_group, d_group = f.opt_G.param_groups[0], f.opt_D.param_groups[0]
    assert g_group["lr"] == pytest.approx(0.002 * 4 / 5) and d_group["lr"] == pytest.approx(0.002 * 16 / 17)
    assert g_group["betas"] == pytest.approx((0.0, 0.99 ** (4 / 5)))
    assert d_group["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    assert g_group["eps"] == 1e-8
    assert f.ema_beta == pytest.approx(0.5 ** (8 / 10_000))
    assert f.G.config.synthesis.architecture == "skip" and f.D.config.architecture == "resnet"
    b = Trainer(options(shapes_zip, tmp_path, config="B"))
    assert b.opt_G.param_groups[0]["lr"] == 0.002 and b.opt_G.param_groups[0]["betas"] == (0.0, 0.99)
    assert b.G.config.synthesis.architecture == "orig" and b.D.config.architecture == "orig"
    assert b.G.config.synthesis.demodulate is True
    assert b.G.mapping.num_layers == 2 and b.G.w_dim == 16 and b.G.z_dim == 16


# ----------------------------------------------------------------------------------------------------------
# Losses.


def test_r1_is_squared_input_gradient_norm() -> None:
    x = torch.randn(3, 1, 2, 2, requires_grad=True)
    logits = (x**2).sum(dim=[1, 2, 3]).unsqueeze(1)  # grad = 2x
    expected = (2 * x.detach()).square().sum(dim=[1, 2, 3])
    torch.testing.assert_close(r1_penalty(x, logits), expected)


def test_path_length_of_a_linear_map() -> None:
    """img = A ws: J^T y = A^T y, so len = sqrt(mean over ws of |A^T y|^2) with y / sqrt(HW)."""
    ws = torch.randn(2, 3, 4, requires_grad=True)
    a = torch.randn(4, 1 * 2 * 2)
    img = (ws.sum(dim=1) @ a).reshape(2, 1, 2, 2)
    gen = torch.Generator().manual_seed(5)
    lengths = path_lengths(img, ws, gen)
    y = torch.randn(img.shape, generator=torch.Generator().manual_seed(5)) / 2  # sqrt(H*W) = 2
    grad = y.reshape(2, 4) @ a.t()  # [N, w_dim], the same for every w
    torch.testing.assert_close(lengths, grad.square().sum(dim=1).sqrt())


# ----------------------------------------------------------------------------------------------------------
# Training steps.


def test_short_run_losses_intervals_and_discrimination(shapes_zip: str, tmp_path: Path) -> None:
    trainer = Trainer(options(shapes_zip, tmp_path))
    steps = [trainer.train_step() for _ in range(20)]
    for i, stats in enumerate(steps):
        assert all(math.isfinite(v) for v in stats.values()), stats
        assert {"G_loss", "D_loss"} <= stats.keys()
        assert ("R1_penalty" in stats) == (i % 3 == 0), (i, stats)
        assert ("PL_penalty" in stats) == (i % 2 == 0), (i, stats)
    assert trainer.cur_nimg == 160 and trainer.step == 20
    assert float(trainer.pl_mean) > 0
    real = np.mean([s["D_real_logit"] for s in steps[-10:]])
    fake = np.mean([s["D_fake_logit"] for s in steps[-10:]])
    assert real > fake, (real, fake)
    assert float(trainer.G.mapping.w_avg.abs().sum()) > 0  # w_avg tracked


def test_ema_is_lerp_of_g_towards_previous_ema(shapes_zip: str, tmp_path: Path) -> None:
    trainer = Trainer(options(shapes_zip, tmp_path, ema_kimg=0.01))  # beta = 0.5 ** 0.8
    ema_before = copy.deepcopy(trainer.G_ema)
    trainer.train_step()
    beta = 0.5 ** (8 / 10)
    moved = 0.0
    for (name, p_ema), p, p_old in zip(
        trainer.G_ema.named_parameters(), trainer.G.parameters(), ema_before.parameters(), strict=True
    ):
        torch.testing.assert_close(p_ema, p.detach() * (1 - beta) + p_old * beta, msg=name)
        moved = max(moved, float((p_ema - p).abs().max()))
    assert moved > 0  # G_ema lags behind G
    torch.testing.assert_close(trainer.G_ema.mapping.w_avg, trainer.G.mapping.w_avg)


def test_config_b_regularizes_every_step_without_pl(shapes_zip: str, tmp_path: Path) -> None:
    trainer = Trainer(options(shapes_zip, tmp_path, config="B"))
    for _ in range(2):
        stats = trainer.train_step()
        assert "R1_penalty" in stats and "PL_penalty" not in stats


# ----------------------------------------------------------------------------------------------------------
# Checkpoints and resume.


def test_resume_continues_exactly(shapes_zip: str, tmp_path: Path) -> None:
    common = {"mirror": True, "snapshot_kimg": 0.016}
    straight = Trainer(options(shapes_zip, tmp_path / "a", kimg=0.048, **common))
    straight.run()
    Trainer(options(shapes_zip, tmp_path / "b", kimg=0.024, **common)).run()
    resumed = Trainer(options(shapes_zip, tmp_path / "c", kimg=0.048, resume=str(tmp_path / "b"), **common))
    assert resumed.cur_nimg == 24 and resumed.step == 3
    resumed.run()
    for name in ("G", "D", "G_ema"):
        assert all_close_state(getattr(straight, name), getattr(resumed, name)) == 0.0, name
    assert float(straight.pl_mean) == float(resumed.pl_mean)
    for key, value in straight.opt_D.state_dict()["state"].items():
        assert torch.equal(value["exp_avg_sq"], resumed.opt_D.state_dict()["state"][key]["exp_avg_sq"])
    assert straight.order.state() == resumed.order.state()
    log = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    ticks = [e for e in log if e["event"] == "tick"]
    assert ticks and all(t["sec_per_kimg"] > 0 and math.isfinite(t["G_loss"]) for t in ticks)
    assert (tmp_path / "a" / "fakes-000000k048.png").is_file() and (tmp_path / "a" / "reals.png").is_file()
    bundle: Any = load_network(tmp_path / "a" / "network-snapshot-000000k048.sg2")
    assert bundle.meta["kimg"] == 0.048
    assert all_close_state(bundle.G_ema, straight.G_ema) == 0.0


def test_crash_mid_checkpoint_keeps_previous(
    shapes_zip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = Trainer(options(shapes_zip, tmp_path / "run"))
    trainer.train_step()
    first = trainer.save_checkpoint(tmp_path / "run")
    trainer.train_step()

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint(tmp_path / "run")
    monkeypatch.undo()
    assert ckpt.find_checkpoint(tmp_path / "run") == first
    assert not list((tmp_path / "run").glob(".*.tmp"))  # no temporary left behind
    resumed = Trainer(options(shapes_zip, tmp_path / "other", resume=str(tmp_path / "run")))
    assert resumed.cur_nimg == 8


def test_run_failing_before_its_first_snapshot_leaves_nothing(
    shapes_zip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(self: Trainer) -> None:
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(Trainer, "train_step", out_of_memory)
    with pytest.raises(RuntimeError, match="out of memory"):
        Trainer(options(shapes_zip, tmp_path / "new")).run()
    assert not (tmp_path / "new").exists()
    mine = tmp_path / "mine"  # a folder that was there: only what the run added goes
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(RuntimeError, match="out of memory"):
        Trainer(options(shapes_zip, mine)).run()
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_resume_after_a_kill_logs_each_tick_once_and_cleans_stale_temporaries(
    shapes_zip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    common = {"kimg": 0.040, "snapshot_kimg": 0.016, "tick_kimg": 0.008}
    step = Trainer.train_step

    def killed_at_step_3(self: Trainer) -> dict[str, float]:
        if self.step == 3:  # after the snapshot at 16 images and the tick at 24
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Trainer, "train_step", killed_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        Trainer(options(shapes_zip, run, **common)).run()
    monkeypatch.undo()
    assert ckpt.find_checkpoint(run).nimg == 16  # a run with a snapshot is kept
    with open(run / "log.jsonl", "a") as handle:
        handle.write('{"event": "tick", "kimg": 0.03')  # a line cut short by the kill
    stale = run / ".network-snapshot-000000k032.sg2.x1y2z3.tmp"
    stale.write_bytes(b"half a network")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = run / ".checkpoint.json.a1b2c3.tmp"  # newer than this process: possibly someone's, kept
    fresh.write_bytes(b"")
    os.utime(fresh, (time.time() + 60, time.time() + 60))
    Trainer(options(shapes_zip, run, resume=str(run), **common)).run()
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [e["kimg"] for e in events if e["event"] == "tick"] == [0.008, 0.016, 0.024, 0.032, 0.040]
    assert [e["kimg"] for e in events if e["event"] == "snapshot"] == [0.016, 0.032, 0.040]
    assert not stale.exists() and fresh.exists()


def test_resume_from_network_file_loads_weights_only(shapes_zip: str, tmp_path: Path) -> None:
    trainer = Trainer(options(shapes_zip, tmp_path / "run"))
    trainer.train_step()
    network = trainer.save_checkpoint(tmp_path / "run").network
    other = Trainer(options(shapes_zip, tmp_path / "x", resume=str(network)))
    assert other.cur_nimg == 0 and all_close_state(other.G, trainer.G) == 0.0
    with pytest.raises(Sg2Error, match="other options"):
        Trainer(options(shapes_zip, tmp_path / "y", resume=str(network), channel_max=8))


def test_spectral_norm_runs_saves_plain_networks_and_resumes(shapes_zip: str, tmp_path: Path) -> None:
    trainer = Trainer(options(shapes_zip, tmp_path / "run", sn_g=True, sn_d=True))
    assert any("parametrizations" in k for k in trainer.D.state_dict())
    trainer.train_step()
    checkpoint = trainer.save_checkpoint(tmp_path / "run")
    bundle: Any = load_network(checkpoint.network)
    assert not any("parametrizations" in k for k in bundle.D.state_dict())
    z = torch.randn(2, trainer.G.z_dim)
    with torch.no_grad():
        torch.testing.assert_close(bundle.G_ema(z, noise_mode="const"), trainer.G_ema(z, noise_mode="const"))
    resumed = Trainer(options(shapes_zip, tmp_path / "r", sn_g=True, sn_d=True, resume=str(tmp_path / "run")))
    assert all_close_state(resumed.D, trainer.D) == 0.0


# ----------------------------------------------------------------------------------------------------------
# Snapshot metrics.


def mean_colour(images: torch.Tensor) -> torch.Tensor:
    """A fake detector: per-channel mean and std of the uint8 images [N, 3, H, W] -> [N, 6]."""
    x = images.float()
    return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)


def test_snapshot_metrics_with_fake_detectors(shapes_zip: str, tmp_path: Path) -> None:
    def pixel_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a - b).square().mean(dim=(1, 2, 3))

    opts = options(
        shapes_zip,
        tmp_path,
        kimg=0.008,
        metrics=("fid50k", "kid50k_full", "ppl_wend"),
        metric_detector=mean_colour,
        metric_lpips=pixel_distance,
        metric_num=16,
    )
    Trainer(opts).run()
    events = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    metrics = {e["metric"]: e for e in events if e["event"] == "metric"}
    assert set(metrics) == {"fid50k", "kid50k_full", "ppl_wend"}
    assert metrics["fid50k"]["values"]["fid"] > 0
    assert math.isfinite(metrics["kid50k_full"]["values"]["kid"])
    assert metrics["ppl_wend"]["values"]["ppl"] > 0
    assert metrics["fid50k"]["params"]["num_fake"] == 16
    assert json.loads((tmp_path / "options.json").read_text())["metric_detector"] == "mean_colour"


# ----------------------------------------------------------------------------------------------------------
# Bad input.


def test_bad_input_gives_clear_errors(shapes_zip: str, tmp_path: Path) -> None:
    with pytest.raises(Sg2Error, match="does not exist"):
        Trainer(options(str(tmp_path / "missing.zip"), tmp_path))
    with pytest.raises(Sg2Error, match="not a power of two"):
        options(shapes_zip, tmp_path, resolution=24)
    with pytest.raises(Sg2Error, match="not divisible by --gpus"):
        options(shapes_zip, tmp_path, batch=6, gpus=4)
    with pytest.raises(Sg2Error, match="differs from the dataset"):
        Trainer(options(shapes_zip, tmp_path, resolution=32))
    with pytest.raises(Sg2Error, match="unknown snapshot metric"):
        Trainer(options(shapes_zip, tmp_path, metrics=("fid1k",)))
    with pytest.raises(Sg2Error, match="--gpus 2 but 1 process"):
        Trainer(options(shapes_zip, tmp_path, gpus=2))
    with pytest.raises(Sg2Error, match="minibatch-std groups"):
        Trainer(options(shapes_zip, tmp_path, batch=12, batch_gpu=6))
    with pytest.raises(Sg2Error, match="no checkpoint.json"):
        Trainer(options(shapes_zip, tmp_path / "r", resume=str(tmp_path)))


def test_cli_reports_bad_input_on_one_line(shapes_zip: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["train", "--data", shapes_zip, "--out", str(tmp_path), "--resolution", "20"]
    )
    assert result.exit_code != 0
    assert "not a power of two" in result.output and len(result.output.strip().splitlines()) == 1


def test_cli_trains_a_tiny_network(shapes_zip: str, tmp_path: Path) -> None:
    args = [
        "train",
        "--data",
        shapes_zip,
        "--out",
        str(tmp_path),
        "--config",
        "E",
        "--kimg",
        "0.008",
        "--batch",
        "8",
        "--channel-base",
        "128",
        "--channel-max",
        "16",
        "--map-layers",
        "2",
        "--w-dim",
        "16",
        "--no-progress",
        "--device",
        "cpu",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    bundle: Any = load_network(tmp_path / "network-snapshot-000000k008.sg2")
    assert bundle.G.config.preset == "E" and bundle.G.config.synthesis.channel_max == 16
    assert json.loads((tmp_path / "options.json").read_text())["config"] == "E"


# ----------------------------------------------------------------------------------------------------------
# Longer run.


@pytest.mark.slow
def test_a_few_hundred_steps(shapes_zip: str, tmp_path: Path) -> None:
    trainer = Trainer(options(shapes_zip, tmp_path, g_reg_interval=None, d_reg_interval=None))
    steps = [trainer.train_step() for _ in range(300)]
    assert all(math.isfinite(v) for s in steps for v in s.values())
    real = np.mean([s["D_real_logit"] for s in steps[-50:]])
    fake = np.mean([s["D_fake_logit"] for s in steps[-50:]])
    assert real > fake
    assert sum("R1_penalty" in s for s in steps) == len(range(0, 300, 16))
    assert sum("PL_penalty" in s for s in steps) == len(range(0, 300, 4))
    # The generator moved towards the data: mean colour of G_ema's images nearer the reals' than at init.
    reals = torch.from_numpy(trainer.data.read(np.arange(64))).float()
    fakes = torch.from_numpy(trainer.sample_grid()).float()
    assert float((reals.mean(dim=(0, 2, 3)) - fakes.mean(dim=(0, 2, 3))).abs().max()) < 60
