"""Fused CUDA ops vs the reference: kernel time and peak memory, and a whole G+D training step.

Shapes are those of a config-F 1024x1024 training step (channels ``min(32768 // res, 512)``, batch 4 by
default): the 4x4 FIR after each stride-2 transposed conv, the downsampling FIR, the upsampling FIR and the
bias + leaky ReLU of each layer. The whole step is a StyleGAN2 G+D forward/backward pass: non-saturating
logistic losses and R1 (gamma 10) on every step, no optimizer update (the paper reports ~30% faster training
and ~20% less memory with its custom ops). Ratios compare the two implementations measured in the same run.

    PYTHONPATH=. python benchmarks/bench_cuda_ops.py [--batch 4] [--resolution 1024] [--no-step | --step-only]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from sg2model import Discriminator, Generator


def make_networks(
    resolution: int,
    channel_base: int = 32768,
    channel_max: int = 512,
    architecture: str | None = None,
) -> tuple[Generator, Discriminator]:
    """Config-F G and D on the GPU (``architecture`` overrides both networks' skip/resnet choice)."""
    options: dict[str, object] = {"channel_base": channel_base, "channel_max": channel_max}
    if architecture is not None:
        options["architecture"] = architecture
    torch.manual_seed(0)
    G = Generator.from_config("F", resolution, **options).cuda().train()
    D = Discriminator.from_config("F", resolution, **options).cuda().train()
    return G, D


def gan_step(
    G: Generator, D: Discriminator, z: torch.Tensor, real: torch.Tensor, r1_gamma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One G phase and one D phase with R1 (docs/facts.md, "Training"); gradients land in ``.grad``.

    G: ``softplus(-D(G(z)))``; D: ``softplus(D(fake)) + softplus(-D(real)) + gamma/2 * |grad_x D(real)|^2``.
    """
    D.requires_grad_(False)
    fake = G(z, None)
    g_loss = F.softplus(-D(fake, None)).mean()
    g_loss.backward()
    D.requires_grad_(True)
    real = real.detach().requires_grad_(True)
    real_logits = D(real, None)
    (r1_grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    r1 = r1_grad.square().sum([1, 2, 3])
    fake_logits = D(fake.detach(), None)
    d_loss = (F.softplus(fake_logits) + F.softplus(-real_logits)).mean() + r1_gamma / 2 * r1.mean()
    d_loss.backward()
    return g_loss.detach(), d_loss.detach()


def cuda_time_ms(fn: Callable[[], object], warmup: int = 3, reps: int = 15) -> float:
    """Median wall time of ``fn`` in milliseconds, timed with CUDA events."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak memory allocated while ``fn`` runs, above what was allocated before, in MiB."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


@dataclass(frozen=True)
class OpCase:
    """One fused-op call: ``op(*args, impl=impl, **kwargs)``."""

    label: str
    op: Callable[..., torch.Tensor]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def forward(self, impl: str) -> torch.Tensor:
        return self.op(*self.args, impl=impl, **self.kwargs)

    def forward_backward(self, impl: str) -> None:
        y = self.forward(impl)
        y.backward(torch.ones_like(y))


def op_cases(batch: int, resolutions: list[int]) -> list[OpCase]:
    """The fused-op calls of a config-F step at each resolution (inputs require grad)."""
    from sg2model.ops.bias_act import bias_act
    from sg2model.ops.upfirdn2d import setup_filter, upfirdn2d

    def randn(*shape: int, channels_last: bool = False) -> torch.Tensor:
        t = torch.randn(shape, device="cuda")
        if channels_last:
            t = t.contiguous(memory_format=torch.channels_last)
        return t.requires_grad_(True)

    f = setup_filter([1, 3, 3, 1], device="cuda")
    cases: list[OpCase] = []
    for res in resolutions:
        ch = min(32768 // res, 512)
        full = randn(batch, ch, res, res)
        cases += [
            OpCase(f"FIR 4x4 after up-conv [{batch},{ch},{res + 1}^2]", upfirdn2d,
                   (randn(batch, ch, res + 1, res + 1), f), {"padding": 1, "gain": 4}),
            OpCase(f"downsample 2x [{batch},{ch},{res}^2]", upfirdn2d, (full, f), {"down": 2, "padding": 1}),
            OpCase(f"upsample 2x [{batch},{ch},{res // 2}^2]", upfirdn2d,
                   (randn(batch, ch, res // 2, res // 2), f), {"up": 2, "padding": [2, 1, 2, 1], "gain": 4}),
            OpCase(f"bias+lrelu [{batch},{ch},{res}^2]", bias_act, (full, randn(ch)), {"act": "lrelu"}),
        ]  # fmt: skip
    label = f"downsample 2x channels-last [{batch},128,256^2]"
    cl = randn(batch, 128, 256, 256, channels_last=True)
    cases.append(OpCase(label, upfirdn2d, (cl, f), {"down": 2, "padding": 1}))
    return cases


def bench_ops(batch: int, resolutions: list[int]) -> None:
    columns = ("fwd ref", "fwd cuda", "x", "f+b ref", "f+b cuda", "x", "MiB ref", "MiB cuda", "ratio")
    header = f"{'op (fp32, ms)':44s} " + " ".join(f"{c:>8s}" for c in columns)
    print(header)
    print("-" * len(header))
    for case in op_cases(batch, resolutions):
        with torch.no_grad():
            fwd = [cuda_time_ms(partial(case.forward, impl)) for impl in ("ref", "cuda")]
        both = [cuda_time_ms(partial(case.forward_backward, impl)) for impl in ("ref", "cuda")]
        mem = [peak_mib(partial(case.forward_backward, impl)) for impl in ("ref", "cuda")]
        values = (fwd[0], fwd[1], fwd[0] / fwd[1], both[0], both[1], both[0] / both[1], mem[0], mem[1],
                  mem[1] / max(mem[0], 1e-9))  # fmt: skip
        print(f"{case.label:44s} " + " ".join(f"{v:8.3f}" if v < 100 else f"{v:8.1f}" for v in values))


def bench_step(batch: int, resolution: int, steps: int) -> None:
    from cuda_ops import build

    G, D = make_networks(resolution)
    z = torch.randn(batch, G.z_dim, device="cuda")
    real = torch.randn(batch, G.img_channels, resolution, resolution, device="cuda")
    results = {}
    for name in ("ref", "cuda"):

        def step() -> None:
            G.zero_grad(set_to_none=True)
            D.zero_grad(set_to_none=True)
            gan_step(G, D, z, real, r1_gamma=10.0)

        started = time.perf_counter()
        with build.reference_only() if name == "ref" else contextlib.nullcontext():
            ms, mem = cuda_time_ms(step, warmup=2, reps=steps), peak_mib(step)
        print(f"{name}: {steps + 3} steps in {time.perf_counter() - started:.1f} s", flush=True)
        results[name] = (ms, batch * 1000.0 / ms, mem)
    print(f"\nwhole G+D step with R1, config F {resolution}^2, batch {batch}, fp32, {steps} timed steps")
    print(f"{'impl':6s} {'ms/step':>9s} {'img/s':>8s} {'peak MiB':>9s}")
    for name, (ms, ips, mem) in results.items():
        print(f"{name:6s} {ms:9.1f} {ips:8.2f} {mem:9.0f}")
    (_, ips_r, mem_r), (_, ips_c, mem_c) = results["ref"], results["cuda"]
    print(f"cuda vs ref: {ips_c / ips_r:.2f}x img/s ({(ips_c / ips_r - 1) * 100:+.0f}%), "
          f"peak memory {(mem_c / mem_r - 1) * 100:+.0f}%")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no-step", action="store_true", help="only the per-op table")
    parser.add_argument("--step-only", action="store_true", help="only the whole-step table")
    parser.add_argument("--cudnn-benchmark", action="store_true", help="let cuDNN autotune each conv shape")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_cuda_ops: no CUDA device; nothing to measure")
        return
    import cuda_ops
    from cuda_ops import build

    cuda_ops.install()
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.set_float32_matmul_precision("highest")  # no TF32 (docs/facts.md, "Metrics / Common")
    torch.backends.cudnn.allow_tf32 = False
    started = time.perf_counter()
    build.load()
    ready = time.perf_counter() - started
    print(
        f"device: {torch.cuda.get_device_name()}; torch {torch.__version__}; extension ready in {ready:.1f} s"
    )
    resolutions = [2**k for k in range(6, int(math.log2(args.resolution)) + 1)]
    if not args.step_only:
        bench_ops(args.batch, resolutions)
    if not args.no_step:
        bench_step(args.batch, args.resolution, args.steps)


if __name__ == "__main__":
    main()
