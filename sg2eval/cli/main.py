"""Entry point of the ``sg2eval`` command.

Subcommands live in their own modules and are imported only when invoked, so a broken optional dependency
of one command cannot break the others. To add a command, add its name and ``"module:attribute"`` to
:data:`COMMANDS` and a one-sentence summary to :data:`SHORT_HELP` (what ``--help`` lists; click would cut the
docstring's first sentence to fit the terminal).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from typing import Any

import click

from sg2eval import __version__
from sg2model.core.allocator import reuse_freed_memory
from sg2model.core.errors import Sg2Error

COMMANDS: dict[str, str] = {
    "ppl": "sg2eval.cli.ppl:ppl_command",
    "project": "sg2eval.cli.project:project_command",
    "attribute": "sg2eval.cli.attribute:attribute_command",
    "attribute-calibrate": "sg2eval.cli.attribute:calibrate_command",
    "weights": "sg2eval.cli.weights:weights",
    "classifiers": "sg2eval.cli.classifiers:classifiers",
    "datasets": "sg2eval.cli.datasets:datasets",
    "separability": "sg2eval.cli.separability:separability",
    "convert": "sg2eval.cli.convert:convert",
    "info": "sg2eval.cli.info:info",
    "train": "sg2eval.cli.train:train_command",
    "ops": "sg2eval.cli.ops:ops",
    "fid": "sg2eval.cli.fid:fid_command",
    "kid": "sg2eval.cli.kid:kid_command",
    "pr": "sg2eval.cli.pr:pr_command",
    "is": "sg2eval.cli.inception_score:is_command",
    "features": "sg2eval.cli.features:features_command",
    "report": "sg2eval.cli.report:report_command",
    "demo": "sg2eval.cli.demo:demo_command",
}


#: The summary ``--help`` lists per command (and per subcommand of a group, as ``"group sub"``): one sentence
#: short enough for one line of an 80-column terminal.
SHORT_HELP: dict[str, str] = {
    "attribute": "Say whether a network generated each image.",
    "attribute-calibrate": "Choose a network's attribution threshold.",
    "classifiers": "Attribute classifiers for linear separability.",
    "classifiers info": "Show a classifier set's attributes and accuracy.",
    "classifiers train": "Train one classifier per attribute.",
    "convert": "Convert a TF or PyTorch pickle to .sg2.",
    "datasets": "Make the procedural shapes dataset.",
    "datasets make-shapes": "Write the procedural labelled shapes dataset.",
    "demo": "Evaluate the shipped networks offline.",
    "features": "Compute and store detector features.",
    "fid": "Fréchet Inception Distance of two image sets.",
    "info": "Show what a network file holds.",
    "is": "Inception Score of an image set.",
    "kid": "Kernel Inception Distance of two image sets.",
    "ops": "Build and inspect the fused CUDA kernels.",
    "ops build": "Compile the CUDA extension now or find it cached.",
    "ops status": "Say which implementation each op uses on CUDA.",
    "ppl": "Perceptual path length of a network.",
    "pr": "Precision and recall of two image sets.",
    "project": "Project images into a network's W space.",
    "report": "Reproduce a table or figure of the paper.",
    "separability": "Linear separability of a network's latent space.",
    "train": "Train a StyleGAN2 generator.",
    "weights": "Find, fetch and verify detector weight files.",
    "weights fetch": "Download official weight files and verify them.",
    "weights list": "Show each known weight file and where it was found.",
}


def with_short_help(name: str, command: click.Command) -> click.Command:
    """``command`` (and a group's subcommands) with the summaries of :data:`SHORT_HELP`."""
    command.short_help = SHORT_HELP.get(name, command.short_help)
    if isinstance(command, click.Group):
        for sub_name, sub in command.commands.items():
            with_short_help(f"{name} {sub_name}", sub)
    return command


class BadInput(click.ClickException):
    """A :class:`~sg2model.core.errors.Sg2Error` shown as ``Error: <message>``, exit status 2."""

    exit_code = 2


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use and turns
    :class:`~sg2model.core.errors.Sg2Error` (any layer's) and a refused option value into a one-line error
    with exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return with_short_help(cmd_name, command)

    def invoke(self, ctx: click.Context) -> Any:
        from sg2eval.cli.option_naming import command_option
        from sg2eval.naming import naming

        with distributed_run(), naming(command_option):  # library errors name this command's options
            try:
                return super().invoke(ctx)
            except Sg2Error as error:
                from sg2eval.distributed import JobError

                if isinstance(error, JobError):
                    raise  # a failure of the whole distributed job: distributed_run reports it once
                raise BadInput(str(error)) from error
            except click.BadParameter as error:  # a bad or missing option: one line, not the usage text
                raise BadInput(error.format_message()) from error


@contextlib.contextmanager
def distributed_run() -> Iterator[None]:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1): join the process group for the command, print only on rank 0
    (the other ranks' standard output is discarded; their errors still reach standard error), and leave the
    group at the end (docs/distributed.md). A single process is left as it is."""
    from sg2model.core.distributed import world_size_from_env

    if world_size_from_env() <= 1:
        yield
        return
    from sg2eval.distributed import JobError, current_world
    from sg2model.core.distributed import shutdown

    world = current_world()
    try:
        if world.is_main:
            yield
        else:
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                yield
    except JobError as error:  # every process raised it: rank 0 reports it, the others stop quietly
        if world.is_main:
            raise BadInput(str(error)) from error
        raise SystemExit(BadInput.exit_code) from error
    finally:
        shutdown(world)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sg2eval")
def cli() -> None:
    """Measure, compare and attribute StyleGAN-family image generators as the StyleGAN2 paper does."""
    reuse_freed_memory()  # large CPU tensors without page faults (sg2model/core/allocator.py)


if __name__ == "__main__":  # python -m sg2eval.cli.main ..., torchrun -m sg2eval.cli.main ...
    cli()
