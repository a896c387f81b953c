// Fused bias + activation + gain + clamp (docs/facts.md, "Ops": bias_act), with the two derivative passes
// that first- and second-order gradients need (R1 and path length regularization take gradients of
// gradients).
//
// One thread per element in memory order; every tensor shares x's strides (the Python side ensures it),
// so the channel of element i is (i / stride[dim]) % C for any dense layout, channels-last included.
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>

#include "ops.h"

namespace {

// Activation codes; cuda_ops/bias_act.py holds the same table (name -> code, saved reference).
enum Act : int { kLinear = 0, kRelu, kLrelu, kTanh, kSigmoid, kElu, kSelu, kSoftplus, kSwish };

constexpr double kSeluAlpha = 1.6732632423543772;
constexpr double kSeluScale = 1.0507009873554805;

// Activations whose derivative is written in terms of the input z = x + b; the others use act(z) = y / gain.
__host__ __device__ inline bool needs_x(int act) { return act == kSwish; }

template <typename A>
__device__ inline A sigmoid(A z) { return A(1) / (A(1) + exp(-z)); }

template <typename A>
__device__ inline A act_forward(int act, A z, A alpha) {
  switch (act) {
    case kRelu: return z > A(0) ? z : A(0);
    case kLrelu: return z > A(0) ? z : z * alpha;
    case kTanh: return tanh(z);
    case kSigmoid: return sigmoid(z);
    case kElu: return z >= A(0) ? z : exp(z) - A(1);  // alpha 1, as F.elu
    case kSelu: return z >= A(0) ? A(kSeluScale) * z : A(kSeluScale * kSeluAlpha) * (exp(z) - A(1));
    case kSoftplus: return z > A(20) ? z : log1p(exp(z));
    case kSwish: return z * sigmoid(z);
    default: return z;
  }
}

// act'(z) written in r: r = z for needs_x activations, r = act(z) for the others.
template <typename A>
__device__ inline A act_d1(int act, A r, A alpha) {
  switch (act) {
    case kRelu: return r > A(0) ? A(1) : A(0);
    case kLrelu: return r > A(0) ? A(1) : alpha;
    case kTanh: return A(1) - r * r;
    case kSigmoid: return r * (A(1) - r);
    case kElu: return r >= A(0) ? A(1) : r + A(1);
    case kSelu: return r >= A(0) ? A(kSeluScale) : r + A(kSeluScale * kSeluAlpha);
    case kSoftplus: return A(1) - exp(-r);
    case kSwish: {
      const A s = sigmoid(r);
      return s * (A(1) + r * (A(1) - s));
    }
    default: return A(1);
  }
}

// d act_d1(r) / dr, the derivative of the line above with respect to its own argument r.
template <typename A>
__device__ inline A act_d2(int act, A r, A alpha) {
  switch (act) {
    case kTanh: return A(-2) * r;
    case kSigmoid: return A(1) - A(2) * r;
    case kElu: return r >= A(0) ? A(0) : A(1);
    case kSelu: return r >= A(0) ? A(0) : A(1);
    case kSoftplus: return exp(-r);
    case kSwish: {
      const A s = sigmoid(r);
      return s * (A(1) - s) * (A(2) + r * (A(1) - A(2) * s));
    }
    default: return A(0);  // piecewise linear: linear, relu, lrelu
  }
}

struct BiasActParams {
  int act, mode;
  double alpha, gain, clamp;  // clamp < 0: no clamping
  int64_t numel, stride_dim, channels;
};

// I: index type (32-bit when the tensor allows it: 64-bit division is slow on the GPU).
template <typename T, typename I>
__global__ void bias_act_kernel(const T* __restrict__ g, const T* __restrict__ b, const T* __restrict__ ref,
                                const T* __restrict__ dy, T* __restrict__ out, BiasActParams p) {
  using A = at::opmath_type<T>;
  const A alpha = static_cast<A>(p.alpha);
  const A gain = static_cast<A>(p.gain);
  const A clamp = static_cast<A>(p.clamp);
  const bool use_x = needs_x(p.act);
  const I numel = static_cast<I>(p.numel);
  const I stride_dim = static_cast<I>(p.stride_dim);
  const I channels = static_cast<I>(p.channels);
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < numel; i += (I)gridDim.x * blockDim.x) {
    const A bias = b ? static_cast<A>(b[(i / stride_dim) % channels]) : A(0);
    const A gi = static_cast<A>(g[i]);
    if (p.mode == 0) {
      A v = act_forward<A>(p.act, gi + bias, alpha) * gain;
      if (clamp >= A(0)) v = v > clamp ? clamp : (v < -clamp ? -clamp : v);
      out[i] = static_cast<T>(v);
      continue;
    }
    // r and the clamp mask from the saved reference: x (+ b) or y = clamp(act(z) * gain).
    A r;
    bool pass = true;
    if (use_x) {
      r = static_cast<A>(ref[i]) + bias;
      if (clamp >= A(0)) pass = fabs(act_forward<A>(p.act, r, alpha) * gain) <= clamp;
    } else {
      const A y = static_cast<A>(ref[i]);
      r = gain != A(0) ? y / gain : A(0);
      if (clamp >= A(0)) pass = fabs(y) < clamp;
    }
    A v = A(0);
    if (pass) {
      if (p.mode == 1) {
        v = gi * gain * act_d1<A>(p.act, r, alpha);
      } else {
        // d(dx)/dz = dy * gain * act_d2 for x-based; d(dx)/dy = dy * act_d2 for y-based (r = y / gain).
        const A scale = use_x ? gain : A(1);
        v = gi * static_cast<A>(dy[i]) * scale * act_d2<A>(p.act, r, alpha);
      }
    }
    out[i] = static_cast<T>(v);
  }
}

