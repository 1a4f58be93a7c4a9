// CPU kernels for decoding on x86 CPUs with AVX512-BF16 (emollm/native_kernels.py builds and loads them):
// - int4 and int8 weight-only matrix-vector products (emollm/weight_only.py), and the unpacking of
//   their weights to bf16 for a prefill's GEMM;
// - one decoding step's attention (emollm/decode_attention.py) and the LLM's RMSNorm
//   (emollm/rms_norm.py) as single calls: in eager PyTorch each costs several operations whose
//   dispatch outweighs their arithmetic at one token.
//
// The matrix-vector products are written here because no kernel this project can install does them
// near memory speed on a few cores:
// PyTorch's `_weight_int4pack_mm_for_cpu` converts every weight through float32 and is bound by that
// arithmetic (about 65 G weights/s on 2 cores), its `_weight_int8pack_mm` read 25-29 GB/s here,
// bitsandbytes' CPU gemv_4bit measured slower still, and torchao's VNNI kernels ship only in its CPU
// wheels. Here a 4-bit code q becomes a bf16 number with one integer OR (the bf16 bits 0x4300 | q
// are exactly 128 + q), an int8 one through float32, and `vdpbf16ps` multiplies 32 of them with the
// input in one instruction. Rows are read in tiles of 4 as one sequential stream.
//
// int4 format (emollm/weight_only.py packs it): asymmetric groups of 32 input channels,
// w = (q - 8) * scale + zero, as PyTorch's int4 kernel defines them, with the same bytes per weight
// (4 bits, and a bf16 scale and zero per group), so
// w . x = sum over groups of scale * ((128 + q) . x_group) + (zero - 136 * scale) * sum(x_group).
// - `codes`:  [rows / 4, in_features / 64, 4, 32] bytes; byte j of a row's 64-weight block carries
//             channel j (low nibble) and channel j + 32 (high nibble);
// - `scales`: [rows / 4, in_features / 64, 4, 2] bf16, the block's two groups per row;
// - `zeros`:  [rows / 4, 4, in_features / 32] bf16.
#include <immintrin.h>
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

constexpr int64_t kGroup = 32;
constexpr int64_t kBlock = 64;
constexpr int64_t kTile = 4;  // rows computed together: independent accumulators hide the FMA latency
constexpr int64_t kPrefetchBytes = 8192;  // ahead in the code stream (measured: the hardware prefetcher alone lags)

inline uint16_t float_to_bf16(float value) {  // round to nearest even, as PyTorch converts
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return static_cast<uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

__attribute__((target("avx2,fma,avx512f,avx512bw")))
inline void block_scales_to_float(const uint16_t* scales, float* out) {  // 8 bf16 -> 8 float32 (exact)
  _mm256_store_ps(out, _mm256_castsi256_ps(_mm256_slli_epi32(
      _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales))), 16)));
}

__attribute__((target("avx2,fma,avx512f,avx512bw")))
inline __m512 widen_bf16(const uint16_t* values) {  // 16 bf16 -> 16 float32 (exact)
  return _mm512_castsi512_ps(_mm512_slli_epi32(
      _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(values))), 16));
}

inline float bf16_to_float(uint16_t bits) {
  const uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &widened, sizeof(value));
  return value;
}

__attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16")))
void matvec_tile(const uint16_t* x, const float* group_sums, const uint8_t* codes, const uint16_t* scales,
                 const uint16_t* zeros, uint16_t* out, int64_t blocks) {
  const __m512i low_nibble = _mm512_set1_epi16(0x000F);
  const __m512i bf16_128 = _mm512_set1_epi16(0x4300);
  __m512 acc[kTile][2];
  for (int64_t r = 0; r < kTile; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  __m256 scaled_sums = _mm256_setzero_ps();  // per (row, group of the block): scale * sum(x_group), summed over blocks
  alignas(32) float block_scales[kTile * 2];
  for (int64_t b = 0; b < blocks; ++b, codes += kTile * 32, scales += kTile * 2) {
    _mm_prefetch(reinterpret_cast<const char*>(codes) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(codes) + kPrefetchBytes + 64, _MM_HINT_T0);
    block_scales_to_float(scales, block_scales);
    double sum_pair;  // the block's two group sums, broadcast to each row's pair of lanes
    std::memcpy(&sum_pair, group_sums + 2 * b, sizeof(sum_pair));
    scaled_sums = _mm256_fmadd_ps(_mm256_load_ps(block_scales), _mm256_castpd_ps(_mm256_set1_pd(sum_pair)), scaled_sums);
    const __m512bh x_first = (__m512bh)_mm512_loadu_si512(x + b * kBlock);
    const __m512bh x_second = (__m512bh)_mm512_loadu_si512(x + b * kBlock + kGroup);
    for (int64_t r = 0; r < kTile; ++r) {
      const __m512i words = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + r * 32)));
      const __m512i first = _mm512_ternarylogic_epi32(words, low_nibble, bf16_128, 0xEA);  // (words & 0xF) | 0x4300
      const __m512i second = _mm512_or_si512(_mm512_srli_epi16(words, 4), bf16_128);
      const __m512 dot_first = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)first, x_first);
      const __m512 dot_second = _mm512_dpbf16_ps(_mm512_setzero_ps(), (__m512bh)second, x_second);
      acc[r][0] = _mm512_fmadd_ps(dot_first, _mm512_set1_ps(block_scales[2 * r]), acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(dot_second, _mm512_set1_ps(block_scales[2 * r + 1]), acc[r][1]);
    }
  }
  alignas(32) float scale_terms[kTile * 2];
  _mm256_store_ps(scale_terms, scaled_sums);
  const int64_t groups = blocks * 2;
  for (int64_t r = 0; r < kTile; ++r) {
    __m512 sum = _mm512_add_ps(acc[r][0], acc[r][1]);
    const uint16_t* row_zeros = zeros + r * groups;
    int64_t g = 0;
    for (; g + 16 <= groups; g += 16)
      sum = _mm512_fmadd_ps(widen_bf16(row_zeros + g), _mm512_loadu_ps(group_sums + g), sum);
    float result = _mm512_reduce_add_ps(sum) - 136.f * (scale_terms[2 * r] + scale_terms[2 * r + 1]);
    for (; g < groups; ++g) result += bf16_to_float(row_zeros[g]) * group_sums[g];
    out[r] = float_to_bf16(result);
  }
}

// the sums of x's groups of 32 channels, in float32 (one pass; aten's view/convert/sum cost more per call)
__attribute__((target("avx2,fma,avx512f,avx512bw")))
void group_sums_of(const uint16_t* x, float* sums, int64_t groups) {
  for (int64_t g = 0; g < groups; ++g, x += kGroup)
    sums[g] = _mm512_reduce_add_ps(_mm512_add_ps(widen_bf16(x), widen_bf16(x + 16)));
}

// int8 weights, one scale per row: codes [rows / 4, in_features / 32, 4, 32] int8, scales [rows] bf16.
// Each int8 is exact in bf16; it gets there through float32 (vpmovsxbd, vcvtdq2ps, vcvtne2ps2bf16).
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16")))
void int8_matvec_tile(const uint16_t* x, const int8_t* codes, const uint16_t* scales, uint16_t* out, int64_t blocks) {
  __m512 acc[kTile];
  for (int64_t r = 0; r < kTile; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b, codes += kTile * kGroup) {
    _mm_prefetch(reinterpret_cast<const char*>(codes) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(codes) + kPrefetchBytes + 64, _MM_HINT_T0);
    const __m512bh x_block = (__m512bh)_mm512_loadu_si512(x + b * kGroup);
    for (int64_t r = 0; r < kTile; ++r) {
      const int8_t* row = codes + r * kGroup;
      const __m512 low = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row))));
      const __m512 high = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16))));
      acc[r] = _mm512_dpbf16_ps(acc[r], _mm512_cvtne2ps_pbh(high, low), x_block);  // channels 0-15 from `low`
    }
  }
  for (int64_t r = 0; r < kTile; ++r) out[r] = float_to_bf16(_mm512_reduce_add_ps(acc[r]) * bf16_to_float(scales[r]));
}

