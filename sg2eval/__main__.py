"""``python -m sg2eval ...``: the ``sg2eval`` command (:mod:`sg2eval.cli.main`) for environments without the
installed script on their PATH."""

from sg2eval.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="sg2eval")
