"""The toolkit's core: what every layer may use and that uses nothing of the toolkit itself.

- :mod:`sg2model.core.errors`: the base error type of bad input (:class:`Sg2Error`);
- :mod:`sg2model.core.files`: atomic writes (outputs appear whole or not at all) and file hashing;
- :mod:`sg2model.core.images`: the official float→uint8 rendering and PNG image grids;
- :mod:`sg2model.core.device`: the one resolution of a device name (``'auto'``, ``'cpu'``, ``'cuda:1'``).

docs/architecture.md shows where the core sits: below the data, model, evaluation and report layers.
"""
