"""Training configurations (paper Table 1 rows B–F as switches) and the options of one training run.

A :class:`TrainingConfig` holds the training switches of one Table 1 row of :mod:`sg2model.paper_rows`; the
row gives its name, the paper's words and the network it trains (config X trains the network preset of
Table 1 row X). What each config changes relative to the previous row (paper Sections 2–4, Appendix B;
docs/facts.md, "Training"):

- ``B``: weight demodulation instead of instance normalization, on the revised StyleGAN's 'orig' G and D
  (preset ``B``, channel base 16384); R1 every minibatch; no path length regularization. Progressive growing
  is not implemented yet, so B–D train their final-level networks at full resolution from the start.
- ``C``: + lazy regularization (R1 every 16 minibatches, multiplied by 16; Adam adjusted by c = k / (k + 1)).
- ``D``: + path length regularization (every 4 minibatches as the official code; the paper's Appendix B says
  8), weight 2.
- ``E``: + output-skip G and residual D, no progressive growing; R1 gamma 100 (the official config E).
- ``F``: + large networks (channel base 32768); gamma 10.

:class:`TrainingOptions` is everything ``sg2eval train`` takes; the defaults are the paper's (minibatch 32,
Adam lr 0.002, betas (0, 0.99), eps 1e-8, style mixing 0.9, G EMA half-life 10 kimg).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sg2model import paper_rows
from sg2model.core.checks import check_fields
from sg2model.core.errors import Sg2Error
from sg2model.paper_rows import PaperRow


@dataclass(frozen=True)
class TrainingConfig:
    """The training switches of one Table 1 row; the row (:mod:`sg2model.paper_rows`) names the config and
    the network preset it trains."""

    row: PaperRow  # the Table 1 row this reproduces
    changes: str  # what it switches on/off relative to the previous row
    demodulate: bool = True  # weight demodulation (Eq. 3)
    lazy_regularization: bool = True  # regularize every k minibatches (Section 3.1)
    g_reg_interval: int = 4  # official code; the paper's Appendix B says 8
    d_reg_interval: int = 16
    pl_weight: float = 2.0  # path length regularization weight (0 = off)
    r1_gamma: float = 10.0
    style_mixing_prob: float = 0.9

    @property
    def name(self) -> str:
        """The config's name: its row's key (``B`` ... ``F``)."""
        return self.row.key

    @property
    def paper_row(self) -> str:
        """Where the row is in the paper, e.g. ``Table 1, config B: + Weight demodulation``."""
        return self.row.citation

    @property
    def network_preset(self) -> str:
        """The :mod:`sg2model.configs` preset of the row's network: architectures and channel base."""
        return self.row.network.name


CONFIGS: dict[str, TrainingConfig] = {}


def register_config(config: TrainingConfig) -> None:
    """Add a training configuration by name (config A with progressive growing will register here)."""
    CONFIGS[config.name] = config


def get_config(name: str) -> TrainingConfig:
    """The training configuration called ``name``; unknown names raise listing the known ones."""
    if name not in CONFIGS:
        raise Sg2Error(f"unknown training config {name!r}; choose one of {', '.join(sorted(CONFIGS))}")
    return CONFIGS[name]


def _table1(key: str) -> PaperRow:
    return paper_rows.get_row("table1", key)


register_config(
    TrainingConfig(
        _table1("B"),
        "demodulation instead of instance normalization; 'orig' G and D; R1 every minibatch",
        lazy_regularization=False,
        pl_weight=0.0,
    )
)
register_config(
    TrainingConfig(
        _table1("C"),
        "R1 every 16 minibatches, loss x16, Adam lr*c and betas**c with c = k/(k+1)",
        pl_weight=0.0,
    )
)
register_config(
    TrainingConfig(_table1("D"), "path length regularization every 4 minibatches, weight 2, batch shrink 2")
)
register_config(
    TrainingConfig(
        _table1("E"),
        "output-skip G, residual D, no progressive growing; R1 gamma 100 (official config E)",
        r1_gamma=100.0,
    )
)
register_config(
    TrainingConfig(_table1("F"), "channel base 32768 (G 30M, D 29M parameters at 1024x1024); R1 gamma 10")
)


