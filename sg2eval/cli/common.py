"""Options and output helpers shared by the metric commands (``fid``, ``kid``, ``pr``, ``features``, ...).

- :func:`pair_options`: ``--real``, ``--fake``, ``--num`` (a number or ``all``), ``--num-real``,
  ``--num-fake``;
- :func:`run_options`: how sources become features (generation, detector, batching, device, cache), whose
  values are exactly :class:`sg2eval.api.RunKwargs` (collect them with :func:`run_kwargs`);
- :func:`json_option` and :func:`emit_result`: print the values and write ``--json OUT`` atomically;
- :func:`lpips_option`: the perceptual distance of ``ppl`` and the projection commands;
- :func:`check_outputs`: refuse unwritable outputs before computing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from sg2eval.result import Result
from sg2model.core.checks import RULES, check
from sg2model.core.files import check_writable, write_json

F = TypeVar("F", bound=Callable[..., Any])

RUN_OPTION_NAMES = (
    "detector",
    "weights",
    "seed",
    "truncation",
    "noise_mode",
    "class_idx",
    "layout",
    "batch_size",
    "device",
    "cache",
    "cache_dir",
    "progress",
)


class NumType(click.ParamType):
    """A positive image count or the word ``all``."""

    name = "N|all"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if isinstance(value, int) or value == "all":
            return value
        try:
            number = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'all'", param, ctx)
        if number < 1:
            self.fail(f"{number} is not a positive number of images", param, ctx)
        return number


NUM = NumType()


class Checked(click.ParamType):
    """A number checked by the rule ``RULES[rule]`` of :mod:`sg2model.core.checks`, the table the Python API
    checks too; a refused value is one line naming the option (``--k must be an integer >= 1, got 0``)."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.name = "INTEGER" if RULES[rule].integer else "FLOAT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        label = param.opts[0] if param is not None and param.opts else self.rule
        if isinstance(value, str):
            try:
                value = int(value) if RULES[self.rule].integer else float(value)
            except ValueError:
                value = value.strip()
        return check(self.rule, value, label)


SOURCE_HELP = (
    "image folder (recursive, png/jpg/webp/bmp/tif), .zip, .npy/.npz uint8 images, network file (.sg2/.pkl, "
    "generated from seeds), features file (sg2eval features --out), or for FID a statistics file "
    "(pytorch-fid/clean-fid .npz, torch-fidelity .pt) or reference name (ffhq-1024; docs/interop.md)"
)


