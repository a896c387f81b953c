"""The StyleGAN2 training loop (paper Sections 2–4, Appendix B; docs/facts.md, "Training").

One iteration shows one global minibatch of reals and runs the phases that are due:

- ``G_main``: non-saturating loss of fresh fakes (style mixing 0.9), every iteration;
- ``G_reg``: path length regularization on half-size batches every ``g_reg_interval`` iterations, loss
  multiplied by the interval (lazy regularization, Section 3.1);
- ``D_main``: logistic loss on fakes and reals, every iteration;
- ``D_reg``: R1 on reals every ``d_reg_interval`` iterations, multiplied by the interval.

Without lazy regularization (config B) the regularizers run inside the main phases (``G_both``, ``D_both``)
with gain 1. Adam (lr 0.002, betas (0, 0.99), eps 1e-8) uses ``lr * c`` and ``betas ** c`` with
``c = k / (k + 1)`` when lazy. After each iteration ``G_ema = G.lerp(G_ema, 0.5 ** (batch / 10 kimg))``
(buffers copied) and ``w_avg`` moves towards the mean w of ``D_main``'s fakes (beta 0.995).

The global minibatch is cut into ``batch / batch_gpu`` chunks; process ``r`` of ``P`` computes chunks
``r * rounds .. (r + 1) * rounds - 1`` one round at a time, accumulating ``mean loss / rounds`` gradients,
and each phase ends with one gradient all-reduce (:mod:`sg2model.training.distributed`). Every random draw
comes from streams keyed by (seed, iteration, phase, chunk) (:mod:`sg2model.training.latents`), so the
result does not depend on the number of processes and resuming needs only the counters.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sg2model.core import distributed as core_dist
from sg2model.core.device import resolve_device
from sg2model.core.errors import Sg2Error
from sg2model.core.files import remove_stale_temporaries, write_json
from sg2model.core.images import save_image_grid, to_uint8
from sg2model.networks import Discriminator, Generator
from sg2model.training import checkpoint as ckpt
from sg2model.training import distributed as dist_utils
from sg2model.training.data import DataOrder, TrainingData
from sg2model.training.latents import STREAM_IDS, draw_latents, run_generator, stream
from sg2model.training.loss import (
    discriminator_logistic,
    generator_logistic,
    path_length_penalty,
    path_lengths,
    r1_penalty,
)
from sg2model.training.options import ResolvedSettings, TrainingOptions
from sg2model.training.report import RunLog, rewind_log
from sg2model.training.snapshot_metrics import MetricContext, check_metric_names, compute_metric
from sg2model.training.spectral import apply_spectral_norm, has_spectral_norm, plain_copy

# Statistics averaged over each tick (sum and count per name).
STAT_NAMES = ("G_loss", "D_loss", "D_real_logit", "D_fake_logit", "R1_penalty", "PL_penalty", "PL_length")


@dataclass(frozen=True)
class Phase:
    """One optimizer step of G or D: which terms, how often, with which gain."""

    name: str  # 'G_main' | 'G_reg' | 'G_both' | 'D_main' | 'D_reg' | 'D_both'
    net: str  # 'G' | 'D'
    main: bool  # the adversarial loss
    reg: bool  # path length (G) or R1 (D)
    interval: int
    gain: float


def build_phases(settings: ResolvedSettings) -> list[Phase]:
    """The phases of Section 3.1: separate lazy regularization phases, or combined ones (config B)."""
    g_reg = settings.pl_weight > 0
    d_reg = settings.r1_gamma > 0
    if not settings.lazy:
        return [Phase("G_both", "G", True, g_reg, 1, 1.0), Phase("D_both", "D", True, d_reg, 1, 1.0)]
    phases = [Phase("G_main", "G", True, False, 1, 1.0)]
    if g_reg:
        phases.append(
            Phase("G_reg", "G", False, True, settings.g_reg_interval, float(settings.g_reg_interval))
        )
    phases.append(Phase("D_main", "D", True, False, 1, 1.0))
    if d_reg:
        phases.append(
            Phase("D_reg", "D", False, True, settings.d_reg_interval, float(settings.d_reg_interval))
        )
    return phases


def lazy_adam(
    params: Any, lr: float, betas: tuple[float, float], eps: float, interval: int
) -> torch.optim.Adam:
    """Adam with ``lr * c`` and ``betas ** c``, ``c = k / (k + 1)`` (Section 3.1; c = 1 without laziness)."""
    c = interval / (interval + 1) if interval > 1 else 1.0
    return torch.optim.Adam(params, lr=lr * c, betas=(betas[0] ** c, betas[1] ** c), eps=eps)


def build_networks(
    options: TrainingOptions, settings: ResolvedSettings, resolution: int, channels: int
) -> tuple[Generator, Discriminator]:
    """G and D of the config's preset, with the small-network options and spectral norm applied."""
    preset = options.training_config.network_preset
    shared: dict[str, Any] = {"img_channels": channels}
    if options.channel_base is not None:
        shared["channel_base"] = options.channel_base
    if options.channel_max is not None:
        shared["channel_max"] = options.channel_max
    g_options: dict[str, Any] = {**shared, "demodulate": settings.demodulate}
    if options.map_layers is not None:
        g_options["mapping_kwargs"] = {"num_layers": options.map_layers}
    if options.w_dim is not None:
        g_options.update(z_dim=options.w_dim, w_dim=options.w_dim)
    G = Generator.from_config(preset, resolution, **g_options)
    D = Discriminator.from_config(preset, resolution, **shared)
    if options.sn_g:
        apply_spectral_norm(G)
    if options.sn_d:
        apply_spectral_norm(D)
    return G.train(), D.train()