// one tile's weights as bf16 rows [4, in_features] (w = (q - 8) * scale + zero, rounded once)
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16")))
void dequantize_tile(const uint8_t* codes, const uint16_t* scales, const uint16_t* zeros, uint16_t* out,
                     int64_t blocks) {
  const __m512i low_nibble = _mm512_set1_epi32(0x0F);
  const int64_t in_features = blocks * kBlock, groups = blocks * 2;
  alignas(32) float block_scales[kTile * 2];
  for (int64_t b = 0; b < blocks; ++b, codes += kTile * 32, scales += kTile * 2) {
    block_scales_to_float(scales, block_scales);
    for (int64_t r = 0; r < kTile; ++r) {
      for (int64_t half = 0; half < 2; ++half) {  // 16 bytes: channels j (low nibbles) and j + 32 (high)
        const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + r * 32 + half * 16)));
        const __m512i nibbles[2] = {_mm512_and_si512(bytes, low_nibble), _mm512_srli_epi32(bytes, 4)};
        for (int64_t g = 0; g < 2; ++g) {
          const __m512 scale = _mm512_set1_ps(block_scales[2 * r + g]);
          const __m512 zero = _mm512_set1_ps(bf16_to_float(zeros[r * groups + 2 * b + g]));
          const __m512 value = _mm512_fmadd_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(nibbles[g]), _mm512_set1_ps(8.f)),
                                               scale, zero);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + r * in_features + b * kBlock + g * kGroup + half * 16),
                              (__m256i)_mm512_cvtneps_pbh(value));
        }
      }
    }
  }
}

// int8 codes of one tile as bf16 rows [4, in_features], exactly (the per-row scale is applied to the
// product, as in the matrix-vector product)
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16")))
void int8_unpack_tile(const int8_t* codes, uint16_t* out, int64_t blocks) {
  const int64_t in_features = blocks * kGroup;
  for (int64_t b = 0; b < blocks; ++b, codes += kTile * kGroup) {
    for (int64_t r = 0; r < kTile; ++r) {
      const int8_t* row = codes + r * kGroup;
      const __m512 low = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row))));
      const __m512 high = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 16))));
      _mm512_storeu_si512(out + r * in_features + b * kGroup, (__m512i)_mm512_cvtne2ps_pbh(high, low));
    }
  }
}

// RMSNorm of one row as transformers' Llama-family RMSNorm computes it in bf16: the mean square in
// float32, x times its reciprocal root rounded to bf16, then times the bf16 weight, rounded again
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16")))
void rms_norm_row(const uint16_t* x, const uint16_t* weight, uint16_t* out, int64_t n, float eps) {
  __m512 squares = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = widen_bf16(x + i);
    squares = _mm512_fmadd_ps(v, v, squares);
  }
  float sum = _mm512_reduce_add_ps(squares);
  for (; i < n; ++i) sum += bf16_to_float(x[i]) * bf16_to_float(x[i]);
  const float inverse_root = 1.f / std::sqrt(sum / static_cast<float>(n) + eps);
  const __m512 factor = _mm512_set1_ps(inverse_root);
  for (i = 0; i + 16 <= n; i += 16) {
    const __m256bh normed = _mm512_cvtneps_pbh(_mm512_mul_ps(widen_bf16(x + i), factor));
    const __m512 normed_float = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)normed), 16));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(normed_float, widen_bf16(weight + i))));
  }
  for (; i < n; ++i)
    out[i] = float_to_bf16(bf16_to_float(float_to_bf16(bf16_to_float(x[i]) * inverse_root)) * bf16_to_float(weight[i]));
}

// e^x for the arguments of a softmax (x <= 0): x = n ln2 + r, e^r by its Taylor series to r^6
// (|r| <= ln2 / 2: relative error below 2e-7), times 2^n; below -87 (and -inf) exactly 0
__attribute__((target("avx2,fma,avx512f,avx512bw")))
inline __m512 exp_nonpositive(__m512 x) {
  const __mmask16 representable = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.f), _CMP_GE_OQ);
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 in two parts, for precision
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.f / 720);
  for (const float c : {1.f / 120, 1.f / 24, 1.f / 6, 1.f / 2, 1.f, 1.f}) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  return _mm512_maskz_mov_ps(representable, _mm512_scalef_ps(p, n));
}