void check_same(const torch::Tensor& a, const torch::Tensor& g, const char* name) {
  TORCH_CHECK(a.device() == g.device() && a.scalar_type() == g.scalar_type(), name,
              " must be on the same device with the same dtype as the input");
  TORCH_CHECK(a.sizes() == g.sizes() && a.strides() == g.strides(), name,
              " must have the input's shape and strides");
}

}  // namespace

torch::Tensor bias_act_cuda(torch::Tensor g, torch::Tensor b, torch::Tensor ref, torch::Tensor dy, int64_t act,
                            int64_t mode, double alpha, double gain, double clamp, int64_t dim) {
  TORCH_CHECK(g.is_cuda(), "bias_act: input must be a CUDA tensor");
  TORCH_CHECK(g.is_non_overlapping_and_dense(), "bias_act: input must be dense (contiguous in some layout)");
  TORCH_CHECK(act >= kLinear && act <= kSwish, "bias_act: unknown activation code ", act);
  TORCH_CHECK(mode >= 0 && mode <= 2, "bias_act: mode must be 0, 1 or 2");
  const bool has_b = b.numel() > 0;
  if (has_b) {
    TORCH_CHECK(dim >= 0 && dim < g.dim(), "bias_act: dim out of range");
    TORCH_CHECK(b.dim() == 1 && b.size(0) == g.size(dim) && b.is_contiguous(),
                "bias_act: b must be a contiguous 1-D tensor of size x.shape[dim]");
    TORCH_CHECK(b.device() == g.device() && b.scalar_type() == g.scalar_type(), "bias_act: b dtype/device");
  }
  if (mode >= 1) check_same(ref, g, "bias_act: ref");
  if (mode == 2) check_same(dy, g, "bias_act: dy");
  const at::cuda::CUDAGuard guard(g.device());
  auto out = torch::empty_like(g);  // preserves g's strides (dense input)
  if (g.numel() == 0) return out;
  BiasActParams p;
  p.act = static_cast<int>(act);
  p.mode = static_cast<int>(mode);
  p.alpha = alpha;
  p.gain = gain;
  p.clamp = clamp;
  p.numel = g.numel();
  p.stride_dim = has_b ? std::max<int64_t>(g.stride(dim), 1) : 1;  // no bias: channel never read
  p.channels = has_b ? g.size(dim) : 1;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((p.numel + threads - 1) / threads, 65536);
  auto stream = c10::cuda::getCurrentCUDAStream();
  const bool small = p.numel + int64_t(threads) * blocks < (int64_t(1) << 31);
  AT_DISPATCH_FLOATING_TYPES_AND_HALF(g.scalar_type(), "bias_act_cuda", [&] {
    const scalar_t* gp = g.data_ptr<scalar_t>();
    const scalar_t* bp = has_b ? b.data_ptr<scalar_t>() : nullptr;
    const scalar_t* rp = mode >= 1 ? ref.data_ptr<scalar_t>() : nullptr;
    const scalar_t* dp = mode == 2 ? dy.data_ptr<scalar_t>() : nullptr;
    scalar_t* op = out.data_ptr<scalar_t>();
    if (small) {
      bias_act_kernel<scalar_t, uint32_t><<<blocks, threads, 0, stream>>>(gp, bp, rp, dp, op, p);
    } else {
      bias_act_kernel<scalar_t, int64_t><<<blocks, threads, 0, stream>>>(gp, bp, rp, dp, op, p);
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}
