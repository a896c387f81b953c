"""``sg2eval project``: project images into a network's W space (StyleGAN2 Appendix D; docs/projector.md).

The options shared with ``attribute`` and ``attribute-calibrate`` (projector settings, LPIPS, device) and the
progress display live here too.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import subprocess
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from sg2eval.cli.common import Checked, check_outputs, lpips_option, main_process
from sg2eval.errors import Sg2evalError
from sg2eval.projector import ProjectorConfig, StepReport
from sg2model.core.files import atomic_path

if TYPE_CHECKING:
    from sg2eval.attribution import Setup


def resize_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--resize/--no-resize`` for commands that read images of ``what`` (targets, images)."""
    return click.option(
        "--resize/--no-resize",
        default=True,
        show_default=True,
        help=f"Centre-crop and resize {what} of another size (with a warning) instead of refusing them.",
    )


@dataclass(frozen=True)
class ProjectorArgs:
    """The values of :func:`projector_options`, which a command receives as one argument ``projection``."""

    network: str
    num_steps: int | None
    no_noise_reg: bool
    pyramid_gain: float | None
    seed: int
    batch_size: int
    lpips_name: str
    lpips_weights: str | None
    device: str

    def config_changes(self) -> dict[str, Any]:
        """The :class:`ProjectorConfig` fields set on the command line (None: not given)."""
        return {
            "num_steps": self.num_steps,
            "noise_reg_weight": 0.0 if self.no_noise_reg else None,
            "pyramid_gain": self.pyramid_gain,
        }

    def config(self) -> ProjectorConfig:
        """The default :class:`ProjectorConfig` with the command line's changes."""
        return ProjectorConfig().with_changes(**self.config_changes())

    def open_network(self) -> Setup:
        """The network and LPIPS backend on ``--device``."""
        from sg2eval.attribution import open_setup

        return open_setup(self.network, self.lpips_name, self.lpips_weights, self.device)


def projector_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Network, projector, LPIPS and device options of the three projection commands; ``command`` gets
    their values as one :class:`ProjectorArgs` keyword argument ``projection``."""
    names = [field.name for field in dataclasses.fields(ProjectorArgs)]

    @functools.wraps(command)
    def bundled(**params: Any) -> Any:
        projection = ProjectorArgs(**{name: params.pop(name) for name in names})
        return command(projection=projection, **params)

    options = [
        click.option("--network", required=True, help="Network file: .sg2, stylegan2-ada .pkl or TF .pkl."),
        click.option(
            "--steps", "num_steps", type=Checked("num_steps"), default=None, help="Optimization steps [1000]."
        ),
        click.option(
            "--no-noise-reg",
            "no_noise_reg",
            is_flag=True,
            help="Drop the noise regularization (Figure 18's ablation; maps are still renormalized).",
        ),
        click.option(
            "--pyramid-gain",
            type=float,
            default=None,
            help="Gain of each 2x2 average in the noise pyramid [2, as the paper; NVIDIA's code: 1].",
        ),
        click.option(
            "--seed", type=Checked("seed"), default=0, show_default=True, help="First projection seed."
        ),
        click.option(
            "--batch-size",
            type=Checked("batch_size"),
            default=8,
            show_default=True,
            help="Targets per batch.",
        ),
        lpips_option,
        click.option(
            "--lpips-weights",
            "--weights",
            "lpips_weights",
            default=None,
            help="vgg16.pt (vgg16-nv) or vgg16-397923af.pth (lpips-vgg).",
        ),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ..."),
    ]
    for option in reversed(options):
        bundled = option(bundled)
    return bundled


@contextmanager
def step_progress(total_steps: int, description: str) -> Iterator[Callable[[StepReport], None]]:
    """Progress over ``total_steps`` optimization steps showing step, loss and LPIPS (batch means): a bar
    on a terminal, plain lines elsewhere (sg2eval/progress.py); yields the projector callback advancing it."""
    from sg2eval.progress import progress_bar

    with progress_bar(total_steps, description, unit="steps") as bar:

        def advance(report: StepReport) -> None:
            bar.advance(
                1,
                f"step {report.step + 1}  loss {report.loss.mean():.4f}  LPIPS {report.distance.mean():.4f}",
            )

        yield advance


@contextmanager
def echo_warnings() -> Iterator[None]:
    """Print the library's warnings (resized images, mismatched calibrations) as one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)


# ----------------------------------------------------------------------------------------------------------
# Outputs.