// one decoding step's attention of the `group` query heads that share key/value head `keys`/`values`
// ([cached, head_dim] bf16): scores and softmax in float32, the output accumulated in float32
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512bf16")))
void attend_one_kv_head(const uint16_t* queries, const uint16_t* keys, const uint16_t* values, const bool* mask,
                        uint16_t* out, int64_t group, int64_t cached, int64_t head_dim, float scaling, float* scores) {
  const int64_t chunks = head_dim / 32;
  for (int64_t l = 0; l < cached; ++l) {
    const uint16_t* key = keys + l * head_dim;
    for (int64_t g = 0; g < group; ++g) {
      if (mask != nullptr && !mask[l]) {
        scores[g * cached + l] = -INFINITY;
        continue;
      }
      __m512 dot = _mm512_setzero_ps();
      for (int64_t c = 0; c < chunks; ++c)
        dot = _mm512_dpbf16_ps(dot, (__m512bh)_mm512_loadu_si512(queries + g * head_dim + c * 32),
                               (__m512bh)_mm512_loadu_si512(key + c * 32));
      scores[g * cached + l] = _mm512_reduce_add_ps(dot) * scaling;
    }
  }
  for (int64_t g = 0; g < group; ++g) {
    float* row = scores + g * cached;
    float highest = -INFINITY;
    for (int64_t l = 0; l < cached; ++l) highest = std::max(highest, row[l]);
    float total = 0.f;
    int64_t l = 0;
    if (highest != -INFINITY) {  // (a row that attends to nothing gets zeros)
      __m512 sums = _mm512_setzero_ps();
      for (; l + 16 <= cached; l += 16) {
        const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_loadu_ps(row + l), _mm512_set1_ps(highest)));
        _mm512_storeu_ps(row + l, e);
        sums = _mm512_add_ps(sums, e);
      }
      total = _mm512_reduce_add_ps(sums);
      for (; l < cached; ++l) total += (row[l] = std::exp(row[l] - highest));
    }
    const float inverse_total = total > 0.f ? 1.f / total : 0.f;
    __m512 acc[8];  // head_dim <= 128: 8 vectors of 16
    for (int64_t c = 0; c < head_dim / 16; ++c) acc[c] = _mm512_setzero_ps();
    for (l = 0; l < cached; ++l) {
      if (row[l] == 0.f) continue;  // masked (or negligible) positions add nothing
      const __m512 weight = _mm512_set1_ps(row[l] * inverse_total);
      for (int64_t c = 0; c < head_dim / 16; ++c)
        acc[c] = _mm512_fmadd_ps(weight, widen_bf16(values + l * head_dim + c * 16), acc[c]);
    }
    for (int64_t c = 0; c < head_dim / 16; ++c)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + g * head_dim + c * 16), (__m256i)_mm512_cvtneps_pbh(acc[c]));
  }
}

struct Layout {
  int64_t tiles, blocks, groups, out_features;
};

Layout check_layout(int64_t in_features, const torch::Tensor& codes, const torch::Tensor& scales,
                    const torch::Tensor& zeros) {
  TORCH_CHECK(in_features % kBlock == 0, "in_features must be a multiple of 64, got ", in_features);
  const int64_t blocks = in_features / kBlock, groups = in_features / kGroup;
  TORCH_CHECK(codes.scalar_type() == torch::kUInt8 && codes.is_contiguous() && codes.dim() == 4 &&
                  codes.size(1) == blocks && codes.size(2) == kTile && codes.size(3) == 32,
              "codes: contiguous uint8 [rows / 4, in_features / 64, 4, 32]");
  const int64_t tiles = codes.size(0);
  TORCH_CHECK(scales.scalar_type() == torch::kBFloat16 && scales.is_contiguous() &&
                  scales.numel() == tiles * blocks * kTile * 2,
              "scales: contiguous bf16 [rows / 4, in_features / 64, 4, 2]");
  TORCH_CHECK(zeros.scalar_type() == torch::kBFloat16 && zeros.is_contiguous() && zeros.numel() == tiles * kTile * groups,
              "zeros: contiguous bf16 [rows / 4, 4, in_features / 32]");
  return {tiles, blocks, groups, tiles * kTile};
}

const uint16_t* bits(const torch::Tensor& tensor) {
  return reinterpret_cast<const uint16_t*>(tensor.data_ptr<at::BFloat16>());
}

}  // namespace

