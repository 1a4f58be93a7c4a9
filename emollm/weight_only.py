"""Weight-only quantized linear layers for CPU decoding: int8 and int4 kernels of our own for x86
CPUs with AVX512-BF16 (emollm.native_kernels, in bf16), PyTorch's (what Inductor lowers torchao's
int8 / int4 weight-only patterns to) elsewhere. Called directly they are fast in eager mode too, so
decoding reads fewer bytes than bf16 without a compile step.

* `int8`: one scale per output channel; `torch._weight_int8pack_mm` or our int8 product (1.4-1.5 x
  its speed on 2 cores).
* `int4`: asymmetric groups of `GROUP_SIZE` input channels (a scale and a zero each), for the MLPs
  (88 % of a nano-2b layer's weights); the attention projections and the output layer stay int8, as
  llama.cpp's 4-bit mixes keep some tensors at more bits. Measured on the demo model
  (benchmarks/quantization_accuracy.py, 420 held-out clips): every layer in int4 moved OV-MER by
  1.0 point, int4 with an int8 output layer moved ERG by 1.2, this mix stays within 1. Our kernel
  for decoding steps, and for a prefill one GEMM on the weights dequantized for the call (1.5-1.7 x
  PyTorch's int4 kernel there); elsewhere `torch._weight_int4pack_mm_for_cpu`. Both layouts hold
  the same 4 bits and bf16 scale and zero per group.

Either way the products are the same up to the order of additions (tested). Activations stay in the
model's dtype. Quantizing happens at load time; nothing is saved.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from emollm.native_kernels import MIN_WEIGHTS, can_run, kernel_function


class _WeightOnlyLinear(nn.Module, ABC):
    """What both formats share: the `nn.Linear` interface on flattened rows, and the bias; each
    format stores its weight and says how rows multiply it (`_matmul`)."""

    format = ""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.compute_dtype = linear.weight.dtype
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().to(self.compute_dtype))

    @classmethod
    def supports(cls, linear: nn.Linear) -> bool:
        return True

    def _choose_native(self, linear: nn.Linear, native: bool | None, runnable: bool, needs: str) -> bool:
        """Whether this layer runs on our kernels: `native`, or by default where they can (`runnable`)
        and the layer is large enough to gain (`MIN_WEIGHTS`)."""
        if native is None:
            return runnable and linear.weight.numel() >= MIN_WEIGHTS
        if native and not runnable:
            raise ValueError(f"the {self.format} kernel needs {needs} and an x86 CPU with AVX512-BF16")
        return native

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(self.compute_dtype).contiguous()
        out = self._matmul(flat)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*x.shape[:-1], self.out_features)

    @abstractmethod
    def _matmul(self, flat: torch.Tensor) -> torch.Tensor:
        """(rows, in_features) in the compute dtype -> (rows, out_features), before the bias."""

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, {self.format} weight-only"


class Int8WeightOnlyLinear(_WeightOnlyLinear):
    """int8 weights, symmetric, one scale per output channel. In bf16, with `in_features` a multiple
    of 32 and rows a multiple of 4, on a CPU with AVX512-BF16, decoding steps run emollm.native_kernels's
    int8 matrix-vector product (rows in tiles of 4); elsewhere `torch._weight_int8pack_mm`."""

    format = "int8"
    KERNEL_MAX_ROWS = 8  # decoding steps (a few rows) take the int8 kernel; longer inputs use the bf16 GEMM

    def __init__(self, linear: nn.Linear, native: bool | None = None):
        """`native`: whether to use emollm.native_kernels's int8 product (None: wherever it can run)."""
        super().__init__(linear)
        weight = linear.weight.detach().float()
        scales = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
        codes = torch.round(weight / scales[:, None]).clamp(-127, 127).to(torch.int8)
        self.register_buffer("scales", scales.to(self.compute_dtype))
        self.native = self._choose_native(linear, native, can_run(linear, 32) and self.out_features % 4 == 0,
                                          "bf16 weights, in_features a multiple of 32, rows a multiple of 4")
        if self.native:  # tiles of 4 rows, 32-channel blocks: [rows / 4, in_features / 32, 4, 32]
            codes = codes.reshape(self.out_features // 4, 4, self.in_features // 32, 32).transpose(1, 2).contiguous()
        self.register_buffer("weight", codes)

    def _matmul(self, flat: torch.Tensor) -> torch.Tensor:
        if flat.shape[0] <= self.KERNEL_MAX_ROWS:
            if self.native:
                return kernel_function("int8_matmul")(flat, self.weight, self.scales)
            return torch._weight_int8pack_mm(flat, self.weight, self.scales)
        # a prefill is compute-bound, where the GEMM beats the int8 kernel (benchmarks/cpu_latency.py):
        # one conversion pass over the weight, the per-channel scale applied to the (smaller) output
        weight = kernel_function("int8_unpack")(self.weight) if self.native else self.weight.to(flat.dtype)
        return nn.functional.linear(flat, weight) * self.scales

    def extra_repr(self) -> str:
        return super().extra_repr() + (", AVX512-BF16 kernel" if self.native else "")


class Int4WeightOnlyLinear(_WeightOnlyLinear):
    """int4 weights in asymmetric groups of `GROUP_SIZE` input channels: w = (q - 8) * scale + zero,
    PyTorch's int4 kernel's convention. In bf16, with `in_features` a multiple of 64, on a CPU with
    AVX512-BF16, the weights are laid out for emollm.native_kernels: decoding steps (up to
    `KERNEL_MAX_ROWS` rows) run its matrix-vector products, longer inputs one bf16 GEMM on the
    weights dequantized for that call. Elsewhere `torch._weight_int4pack_mm_for_cpu` runs them all;
    it needs rows in multiples of 16, so others are padded with zeros (either way)."""

    format = "int4"
    GROUP_SIZE = 32  # the smallest group PyTorch's kernel takes: the closest to bf16 (1 extra bit per weight)
    ROW_MULTIPLE = 16
    KERNEL_MAX_ROWS = 4  # above, dequantizing once and one GEMM beat a matrix-vector product per row

    def __init__(self, linear: nn.Linear, native: bool | None = None):
        """`native`: whether to use emollm.native_kernels (None: wherever it can run)."""
        super().__init__(linear)
        weight = linear.weight.detach().float()
        padded_rows = -(-self.out_features // self.ROW_MULTIPLE) * self.ROW_MULTIPLE
        weight = nn.functional.pad(weight, (0, 0, 0, padded_rows - self.out_features))
        groups = weight.reshape(padded_rows, -1, self.GROUP_SIZE)
        low, high = groups.amin(dim=-1), groups.amax(dim=-1)
        scale = ((high - low) / 15).clamp(min=1e-12)
        codes = torch.round((groups - low[..., None]) / scale[..., None]).clamp(0, 15).to(torch.int32)
        zero = low + 8 * scale
        codes = codes.reshape(padded_rows, self.in_features)
        self.native = self._choose_native(linear, native, can_run(linear, 64),
                                          "bf16 weights, in_features a multiple of 64")
        if self.native:
            for name, tensor in pack_for_native_kernel(codes, scale, zero).items():
                self.register_buffer(name, tensor)
            return
        self.register_buffer("weight", torch._convert_weight_to_int4pack_for_cpu(codes, 1))  # 1: inner k-tiles, unused on CPU
        # [in_features / GROUP_SIZE, rows, (scale, zero)], the layout the kernel reads
        self.register_buffer("scales_and_zeros",
                             torch.stack([scale.t(), zero.t()], dim=-1).to(self.compute_dtype).contiguous())

    @classmethod
    def supports(cls, linear: nn.Linear) -> bool:
        return linear.in_features % cls.GROUP_SIZE == 0

    def _matmul(self, flat: torch.Tensor) -> torch.Tensor:
        if not self.native:
            out = torch._weight_int4pack_mm_for_cpu(flat, self.weight, self.GROUP_SIZE, self.scales_and_zeros)
        elif flat.shape[0] <= self.KERNEL_MAX_ROWS:
            out = kernel_function("int4_matmul")(flat, self.codes, self.scales, self.zeros)
        else:
            weight = kernel_function("int4_dequantize")(self.in_features, self.codes, self.scales, self.zeros)
            out = nn.functional.linear(flat, weight)
        return out[:, : self.out_features] if out.shape[1] != self.out_features else out

    def extra_repr(self) -> str:
        return super().extra_repr() + (", AVX512-BF16 kernel" if self.native else "")


def pack_for_native_kernel(codes: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor) -> dict[str, torch.Tensor]:
    """int4 codes [rows, in_features] (0..15) and each group's scale and zero [rows, in_features / 32]
    in the layout of emollm/kernels/cpu_kernels.cpp (described there): tiles of 4 rows, 64-weight
    blocks of 32 bytes, bf16 scales and zeros."""
    rows, in_features = codes.shape
    tiles, blocks = rows // 4, in_features // 64
    halves = codes.to(torch.uint8).reshape(rows, blocks, 2, 32)  # channels j and j + 32 of each block
    packed = (halves[:, :, 0] | (halves[:, :, 1] << 4)).reshape(tiles, 4, blocks, 32).transpose(1, 2)
    return {"codes": packed.contiguous(),
            "scales": scale.to(torch.bfloat16).reshape(tiles, 4, blocks, 2).transpose(1, 2).contiguous(),
            "zeros": zero.to(torch.bfloat16).reshape(tiles, 4, blocks * 2).contiguous()}


FORMATS: dict[str, type[_WeightOnlyLinear]] = {cls.format: cls for cls in (Int8WeightOnlyLinear, Int4WeightOnlyLinear)}
LOW_BIT_LAYERS = {"int4": ".mlp."}  # the layers (by name) a format quantizes that far; the others take int8


def layer_format(format: str, name: str, is_output_layer: bool) -> str:
    if format in LOW_BIT_LAYERS:
        return format if LOW_BIT_LAYERS[format] in f".{name}." and not is_output_layer else "int8"
    return format


def replace_linear_layers(module: nn.Module, layer_for) -> tuple[int, list[str]]:
    """Replace the `nn.Linear`s under `module` in place: `layer_for(name, linear, is_output_layer)`
    gives the class to build from each (None leaves it). Returns how many were replaced and the
    names of those whose class can't take them (`supports`: they keep their dtype). A tied output
    layer gets its own copy; the input embedding stays as it was."""
    output = module.get_output_embeddings() if hasattr(module, "get_output_embeddings") else None
    targets = [(name, child) for name, child in module.named_modules() if isinstance(child, nn.Linear)]
    layers = {name: layer_for(name, child, child is output) for name, child in targets}
    kept = [name for name, child in targets if layers[name] is not None and not layers[name].supports(child)]
    replaced = 0
    for name, linear in targets:
        if layers[name] is None or name in kept:
            continue
        module.set_submodule(name, layers[name](linear))
        replaced += 1
        if linear is output and getattr(getattr(module, "config", None), "tie_word_embeddings", False):
            module.config.tie_word_embeddings = False  # the output layer is no longer the embedding matrix
    return replaced, kept


def quantize_weight_only(module: nn.Module, format: str) -> tuple[int, list[str]]:
    """Replace every `nn.Linear` under `module` (in place) by its layer of the format (`layer_format`);
    returns how many were replaced and the names of those the format can't take."""
    return replace_linear_layers(module, lambda name, linear, is_output: FORMATS[layer_format(format, name, is_output)])