def _apply(function: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def pair_options(function: F) -> F:
    """``--real``, ``--fake`` and the image counts."""
    return _apply(
        function,
        [
            click.option("--real", required=True, metavar="SRC", help=f"Real images: {SOURCE_HELP}."),
            click.option(
                "--fake", required=True, metavar="SRC", help="Generated images, same kinds as --real."
            ),
            click.option(
                "--num",
                type=NUM,
                default=None,
                help="Images per side: first N in sorted path order, or 'all' [all; 50000 generated].",
            ),
            click.option("--num-real", type=NUM, default=None, help="Override --num for --real."),
            click.option("--num-fake", type=NUM, default=None, help="Override --num for --fake."),
        ],
    )


def run_options(default_detector: str) -> Callable[[F], F]:
    """Generation, detector, batching, device and cache options (the fields of ``RunKwargs``)."""

    def decorate(function: F) -> F:
        return _apply(
            function,
            [
                click.option(
                    "--seed",
                    type=Checked("seed"),
                    default=0,
                    show_default=True,
                    help="Network sources: image i uses seed+i.",
                ),
                click.option(
                    "--truncation",
                    type=Checked("truncation"),
                    default=1.0,
                    show_default=True,
                    help="Network sources: psi.",
                ),
                click.option(
                    "--noise-mode",
                    type=click.Choice(["random", "const", "none"]),
                    default="random",
                    show_default=True,
                    help="Network sources: per-layer noise.",
                ),
                click.option(
                    "--class", "class_idx", type=int, default=None, help="Conditional networks: class."
                ),
                click.option(
                    "--layout",
                    type=click.Choice(["auto", "NHWC", "NCHW"]),
                    default="auto",
                    show_default=True,
                    help=".npy/.npz sources: axis order.",
                ),
                click.option(
                    "--detector",
                    default=default_detector,
                    show_default=True,
                    help="Detector name or torchscript:PATH.",
                ),
                click.option("--weights", default=None, metavar="FILE", help="Detector weight file to use."),
                click.option("--batch-size", type=Checked("batch_size"), default=64, show_default=True),
                click.option(
                    "--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ..."
                ),
                click.option("--cache/--no-cache", default=True, show_default=True, help="Feature store."),
                click.option("--cache-dir", default=None, help="Feature store root [$SG2EVAL_CACHE]."),
                click.option(
                    "--progress/--no-progress",
                    default=True,
                    show_default=True,
                    help="Progress on stderr: bars on a terminal, else a plain line every "
                    "$SG2EVAL_PROGRESS_INTERVAL s [30].",
                ),
            ],
        )

    return decorate


def check_outputs(files: dict[str, Any] | None = None, folders: dict[str, Any] | None = None) -> None:
    """Refuse each output that could not be written (``{option: path}``; None: not asked for) before the
    command computes anything (:func:`sg2model.core.files.check_writable`)."""
    for kind, outputs in (("file", files or {}), ("folder", folders or {})):
        for option, path in outputs.items():
            if path is not None:
                check_writable(path, option, kind)  # type: ignore[arg-type]


def run_folders(params: dict[str, Any]) -> dict[str, Any]:
    """The folders the run options write to: ``--cache-dir`` when the feature store is on."""
    return {"--cache-dir": params["cache_dir"] if params["cache"] else None}


def run_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """The run options among a command's parameters, ready for ``sg2eval.api`` functions."""
    return {name: params[name] for name in RUN_OPTION_NAMES}


class RegisteredName(click.ParamType):
    """A name that a registry knows (checked when the command runs, so plug-ins count), or ``auto``."""

    name = "NAME"

    def __init__(self, registry: Callable[[], Any]) -> None:
        self.registry = registry

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        known = ("auto", *self.registry().names())
        if value not in known:
            self.fail(f"{value!r} is not one of {', '.join(known)}", param, ctx)
        return value


def _distances() -> Any:
    from sg2eval.detectors.lpips import DISTANCES

    return DISTANCES


def lpips_option(function: F) -> F:
    """``--lpips``: the perceptual distance (a name of ``sg2eval.detectors.lpips.DISTANCES`` or ``auto``)."""
    return click.option(
        "--lpips",
        "lpips_name",
        type=RegisteredName(_distances),
        default="auto",
        show_default=True,
        help="Perceptual distance: auto, vgg16-nv, lpips-vgg, or a registered one (shapes-lpips: the "
        "built-in default's in-domain distance).",
    )(function)


def json_option(function: F) -> F:
    """``--json OUT``: write the result (values, params, provenance) as JSON."""
    return click.option(
        "--json", "json_path", default=None, metavar="OUT", help="Write the result as JSON to OUT."
    )(function)


def main_process() -> bool:
    """Whether this process prints and writes the command's outputs: rank 0 under torchrun, else always."""
    from sg2eval.distributed import is_main

    return is_main()


def emit_result(result: Result, json_path: str | None) -> None:
    """Print ``name: value  (what it is)`` lines (:func:`sg2eval.labels.value_label`: detector, counts) and
    the detector's weights status; write JSON when asked (rank 0)."""
    from sg2eval.labels import value_label

    if not main_process():
        return
    for name, value in result.values.items():
        label = value_label(result, name)
        click.echo(f"{name}: {value:.6g}" + (f"  ({label})" if label != name else ""))
    detector = result.provenance.get("detector") or {}
    weights = detector.get("weights") or {}
    if weights:
        status = "verified" if detector.get("verified") else "NOT verified against a published hash"
        click.echo(
            f"detector {detector.get('detector')}: {weights.get('file')} "
            f"sha256 {str(weights.get('sha256'))[:12]} ({status})",
            err=True,
        )
    if json_path is not None:
        write_json(json_path, result.to_dict())
        click.echo(f"wrote {json_path}", err=True)