bool supported() { return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw"); }

// x: [n, in_features] bf16 -> [n, rows] bf16, one matrix-vector product per row of x
torch::Tensor matmul(const torch::Tensor& x, const torch::Tensor& codes, const torch::Tensor& scales,
                     const torch::Tensor& zeros) {
  TORCH_CHECK(x.scalar_type() == torch::kBFloat16 && x.dim() == 2 && x.is_contiguous(), "x: contiguous 2-D bf16");
  const Layout layout = check_layout(x.size(1), codes, scales, zeros);
  auto out = torch::empty({x.size(0), layout.out_features}, x.options());
  auto group_sums = torch::empty({x.size(0), layout.groups}, x.options().dtype(torch::kFloat));
  for (int64_t m = 0; m < x.size(0); ++m)
    group_sums_of(bits(x) + m * x.size(1), group_sums.data_ptr<float>() + m * layout.groups, layout.groups);
  for (int64_t m = 0; m < x.size(0); ++m) {
    const uint16_t* x_row = bits(x) + m * x.size(1);
    const float* sums = group_sums.data_ptr<float>() + m * layout.groups;
    uint16_t* out_row = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>()) + m * layout.out_features;
    at::parallel_for(0, layout.tiles, 8, [&](int64_t begin, int64_t end) {
      for (int64_t tile = begin; tile < end; ++tile)
        matvec_tile(x_row, sums, codes.data_ptr<uint8_t>() + tile * layout.blocks * kTile * 32,
                    bits(scales) + tile * layout.blocks * kTile * 2, bits(zeros) + tile * kTile * layout.groups,
                    out_row + tile * kTile, layout.blocks);
    });
  }
  return out;
}

// the weights as bf16 [rows, in_features], for inputs of many rows (a prefill), where a GEMM wins
torch::Tensor dequantize(int64_t in_features, const torch::Tensor& codes, const torch::Tensor& scales,
                         const torch::Tensor& zeros) {
  const Layout layout = check_layout(in_features, codes, scales, zeros);
  auto out = torch::empty({layout.out_features, in_features}, torch::dtype(torch::kBFloat16));
  uint16_t* out_bits = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  at::parallel_for(0, layout.tiles, 8, [&](int64_t begin, int64_t end) {
    for (int64_t tile = begin; tile < end; ++tile)
      dequantize_tile(codes.data_ptr<uint8_t>() + tile * layout.blocks * kTile * 32,
                      bits(scales) + tile * layout.blocks * kTile * 2, bits(zeros) + tile * kTile * layout.groups,
                      out_bits + tile * kTile * in_features, layout.blocks);
  });
  return out;
}

void check_int8_codes(const torch::Tensor& codes) {
  TORCH_CHECK(codes.scalar_type() == torch::kChar && codes.is_contiguous() && codes.dim() == 4 &&
                  codes.size(2) == kTile && codes.size(3) == kGroup,
              "codes: contiguous int8 [rows / 4, in_features / 32, 4, 32]");
}

// int8: x [n, in_features] bf16 -> [n, rows] bf16, one matrix-vector product per row of x
torch::Tensor int8_matmul(const torch::Tensor& x, const torch::Tensor& codes, const torch::Tensor& scales) {
  TORCH_CHECK(x.scalar_type() == torch::kBFloat16 && x.dim() == 2 && x.is_contiguous(), "x: contiguous 2-D bf16");
  const int64_t in_features = x.size(1), blocks = in_features / kGroup;
  check_int8_codes(codes);
  TORCH_CHECK(codes.size(1) * kGroup == in_features, "codes hold ", codes.size(1) * kGroup, " input channels, x ", in_features);
  const int64_t tiles = codes.size(0), out_features = tiles * kTile;
  TORCH_CHECK(scales.scalar_type() == torch::kBFloat16 && scales.is_contiguous() && scales.numel() == out_features,
              "scales: contiguous bf16 [rows]");
  auto out = torch::empty({x.size(0), out_features}, x.options());
  for (int64_t m = 0; m < x.size(0); ++m) {
    const uint16_t* x_row = bits(x) + m * in_features;
    uint16_t* out_row = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>()) + m * out_features;
    at::parallel_for(0, tiles, 8, [&](int64_t begin, int64_t end) {
      for (int64_t tile = begin; tile < end; ++tile)
        int8_matvec_tile(x_row, codes.data_ptr<int8_t>() + tile * blocks * kTile * kGroup, bits(scales) + tile * kTile,
                         out_row + tile * kTile, blocks);
    });
  }
  return out;
}