@dataclass(frozen=True)
class TrainingOptions:
    """Everything one training run needs (``sg2eval train`` flags; docs/training.md).

    ``None`` for a switch means "what the config says". ``channel_base``, ``channel_max``, ``map_layers`` and
    ``w_dim`` depart from the preset's networks (small networks for tests and the built-in default model).
    """

    data: str  # image folder, zip or .npy/.npz (sg2eval.sources)
    out: str  # run directory
    config: str = "F"
    resolution: int | None = None  # None = the dataset's; must equal it otherwise
    kimg: float = 25000.0  # training length in thousands of real images shown to D
    batch: int = 32  # global minibatch
    batch_gpu: int | None = None  # images per process and round; None = batch / gpus
    gpus: int | None = None  # processes; None = torchrun's WORLD_SIZE or 1
    gamma: float | None = None  # R1 gamma; None = the config's
    mirror: bool = False  # x-flip augmentation (dataset doubled with mirrored copies)
    resume: str | None = None  # run directory (exact continuation) or network file (weights only)
    metrics: tuple[str, ...] = ()  # snapshot metrics by name (sg2model.training.snapshot_metrics)
    metric_detector: Any = None  # detector name / callable for feature metrics; None = the metric's own
    metric_lpips: Any = "auto"  # LPIPS name or callable for PPL metrics
    metric_num: int | None = None  # override the number of generated images of every metric
    seed: int = 0
    tick_kimg: float = 4.0  # log every tick
    snapshot_kimg: float = 200.0  # checkpoint, sample grid and metrics every this many kimg
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    ema_kimg: float = 10.0  # G_ema beta = 0.5 ** (batch / (ema_kimg * 1000))
    pl_weight: float | None = None
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing_prob: float | None = None
    g_reg_interval: int | None = None
    d_reg_interval: int | None = None
    sn_g: bool = False  # spectral normalization in G (Table 4)
    sn_d: bool = False  # spectral normalization in D (Table 4)
    channel_base: int | None = None
    channel_max: int | None = None
    map_layers: int | None = None
    w_dim: int | None = None  # also z_dim
    grid: tuple[int, int] = (8, 4)  # sample grid columns x rows
    device: str = "auto"  # 'auto' = CUDA when available, else CPU
    progress: bool = True  # live display on rank 0
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes recorded in the run's options

    def __post_init__(self) -> None:
        get_config(self.config)
        res = self.resolution
        if res is not None and (res < 8 or res & (res - 1)):
            raise Sg2Error(f"--resolution {res} is not a power of two >= 8; use e.g. 32, 256 or 1024")
        _positive("--batch", self.batch)
        check_fields(self, ("gamma", "pl_weight"))  # sg2model.core.checks, as the CLI
        _positive("--kimg", self.kimg)
        for name in ("batch_gpu", "gpus", "g_reg_interval", "d_reg_interval", "pl_batch_shrink"):
            value = getattr(self, name)
            if value is not None:
                _positive(f"--{name.replace('_', '-')}", value)
        gpus = self.gpus or 1
        if self.batch % gpus:
            raise Sg2Error(f"--batch {self.batch} is not divisible by --gpus {gpus}; use a multiple of it")
        per_gpu = self.batch // gpus
        if self.batch_gpu is not None and per_gpu % self.batch_gpu:
            raise Sg2Error(
                f"--batch-gpu {self.batch_gpu} does not divide the per-GPU batch {per_gpu} (--batch / --gpus)"
            )
        for name in ("tick_kimg", "snapshot_kimg", "lr", "ema_kimg"):
            _positive(f"--{name.replace('_', '-')}", getattr(self, name))
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "betas", tuple(self.betas))
        object.__setattr__(self, "grid", tuple(self.grid))

    @property
    def training_config(self) -> TrainingConfig:
        return get_config(self.config)

    def replace(self, **changes: Any) -> TrainingOptions:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able options (callables recorded by their names)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if callable(value):
                value = getattr(value, "__qualname__", type(value).__qualname__)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


def _positive(flag: str, value: float) -> None:
    if not value > 0:
        raise Sg2Error(f"{flag} must be positive, got {value}")


@dataclass(frozen=True)
class ResolvedSettings:
    """The switches of a run after config defaults and option overrides are combined."""

    r1_gamma: float
    pl_weight: float
    style_mixing_prob: float
    lazy: bool
    g_reg_interval: int  # 1 when not lazy
    d_reg_interval: int  # 1 when not lazy
    demodulate: bool

    @classmethod
    def from_options(cls, options: TrainingOptions) -> ResolvedSettings:
        config = options.training_config
        lazy = config.lazy_regularization
        return cls(
            r1_gamma=config.r1_gamma if options.gamma is None else options.gamma,
            pl_weight=config.pl_weight if options.pl_weight is None else options.pl_weight,
            style_mixing_prob=(
                config.style_mixing_prob if options.style_mixing_prob is None else options.style_mixing_prob
            ),
            lazy=lazy,
            g_reg_interval=(options.g_reg_interval or config.g_reg_interval) if lazy else 1,
            d_reg_interval=(options.d_reg_interval or config.d_reg_interval) if lazy else 1,
            demodulate=config.demodulate,
        )