def _same_spec(a: Any, b: Any) -> bool:
    return dataclasses.replace(a, preset=None) == dataclasses.replace(b, preset=None)


class Trainer:
    """Networks, optimizers, counters and data order of one process of a run."""

    def __init__(self, options: TrainingOptions, world: core_dist.World | None = None) -> None:
        check_metric_names(options.metrics)
        self.options = options
        self.settings = ResolvedSettings.from_options(options)
        self.world = world or core_dist.World(0, 1, resolve_device(options.device))
        self.device = self.world.device
        if options.gpus is not None and options.gpus != self.world.size:
            raise Sg2Error(
                f"--gpus {options.gpus} but {self.world.size} process(es) joined; "
                "match torchrun's --nproc-per-node"
            )
        if options.batch % self.world.size:
            raise Sg2Error(f"--batch {options.batch} is not divisible by {self.world.size} processes")
        self.batch_gpu = options.batch_gpu or options.batch // self.world.size
        if (options.batch // self.world.size) % self.batch_gpu:
            raise Sg2Error(f"--batch-gpu {self.batch_gpu} does not divide the per-process batch")
        self.rounds = options.batch // (self.world.size * self.batch_gpu)
        self.pl_batch = max(self.batch_gpu // options.pl_batch_shrink, 1)
        group = min(4, self.batch_gpu)
        if self.batch_gpu % group or self.pl_batch % min(4, self.pl_batch):
            raise Sg2Error(
                f"images per process and round ({self.batch_gpu}) must split into minibatch-std groups of 4; "
                "use a --batch-gpu that is a multiple of 4 (or 1, 2)"
            )
        self.data = TrainingData(options.data, options.resolution, options.mirror)
        torch.manual_seed(options.seed)  # identical initial networks on every process
        self.G, self.D = build_networks(options, self.settings, self.data.resolution, self.data.channels)
        self.G.to(self.device)
        self.D.to(self.device)
        dist_utils.broadcast_module(self.G, self.world)
        dist_utils.broadcast_module(self.D, self.world)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.phases = build_phases(self.settings)
        betas = options.betas
        g_int = self.settings.g_reg_interval if self.settings.lazy else 1
        d_int = self.settings.d_reg_interval if self.settings.lazy else 1
        self.opt_G = lazy_adam(self.G.parameters(), options.lr, betas, options.eps, g_int)
        self.opt_D = lazy_adam(self.D.parameters(), options.lr, betas, options.eps, d_int)
        self.pl_mean = torch.zeros([], device=self.device)
        self.order = DataOrder(len(self.data), options.seed)
        self.cur_nimg = 0
        self.step = 0
        self.ema_beta = 0.5 ** (options.batch / (options.ema_kimg * 1000))
        self._stats = torch.zeros([len(STAT_NAMES), 2], dtype=torch.float64, device=self.device)
        self._snapshots = 0  # checkpoints this run has written (a failure before the first leaves nothing)
        # Per-process seeds for anything outside the keyed streams (the loop itself draws nothing there).
        process_seed = options.seed * self.world.size + self.world.rank
        torch.manual_seed(process_seed)
        np.random.seed(process_seed % (1 << 32))
        random.seed(process_seed)
        if options.resume:
            self._resume(Path(options.resume))

    # ------------------------------------------------------------------------------------------------------
    # One iteration.

    def _chunks(self) -> range:
        first = self.world.rank * self.rounds
        return range(first, first + self.rounds)

    def _record(self, name: str, values: torch.Tensor) -> None:
        row = STAT_NAMES.index(name)
        self._stats[row, 0] += values.detach().double().sum()
        self._stats[row, 1] += values.numel()

    def train_step(self) -> dict[str, float]:
        """Run the due phases on the next global minibatch; returns this process's mean of each term
        computed (e.g. ``R1_penalty`` only at R1 iterations)."""
        items = self.order.take(self.options.batch)  # [batch] global item indices, same on every process
        reals = {}
        for chunk in self._chunks():
            images = self.data.read(items[chunk * self.batch_gpu : (chunk + 1) * self.batch_gpu])
            reals[chunk] = torch.from_numpy(images).to(self.device).to(torch.float32) / 127.5 - 1
        before = self._stats.clone()
        for phase in self.phases:
            if self.step % phase.interval == 0:
                self._run_phase(phase, reals)
        self._update_ema()
        self.cur_nimg += self.options.batch
        self.step += 1
        delta = self._stats - before
        return {
            name: float(delta[i, 0] / delta[i, 1]) for i, name in enumerate(STAT_NAMES) if delta[i, 1] > 0
        }

    def _run_phase(self, phase: Phase, reals: dict[int, torch.Tensor]) -> None:
        net, opt = (self.G, self.opt_G) if phase.net == "G" else (self.D, self.opt_D)
        self.G.requires_grad_(phase.net == "G")
        self.D.requires_grad_(phase.net == "D")
        opt.zero_grad(set_to_none=True)
        scale = phase.gain / self.rounds
        if phase.net == "G":
            if phase.main:
                self._generator_main(phase, scale)
            if phase.reg:
                self._path_length(phase, scale)
        else:
            self._discriminator(phase, reals, scale)
        dist_utils.average_gradients(net.parameters(), self.world)
        opt.step()
        net.requires_grad_(False)

    def _draw(self, phase: Phase, chunk: int) -> Any:
        generator = stream(
            self.options.seed, (self.step, STREAM_IDS[_stream_phase(phase)], chunk), self.device
        )
        return draw_latents(self.G, self.batch_gpu, generator, self.settings.style_mixing_prob)

    def _generator_main(self, phase: Phase, scale: float) -> None:
        """Non-saturating logistic loss of G (Goodfellow et al.; docs/facts.md, "Training")."""
        for chunk in self._chunks():
            img, _ = run_generator(self.G, self._draw(phase, chunk))
            loss = generator_logistic(self.D(img))  # [n]
            self._record("G_loss", loss)
            (loss.mean() * scale).backward()

    def _path_length(self, phase: Phase, scale: float) -> None:
        """Path length regularization (Section 3.2): pl_mean moves by the global batch's mean length."""
        terms = []
        for chunk in self._chunks():
            draw = self._draw(dataclasses.replace(phase, name="G_reg"), chunk).head(self.pl_batch)
            img, ws = run_generator(self.G, draw)
            noise = stream(self.options.seed, (self.step, STREAM_IDS["pl_noise"], chunk), self.device)
            terms.append((img, path_lengths(img, ws, noise)))
        total = torch.stack([lengths.detach().sum() for _, lengths in terms]).sum()
        count = self.world.size * self.rounds * self.pl_batch
        mean_length = dist_utils.all_sum(total, self.world) / count
        self.pl_mean.copy_(self.pl_mean.lerp(mean_length, self.options.pl_decay))
        loss = torch.zeros([], device=self.device)
        for img, lengths in terms:
            penalty = path_length_penalty(lengths, self.pl_mean, self.settings.pl_weight)  # [n]
            self._record("PL_penalty", penalty)
            self._record("PL_length", lengths)
            # img * 0 keeps every G parameter in the graph, as the official loss does.
            loss = loss + (img[:, 0, 0, 0] * 0 + penalty).mean()
        (loss * scale).backward()

    def _discriminator(self, phase: Phase, reals: dict[int, torch.Tensor], scale: float) -> None:
        """Logistic loss of D on fakes and reals and/or R1 on reals (gamma / 2 * ||grad||^2)."""
        w_sum = torch.zeros([self.G.w_dim], device=self.device)
        for chunk in self._chunks():
            total = torch.zeros([self.batch_gpu], device=self.device)
            real = reals[chunk].detach().requires_grad_(phase.reg)
            real_logits = self.D(real)  # [n, 1]
            if phase.main:
                with torch.no_grad():
                    fake, ws = run_generator(self.G, self._draw(phase, chunk))
                w_sum += ws[:, 0].sum(dim=0)  # ws[:, 0] always comes from z (mixing cutoff >= 1)
                fake_logits = self.D(fake)
                total = total + discriminator_logistic(real_logits, fake_logits)
                self._record("D_loss", total)
                self._record("D_real_logit", real_logits)
                self._record("D_fake_logit", fake_logits)
            if phase.reg:
                penalty = r1_penalty(real, real_logits)  # [n]
                self._record("R1_penalty", penalty)
                total = total + real_logits.flatten() * 0 + penalty * (self.settings.r1_gamma / 2)
            (total.mean() * scale).backward()
        if phase.main:
            self._update_w_avg(dist_utils.all_sum(w_sum, self.world) / self.options.batch)

    def _update_w_avg(self, mean_w: torch.Tensor) -> None:
        """``w_avg = mean_w.lerp(w_avg, w_avg_beta)`` (docs/facts.md, "Mapping network": beta 0.995), once
        per iteration."""
        mapping = self.G.mapping
        if mapping.w_avg_beta is not None and hasattr(mapping, "w_avg"):
            mapping.w_avg.copy_(mean_w.lerp(mapping.w_avg, mapping.w_avg_beta))

    @torch.no_grad()
    def _update_ema(self) -> None:
        """``G_ema = G.lerp(G_ema, beta)``, ``beta = 0.5 ** (batch / (ema_kimg * 1000))``; buffers copied."""
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, self.ema_beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    # ------------------------------------------------------------------------------------------------------
    # Checkpoints.

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "cur_nimg": self.cur_nimg,
            "step": self.step,
            "pl_mean": self.pl_mean.detach().cpu(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "order": self.order.state(),
            "rng": core_dist.gather_objects(ckpt.capture_rng(), self.world),
            "world_size": self.world.size,
            "options": self.options.to_dict(),
            "raw_state": None,
        }
        if has_spectral_norm(self.G) or has_spectral_norm(self.D):
            state["raw_state"] = {name: getattr(self, name).state_dict() for name in ("G", "D", "G_ema")}
        return state

    def save_checkpoint(self, run_dir: Path) -> ckpt.Checkpoint:
        """Write the network snapshot and the training state (all processes call; rank 0 writes)."""
        state = self._state()  # collective: gathers every process's RNG state
        tag = ckpt.snapshot_tag(self.cur_nimg)
        network = run_dir / f"network-snapshot-{tag}.sg2"
        state_path = run_dir / f"training-state-{tag}.pt"
        if self.world.is_main:
            from sg2model import save_network

            save_network(
                network,
                G=plain_copy(self.G),
                D=plain_copy(self.D),
                G_ema=plain_copy(self.G_ema),
                kimg=self.cur_nimg / 1000,
                step=self.step,
                training_options=self.options.to_dict(),
            )
            ckpt.write_state(state_path, state)
            ckpt.commit_checkpoint(run_dir, network, state_path, self.cur_nimg)
        core_dist.barrier(self.world)
        return ckpt.Checkpoint(network, state_path, self.cur_nimg)

    def _resume(self, path: Path) -> None:
        """From a run directory: continue exactly; from a network file: start from its weights."""
        from sg2model import load_network

        if path.is_dir():
            checkpoint = ckpt.find_checkpoint(path)
            state = ckpt.read_state(checkpoint.state)
            self._load_weights(load_network(checkpoint.network), checkpoint.network, state["raw_state"])
            self._load_state(state)
        elif path.is_file():
            self._load_weights(load_network(path), path, None)
        else:
            raise Sg2Error(f"--resume {path} does not exist; give a run directory or a network file")

    def _load_weights(self, bundle: Any, origin: Path, raw_state: dict[str, Any] | None) -> None:
        """Check that ``bundle`` matches this run's networks and load its weights (or the raw state dicts
        of a spectral-norm run, which the ``.sg2`` file cannot hold)."""
        for name in ("G", "D", "G_ema"):
            net = getattr(self, name)
            source = getattr(bundle, name) or (bundle.G if name == "G_ema" else None)
            if source is None:
                raise Sg2Error(f"{origin} holds no {name}; resume needs G and D")
            if not _same_spec(source.config, net.config):
                raise Sg2Error(
                    f"{origin}'s {name} was built with other options than this run's; resume with the "
                    "same --config, resolution and network options"
                )
            if raw_state is not None:
                net.load_state_dict(raw_state[name])
            elif has_spectral_norm(net):
                raise Sg2Error(
                    "a spectral-norm run resumes from its run directory only, not from a network file"
                )
            else:
                net.load_state_dict(source.state_dict())

    def _load_state(self, state: dict[str, Any]) -> None:
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.pl_mean.copy_(state["pl_mean"])
        self.order.load_state(state["order"])
        self.cur_nimg, self.step = int(state["cur_nimg"]), int(state["step"])
        rng_states = state["rng"]
        if len(rng_states) == self.world.size:
            ckpt.restore_rng(rng_states[self.world.rank])

    # ------------------------------------------------------------------------------------------------------
    # The run.

    def tick_stats(self) -> dict[str, float]:
        """Means of :data:`STAT_NAMES` over all processes since the last call."""
        totals = dist_utils.all_sum(self._stats, self.world).clone()
        self._stats.zero_()
        return {
            name: float(totals[i, 0] / totals[i, 1]) for i, name in enumerate(STAT_NAMES) if totals[i, 1] > 0
        }

    @torch.no_grad()
    def sample_grid(self) -> np.ndarray:
        """uint8 images of ``G_ema`` on the run's fixed grid latents, constant noise."""
        cols, rows = self.options.grid
        generator = stream(self.options.seed, (0, STREAM_IDS["grid"], 0), self.device)
        z = torch.randn([cols * rows, self.G.z_dim], generator=generator, device=self.device)
        images = torch.cat([self.G_ema(part, None, noise_mode="const") for part in z.split(self.batch_gpu)])
        return to_uint8(images).cpu().numpy()

    def run(self) -> Path:
        """Train to ``kimg``: ticks, checkpoints, grids and metrics; returns the run directory.

        Start-up (rank 0) deletes temporaries that a killed process left in the run directory and drops the
        log's events after the resumed checkpoint. A run that fails before its first snapshot leaves nothing:
        the directory is deleted if this run created it, else the files this run added are.
        """
        run_dir = Path(self.options.out)
        existing = set(os.listdir(run_dir)) if run_dir.is_dir() else None
        try:
            self._train(run_dir)
        except BaseException:
            if self.world.is_main and not self._snapshots:
                _remove_added(run_dir, existing)
            raise
        return run_dir

    def _start(self, run_dir: Path) -> RunLog:
        """Rank 0's start-up: the run directory, options, stale temporaries, log, reals and initial grid."""
        options = self.options
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir)
        rewind_log(run_dir, self.cur_nimg / 1000)
        write_json(run_dir / "options.json", options.to_dict())
        log = RunLog(run_dir, options.progress, options.kimg, self.cur_nimg / 1000)
        cols = options.grid[0]
        reals = self.data.read(np.arange(min(cols * options.grid[1], self.data.num_images)))
        save_image_grid(reals, run_dir / "reals.png", cols)
        if self.cur_nimg == 0:
            save_image_grid(self.sample_grid(), run_dir / "fakes-init.png", cols)
        return log

    def _train(self, run_dir: Path) -> None:
        options = self.options
        total_nimg = int(round(options.kimg * 1000))
        tick_nimg = max(int(options.tick_kimg * 1000), 1)
        snapshot_nimg = max(int(options.snapshot_kimg * 1000), 1)
        log = self._start(run_dir) if self.world.is_main else None
        next_tick = (self.cur_nimg // tick_nimg + 1) * tick_nimg
        next_snapshot = (self.cur_nimg // snapshot_nimg + 1) * snapshot_nimg
        tick_start, tick_nimg0 = time.perf_counter(), self.cur_nimg
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        try:
            while self.cur_nimg < total_nimg:
                self.train_step()
                done = self.cur_nimg >= total_nimg
                if self.cur_nimg >= next_tick or done:
                    elapsed = time.perf_counter() - tick_start
                    stats = self.tick_stats()
                    if log is not None:
                        shown = (self.cur_nimg - tick_nimg0) / 1000
                        log.write(
                            {
                                "event": "tick",
                                "kimg": self.cur_nimg / 1000,
                                "step": self.step,
                                "sec_per_tick": elapsed,
                                "sec_per_kimg": elapsed / max(shown, 1e-9),
                                "pl_mean": float(self.pl_mean),
                                "peak_memory_mb": _peak_memory_mb(self.device),
                                **stats,
                            }
                        )
                    next_tick = (self.cur_nimg // tick_nimg + 1) * tick_nimg
                    tick_start, tick_nimg0 = time.perf_counter(), self.cur_nimg
                if self.cur_nimg >= next_snapshot or done:
                    self._snapshot(run_dir, log)
                    next_snapshot = (self.cur_nimg // snapshot_nimg + 1) * snapshot_nimg
                    tick_start = time.perf_counter()
        finally:
            if log is not None:
                log.close()

    def _snapshot(self, run_dir: Path, log: RunLog | None) -> None:
        """Checkpoint, sample grid (rank 0) and snapshot metrics: every process computes its share of each
        metric (the evaluation layer shards them, as stylegan2-ada-pytorch does); rank 0 logs them."""
        checkpoint = self.save_checkpoint(run_dir)  # written and visible to every process
        self._snapshots += 1
        if log is not None:
            tag = ckpt.snapshot_tag(self.cur_nimg)
            save_image_grid(self.sample_grid(), run_dir / f"fakes-{tag}.png", self.options.grid[0])
            log.write({"event": "snapshot", "kimg": self.cur_nimg / 1000, "network": checkpoint.network.name})
        context = MetricContext(
            network=checkpoint.network,
            data=self.options.data,
            device=self.device,
            detector=self.options.metric_detector,
            lpips=self.options.metric_lpips,
            num=self.options.metric_num,
        )
        for name in self.options.metrics:
            record = compute_metric(name, context)
            if log is not None:
                log.write(
                    {
                        "event": "metric",
                        "kimg": self.cur_nimg / 1000,
                        "metric": name,
                        "values": record.values,
                        "params": record.params,
                    }
                )
        core_dist.barrier(self.world)


def _remove_added(run_dir: Path, existing: set[str] | None) -> None:
    """Delete what a failed run added to ``run_dir``: all of it if the run created it (``existing`` None),
    else the entries not in ``existing``."""
    if existing is None:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    added = set(os.listdir(run_dir)) - existing
    for name in sorted(added):
        path = run_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _stream_phase(phase: Phase) -> str:
    """Stream name of a phase's latents: combined phases draw like the main ones."""
    return {"G_both": "G_main", "D_both": "D_main"}.get(phase.name, phase.name)


def _peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: CUDA allocations on GPUs, the process's maximum resident set on CPUs."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _train_process(options: TrainingOptions) -> None:
    world = core_dist.world_from_env(options.device)
    try:
        Trainer(options, world).run()
    finally:
        core_dist.shutdown(world)


def train(options: TrainingOptions) -> Path:
    """Train as ``options`` say (``sg2eval train``); spawns ``options.gpus`` local processes when more than
    one is asked for outside torchrun. Returns the run directory."""
    in_torchrun = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if options.gpus is not None and options.gpus > 1 and not in_torchrun:
        core_dist.spawn_local(options.gpus, _train_process, (options,))
    else:
        _train_process(options)
    return Path(options.out)
