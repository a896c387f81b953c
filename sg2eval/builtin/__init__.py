"""The built-in default: a StyleGAN2 network trained on the built-in shapes data, shipped with its in-domain
detectors, so that ``sg2eval demo`` runs every metric offline (docs/demo.md).

- :mod:`sg2eval.builtin.paths`: the shipped files and their recorded hashes;
- :mod:`sg2eval.builtin.indomain`: the feature network, ``shapes-features`` (detector for FD, KID, P&R) and
  ``shapes-lpips`` (perceptual distance for PPL and the projector) — labelled in-domain, never FID/LPIPS;
- :mod:`sg2eval.builtin.train_indomain`: how the feature network is trained (``scripts/train_builtin.py``).
"""