class VideoWriter:
    """Frames (uint8 ``[H, W, 3]``) to ``<stem>.mp4`` through ffmpeg when it is installed, else to an animated
    ``<stem>.gif`` with PIL (at most 100 frames, at most 256 pixels high)."""

    def __init__(self, stem: Path, num_frames: int, fps: int = 30) -> None:
        self.fps = fps
        self.ffmpeg = shutil.which("ffmpeg")
        self.path = stem.with_suffix(".mp4" if self.ffmpeg else ".gif")
        self.every = 1 if self.ffmpeg else max(1, -(-num_frames // 100))
        self.count = 0
        self.frames: list[Any] = []
        self.process: subprocess.Popen[bytes] | None = None

    def add(self, frame: np.ndarray) -> None:
        self.count += 1
        if (self.count - 1) % self.every:
            return
        if self.ffmpeg:
            if self.process is None:
                self.process = self._start(frame.shape[1], frame.shape[0])
            assert self.process.stdin is not None
            self.process.stdin.write(np.ascontiguousarray(frame).tobytes())
            return
        import PIL.Image

        image = PIL.Image.fromarray(np.ascontiguousarray(frame))
        if image.height > 256:
            image = image.resize((image.width * 256 // image.height, 256), PIL.Image.Resampling.BILINEAR)
        self.frames.append(image)

    def _start(self, width: int, height: int) -> subprocess.Popen[bytes]:
        assert self.ffmpeg is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        args = [self.ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24"]
        args += ["-s", f"{width}x{height}", "-r", str(self.fps), "-i", "-", "-pix_fmt", "yuv420p"]
        return subprocess.Popen([*args, "-c:v", "libx264", str(self.path)], stdin=subprocess.PIPE)

    def close(self) -> Path:
        if self.process is not None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            if self.process.wait() != 0:
                raise Sg2evalError(f"ffmpeg failed writing {self.path}; rerun without --save-video")
        elif self.frames:
            with atomic_path(self.path) as tmp:
                duration = max(20, 1000 * self.every // self.fps)
                self.frames[0].save(
                    tmp, format="GIF", save_all=True, append_images=self.frames[1:], duration=duration, loop=0
                )
        return self.path


@click.command("project")
@click.argument("targets", nargs=-1, required=True)
@projector_options
@click.option("--out", "out_dir", default="projections", show_default=True, help="Output folder.")
@click.option("--save-video", is_flag=True, help="Also write the optimization as MP4 (ffmpeg) or GIF.")
@resize_option("targets")
def project_command(
    targets: tuple[str, ...],
    projection: ProjectorArgs,
    out_dir: str,
    save_video: bool,
    resize: bool,
) -> None:
    """Find w in W and the noise maps that re-synthesize each TARGET image (files or folders).

    Writes, per target, OUT/<name>/: projected_w.npz, noise.npz, target.png, proj.png, compare.png
    (target | projection) and with --save-video proj.mp4 or proj.gif; OUT/projection.json sums up.
    """
    from sg2eval.projection_outputs import unique_names, write_projections
    from sg2eval.projector import load_targets, output_shape

    check_outputs(folders={"--out": out_dir})
    config = projection.config()
    with echo_warnings():
        setup = projection.open_network()
        files, images = load_targets(targets, output_shape(setup.G), resize)
        projector = setup.projector(config)
    out = Path(out_dir)
    seeds = list(range(projection.seed, projection.seed + len(files)))
    videos = {
        seed: VideoWriter(out / name / "proj", config.num_steps)
        for seed, name in zip(seeds, unique_names(files), strict=True)
    } if save_video else {}  # fmt: skip
    batches = -(-len(files) // projection.batch_size)
    with step_progress(config.num_steps * batches, "projecting") as advance:

        def on_step(report: StepReport) -> None:
            advance(report)
            for seed, image in zip(report.seeds, report.images.cpu().numpy(), strict=True):
                if seed in videos:
                    target = images[seed - projection.seed]
                    frame = np.concatenate([target, image], axis=2)  # [C, H, 2W]
                    videos[seed].add(np.broadcast_to(frame, (3, *frame.shape[1:])).transpose(1, 2, 0))

        result = projector.project_many(images, seeds, projection.batch_size, on_step)
    if not main_process():
        return
    extra = [{"video": str(videos[seed].close())} for seed in seeds] if save_video else None
    for entry in write_projections(out, setup, config, files, images, result, extra):
        click.echo(f"{entry['target']}: LPIPS {entry['distance']:.4f} -> {entry['folder']}")