// int8 codes as bf16 [rows, in_features] (exact), for inputs of many rows (a prefill), where a GEMM wins
torch::Tensor int8_unpack(const torch::Tensor& codes) {
  check_int8_codes(codes);
  const int64_t tiles = codes.size(0), blocks = codes.size(1), in_features = blocks * kGroup;
  auto out = torch::empty({tiles * kTile, in_features}, torch::dtype(torch::kBFloat16));
  uint16_t* out_bits = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  at::parallel_for(0, tiles, 8, [&](int64_t begin, int64_t end) {
    for (int64_t tile = begin; tile < end; ++tile)
      int8_unpack_tile(codes.data_ptr<int8_t>() + tile * blocks * kTile * kGroup, out_bits + tile * kTile * in_features,
                       blocks);
  });
  return out;
}

// RMSNorm over the last dimension of bf16 x (contiguous), bf16 weight
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  TORCH_CHECK(x.scalar_type() == torch::kBFloat16 && x.is_contiguous(), "x: contiguous bf16");
  const int64_t n = x.size(-1), rows = x.numel() / n;
  TORCH_CHECK(weight.scalar_type() == torch::kBFloat16 && weight.is_contiguous() && weight.numel() == n,
              "weight: contiguous bf16 [", n, "]");
  auto out = torch::empty_like(x);
  uint16_t* out_bits = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row)
      rms_norm_row(bits(x) + row * n, bits(weight), out_bits + row * n, n, static_cast<float>(eps));
  });
  return out;
}

// one decoding step's attention: query [batch, heads, head_dim], key and value [batch, kv_heads, cached,
// head_dim] (bf16, contiguous, head_dim a multiple of 32 up to 128), mask [batch, cached] bool (true:
// attend) or None -> [batch, heads, head_dim] bf16
torch::Tensor decode_attention(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                               const c10::optional<torch::Tensor>& mask, double scaling) {
  TORCH_CHECK(query.scalar_type() == torch::kBFloat16 && key.scalar_type() == torch::kBFloat16 &&
                  value.scalar_type() == torch::kBFloat16, "query, key, value: bf16");
  TORCH_CHECK(query.is_contiguous() && key.is_contiguous() && value.is_contiguous() && query.dim() == 3 &&
                  key.dim() == 4 && key.sizes() == value.sizes(), "query [batch, heads, head_dim], key and value "
              "[batch, kv_heads, cached, head_dim], contiguous");
  const int64_t batch = query.size(0), heads = query.size(1), head_dim = query.size(2);
  const int64_t kv_heads = key.size(1), cached = key.size(2);
  TORCH_CHECK(key.size(0) == batch && key.size(3) == head_dim && heads % kv_heads == 0, "mismatched shapes");
  TORCH_CHECK(head_dim % 32 == 0 && head_dim <= 128, "head_dim must be a multiple of 32 up to 128, got ", head_dim);
  const bool* mask_data = nullptr;
  if (mask.has_value()) {
    TORCH_CHECK(mask->scalar_type() == torch::kBool && mask->is_contiguous() && mask->size(0) == batch &&
                    mask->size(1) == cached, "mask: contiguous bool [batch, cached]");
    mask_data = mask->data_ptr<bool>();
  }
  const int64_t group = heads / kv_heads;
  auto out = torch::empty_like(query);
  uint16_t* out_bits = reinterpret_cast<uint16_t*>(out.data_ptr<at::BFloat16>());
  at::parallel_for(0, batch * kv_heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(group * cached);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / kv_heads, h = task % kv_heads;
      attend_one_kv_head(bits(query) + (b * heads + h * group) * head_dim, bits(key) + task * cached * head_dim,
                         bits(value) + task * cached * head_dim, mask_data ? mask_data + b * cached : nullptr,
                         out_bits + (b * heads + h * group) * head_dim, group, cached, head_dim,
                         static_cast<float>(scaling), scores.data());
    }
  });
  return out;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("supported", &supported, "whether this CPU has the instructions (AVX512-BF16, AVX512-BW)");
  m.def("int4_matmul", &matmul, "rows of bf16 x int4 weights -> bf16, one matrix-vector product per row");
  m.def("int4_dequantize", &dequantize, "int4 weights -> bf16 [rows, in_features]");
  m.def("int8_matmul", &int8_matmul, "rows of bf16 x int8 weights (a scale per row) -> bf16");
  m.def("int8_unpack", &int8_unpack, "int8 codes -> bf16 [rows, in_features], exactly");
  m.def("decode_attention", &decode_attention, "one decoding step's attention, float32 softmax");
  m.def("rms_norm", &rms_norm, "RMSNorm of bf16 rows, rounded as transformers' RMSNorm rounds in bf16");
}
