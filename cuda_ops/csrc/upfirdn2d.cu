// upfirdn2d (docs/facts.md, "Ops"): zero-insert by up, pad (negative crops), FIR-filter, keep every
// down-th pixel.
//
// Both kernels compute, per output pixel (oy, ox), a correlation of the taps fc with the zero-inserted and
// padded input: position u = o * down - pad0 + k of the upsampled image holds x[u / up] when u % up == 0
// and 0 <= u / up < size, else zero. Only the taps that hit input samples are visited.
//  - upfirdn2d_generic: any factors, paddings and filter sizes; one thread per output element.
//  - upfirdn2d_tiled:   compile-time up/down/filter size (the cases of StyleGAN2: up 2, down 2, 4x4 taps);
//                       a block stages the input tile of one image plane and the taps in shared memory.
// Layouts: every access goes through the strides of x and of the output, so NCHW and channels-last work.
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>

#include "ops.h"

namespace {

struct UpfirdnParams {
  int n, c, in_h, in_w, out_h, out_w;
  int upx, upy, downx, downy, px0, py0, fh, fw;
  int64_t xs_n, xs_c, xs_h, xs_w;  // strides of x (elements)
  int64_t ys_n, ys_c, ys_h, ys_w;  // strides of the output
  bool channels_inner;             // decode the flat index with the channel fastest (channels-last)
};

__host__ __device__ inline int floor_div(int a, int b) { return (a >= 0 ? a : a - b + 1) / b; }
__host__ __device__ inline int floor_mod(int a, int b) { return a - floor_div(a, b) * b; }

template <typename T, typename A>
__global__ void upfirdn2d_generic(const T* __restrict__ x, const A* __restrict__ fc, T* __restrict__ y,
                                  UpfirdnParams p) {
  const int64_t total = (int64_t)p.n * p.c * p.out_h * p.out_w;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
       i += (int64_t)gridDim.x * blockDim.x) {
    int64_t t = i;
    int ci, ox, oy;
    if (p.channels_inner) {
      ci = t % p.c; t /= p.c;
      ox = t % p.out_w; t /= p.out_w;
      oy = t % p.out_h; t /= p.out_h;
    } else {
      ox = t % p.out_w; t /= p.out_w;
      oy = t % p.out_h; t /= p.out_h;
      ci = t % p.c; t /= p.c;
    }
    const int ni = static_cast<int>(t);
    const int uy0 = oy * p.downy - p.py0;  // upsampled row under tap ky = 0
    const int ux0 = ox * p.downx - p.px0;
    const int ky0 = floor_mod(-uy0, p.upy);  // first tap landing on a real (non-inserted) sample
    const int kx0 = floor_mod(-ux0, p.upx);
    const T* plane = x + ni * p.xs_n + ci * p.xs_c;
    A acc = A(0);
    for (int ky = ky0; ky < p.fh; ky += p.upy) {
      const int iy = (uy0 + ky) / p.upy;  // exact: uy0 + ky is a multiple of upy
      if (iy < 0) continue;
      if (iy >= p.in_h) break;
      for (int kx = kx0; kx < p.fw; kx += p.upx) {
        const int ix = (ux0 + kx) / p.upx;
        if (ix < 0) continue;
        if (ix >= p.in_w) break;
        acc += static_cast<A>(plane[iy * p.xs_h + ix * p.xs_w]) * fc[ky * p.fw + kx];
      }
    }
    y[ni * p.ys_n + ci * p.ys_c + oy * p.ys_h + ox * p.ys_w] = static_cast<T>(acc);
  }
}

// Output tile of TILE_H x TILE_W pixels per block of 32 x 8 threads; the staged input tile covers exactly
// the rows/columns the output tile's taps can reach (zero outside the image).
constexpr int kThreadsX = 32;
constexpr int kThreadsY = 8;
constexpr int kTileW = 32;
constexpr int kTileH = 32;

template <typename T, typename A, int UP, int DOWN, int F>
__global__ void __launch_bounds__(kThreadsX* kThreadsY)
    upfirdn2d_tiled(const T* __restrict__ x, const A* __restrict__ fc, T* __restrict__ y, UpfirdnParams p) {
  constexpr int kInW = ((kTileW - 1) * DOWN + F - 1) / UP + 1;
  constexpr int kInH = ((kTileH - 1) * DOWN + F - 1) / UP + 1;
  constexpr int kTapsPerPhase = (F + UP - 1) / UP;
  __shared__ A s_in[kInH][kInW + 1];
  __shared__ A s_f[F][F];

  const int tid = threadIdx.y * kThreadsX + threadIdx.x;
  for (int k = tid; k < F * F; k += kThreadsX * kThreadsY) s_f[k / F][k % F] = fc[k];

  const int ox0 = blockIdx.x * kTileW;
  const int oy0 = blockIdx.y * kTileH;
  // First input row/column the tile reaches: ceil((o0 * DOWN - pad0) / UP).
  const int ix_base = -floor_div(-(ox0 * DOWN - p.px0), UP);
  const int iy_base = -floor_div(-(oy0 * DOWN - p.py0), UP);

  for (int plane = blockIdx.z; plane < p.n * p.c; plane += gridDim.z) {
    const int ni = plane / p.c;
    const int ci = plane % p.c;
    const T* src = x + ni * p.xs_n + ci * p.xs_c;
    __syncthreads();  // the previous plane's reads of s_in are done (and s_f is written)
    for (int k = tid; k < kInH * kInW; k += kThreadsX * kThreadsY) {
      const int sy = k / kInW;
      const int sx = k % kInW;
      const int iy = iy_base + sy;
      const int ix = ix_base + sx;
      const bool inside = iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w;
      s_in[sy][sx] = inside ? static_cast<A>(src[iy * p.xs_h + ix * p.xs_w]) : A(0);
    }
    __syncthreads();

    T* dst = y + ni * p.ys_n + ci * p.ys_c;
    const int ox = ox0 + threadIdx.x;
    const int ux0 = ox * DOWN - p.px0;
    const int kx0 = UP == 1 ? 0 : floor_mod(-ux0, UP);
    const int sx0 = (ux0 + kx0) / UP - ix_base;
#pragma unroll
    for (int r = 0; r < kTileH / kThreadsY; ++r) {
      const int oy = oy0 + threadIdx.y + r * kThreadsY;
      if (oy >= p.out_h || ox >= p.out_w) continue;
      const int uy0 = oy * DOWN - p.py0;
      const int ky0 = UP == 1 ? 0 : floor_mod(-uy0, UP);
      const int sy0 = (uy0 + ky0) / UP - iy_base;
      A acc = A(0);
#pragma unroll
      for (int jy = 0; jy < kTapsPerPhase; ++jy) {
        const int ky = ky0 + jy * UP;
        if (UP > 1 && ky >= F) break;
#pragma unroll
        for (int jx = 0; jx < kTapsPerPhase; ++jx) {
          const int kx = kx0 + jx * UP;
          if (UP > 1 && kx >= F) break;
          acc += s_in[sy0 + jy][sx0 + jx] * s_f[ky][kx];
        }
      }
      dst[oy * p.ys_h + ox * p.ys_w] = static_cast<T>(acc);
    }
  }
}

