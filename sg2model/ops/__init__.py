"""Reference implementations (plain PyTorch) of StyleGAN2's custom ops; see docs/CONTRACTS.md.

Each op with a CUDA kernel takes ``impl='auto'|'ref'|'cuda'`` and dispatches through :mod:`.registry`.
"""

from sg2model.ops import bias_act, conv2d_resample, modulated_conv, registry, upfirdn2d

__all__ = ["bias_act", "conv2d_resample", "modulated_conv", "registry", "upfirdn2d"]
