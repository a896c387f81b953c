// Declarations shared by the sg2eval CUDA ops (bias_act, upfirdn2d).
// Semantics: docs/cuda_ops.md and docs/facts.md, "Ops"; the Python references in sg2model/ops are the
// definition.
#pragma once
#include <torch/extension.h>

// Fused bias + activation + gain + clamp, and its first/second derivative helpers.
// mode 0: out = clamp(act(g + b) * gain)                       (g = x)
// mode 1: out = g * gain * act'(r) * mask                      (g = dy, r from ref [+ b])
// mode 2: out = g * dy * d(act'(r))/d(ref) * mask              (g = ddx)
torch::Tensor bias_act_cuda(torch::Tensor g, torch::Tensor b, torch::Tensor ref, torch::Tensor dy, int64_t act,
                            int64_t mode, double alpha, double gain, double clamp, int64_t dim);

// Zero-insert by (upx, upy), pad (px0, py0 on the leading side), correlate with the 2-D taps `fc`
// ([fh, fw], gain and orientation already applied), keep every (downx, downy)-th pixel.
// Output has the given size and the memory layout (NCHW or channels-last) of x.
torch::Tensor upfirdn2d_cuda(torch::Tensor x, torch::Tensor fc, int64_t upx, int64_t upy, int64_t downx,
                             int64_t downy, int64_t px0, int64_t py0, int64_t out_h, int64_t out_w);
