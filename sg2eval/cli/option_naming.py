"""How library errors name settings under the CLI: as the running command's own options (sg2eval/naming.py).

``--weights FILE`` under ``sg2eval fid``, ``--lpips-weights FILE`` under ``sg2eval ppl``; None (the advice is
left out) under a command that has no option for the parameter.
"""

from __future__ import annotations

import click


def command_option(parameter: str, value: object) -> str | None:
    """``parameter`` (a Python parameter name) as an option of the command now running, set to ``value``:
    the option whose destination is ``parameter`` or whose flag is ``--<parameter with dashes>``."""
    context = click.get_current_context(silent=True)
    if context is None:
        return None
    flag = "--" + parameter.replace("_", "-")
    for param in context.command.params:
        if isinstance(param, click.Option) and (param.name == parameter or flag in param.opts):
            shown = flag if flag in param.opts else max(param.opts, key=len)
            return shown if param.is_flag else f"{shown} {value}"
    return None
