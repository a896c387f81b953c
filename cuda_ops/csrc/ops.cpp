// Python bindings of the sg2eval CUDA ops; argument checks live here, arithmetic in the .cu files.
#include "ops.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "sg2eval fused CUDA ops: bias_act and upfirdn2d";
  m.def("bias_act", &bias_act_cuda, "fused bias + activation + gain + clamp (and derivatives)");
  m.def("upfirdn2d", &upfirdn2d_cuda, "upsample, pad, FIR filter, downsample");
}