template <typename T, typename A>
void launch(const torch::Tensor& x, const torch::Tensor& fc, torch::Tensor& y, const UpfirdnParams& p) {
  auto stream = c10::cuda::getCurrentCUDAStream();
  const T* xp = x.data_ptr<T>();
  const A* fp = fc.data_ptr<A>();
  T* yp = y.data_ptr<T>();
  const bool square = p.upx == p.upy && p.downx == p.downy && p.fh == p.fw;
  const dim3 block(kThreadsX, kThreadsY);
  const dim3 grid((p.out_w + kTileW - 1) / kTileW, (p.out_h + kTileH - 1) / kTileH,
                  std::min(p.n * p.c, 65535));
  const bool tiled_grid = grid.y <= 65535;
  if (square && tiled_grid && p.fh == 4 && p.upx == 1 && p.downx == 1) {
    upfirdn2d_tiled<T, A, 1, 1, 4><<<grid, block, 0, stream>>>(xp, fp, yp, p);
  } else if (square && tiled_grid && p.fh == 4 && p.upx == 2 && p.downx == 1) {
    upfirdn2d_tiled<T, A, 2, 1, 4><<<grid, block, 0, stream>>>(xp, fp, yp, p);
  } else if (square && tiled_grid && p.fh == 4 && p.upx == 1 && p.downx == 2) {
    upfirdn2d_tiled<T, A, 1, 2, 4><<<grid, block, 0, stream>>>(xp, fp, yp, p);
  } else {
    const int threads = 256;
    const int64_t total = (int64_t)p.n * p.c * p.out_h * p.out_w;
    const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65536);
    upfirdn2d_generic<T, A><<<blocks, threads, 0, stream>>>(xp, fp, yp, p);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

torch::Tensor upfirdn2d_cuda(torch::Tensor x, torch::Tensor fc, int64_t upx, int64_t upy, int64_t downx,
                             int64_t downy, int64_t px0, int64_t py0, int64_t out_h, int64_t out_w) {
  TORCH_CHECK(x.is_cuda() && x.dim() == 4, "upfirdn2d: x must be a 4-D CUDA tensor [N, C, H, W]");
  TORCH_CHECK(fc.is_cuda() && fc.dim() == 2 && fc.is_contiguous(), "upfirdn2d: taps must be contiguous 2-D");
  TORCH_CHECK(fc.scalar_type() == (x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat),
              "upfirdn2d: taps must be float32 (float64 for float64 input)");
  TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, "upfirdn2d: up/down must be >= 1");
  TORCH_CHECK(out_h >= 1 && out_w >= 1, "upfirdn2d: empty output");
  const at::cuda::CUDAGuard guard(x.device());
  const bool channels_last = x.is_contiguous(at::MemoryFormat::ChannelsLast) && !x.is_contiguous();
  auto y = torch::empty({x.size(0), x.size(1), out_h, out_w},
                        x.options().memory_format(channels_last ? at::MemoryFormat::ChannelsLast
                                                                : at::MemoryFormat::Contiguous));
  if (x.numel() == 0) return y.zero_();
  UpfirdnParams p;
  p.n = x.size(0); p.c = x.size(1); p.in_h = x.size(2); p.in_w = x.size(3);
  p.out_h = out_h; p.out_w = out_w;
  p.upx = upx; p.upy = upy; p.downx = downx; p.downy = downy;
  p.px0 = px0; p.py0 = py0; p.fh = fc.size(0); p.fw = fc.size(1);
  p.xs_n = x.stride(0); p.xs_c = x.stride(1); p.xs_h = x.stride(2); p.xs_w = x.stride(3);
  p.ys_n = y.stride(0); p.ys_c = y.stride(1); p.ys_h = y.stride(2); p.ys_w = y.stride(3);
  p.channels_inner = channels_last;
  AT_DISPATCH_FLOATING_TYPES_AND_HALF(x.scalar_type(), "upfirdn2d_cuda", [&] {
    launch<scalar_t, at::opmath_type<scalar_t>>(x, fc, y, p);
  });
  return y;
}
