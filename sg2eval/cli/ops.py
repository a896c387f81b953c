"""``sg2eval ops build|status``: build the fused CUDA ops ahead of time; which implementation each op runs."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table


@click.group("ops")
def ops() -> None:
    """The fused CUDA kernels of bias_act and upfirdn2d (docs/cuda_ops.md)."""


@ops.command("build")
@click.option("--verbose", is_flag=True, help="Stream the compiler's output.")
def build_command(verbose: bool) -> None:
    """Compile the CUDA extension now (or find it in the cache); fails with the compiler's first error."""
    from cuda_ops import build

    chain = build.toolchain()
    module = build.compile_extension(verbose=verbose)
    click.echo(f"built {module.__name__} for arch {chain.arch_list} with nvcc {chain.nvcc_version}")
    click.echo(f"cache: {build.build_dir(chain)}")


@ops.command("status")
def status_command() -> None:
    """Which implementation impl='auto' uses for each op on CUDA tensors, and why."""
    import cuda_ops
    from cuda_ops import build

    chain = build.toolchain()
    table = Table(title="sg2eval fused ops (impl='auto' on a CUDA tensor)")
    for column in ("op", "implementation", "why"):
        table.add_column(column, overflow="fold")
    for op_name, (impl, reason) in cuda_ops.status().items():
        table.add_row(op_name, impl, reason)
    console = Console()
    console.print(table)
    console.print(
        f"nvcc: {chain.nvcc_version or 'not found'}; CUDA home: {chain.cuda_home}; "
        f"arch: {chain.arch_list or '-'}"
    )
    console.print(f"build cache: {build.cache_root()}")
