#include "model/grounding/swin.h"

#include <string>

namespace ctrlfuse::model::grounding {
namespace F = torch::nn::functional;

SwinConfig SwinTinyConfig() { return SwinConfig{}; }

namespace {

// [B,H,W,C] (H, W multiples of ws) -> [B*nW, ws*ws, C], windows row-major.
torch::Tensor WindowPartition(const torch::Tensor& x, int64_t ws) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  return x.view({b, h / ws, ws, w / ws, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, ws * ws, c});
}

torch::Tensor WindowReverse(const torch::Tensor& windows, int64_t ws, int64_t b, int64_t h, int64_t w) {
  const int64_t c = windows.size(-1);
  return windows.view({b, h / ws, w / ws, ws, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({b, h, w, c});
}

// The official shifted-window mask on the padded size: nine regions (by the
// slices [0,-ws), [-ws,-shift), [-shift,end) per axis), -100 between
// different regions.
torch::Tensor ShiftMask(int64_t hp, int64_t wp, int64_t ws, int64_t shift, const torch::Device& device) {
  auto region = [&](int64_t n) {
    torch::Tensor r = torch::zeros({n}, torch::kFloat);
    r.slice(0, n - ws, n - shift).fill_(1);
    r.slice(0, n - shift, n).fill_(2);
    return r;
  };
  const torch::Tensor img = (region(hp).view({hp, 1}) * 3 + region(wp).view({1, wp})).view({1, hp, wp, 1});
  const torch::Tensor windows = WindowPartition(img, ws).squeeze(-1);  // [nW, ws*ws]
  const torch::Tensor diff = windows.unsqueeze(1) - windows.unsqueeze(2);
  return torch::zeros_like(diff).masked_fill(diff != 0, -100.0).to(device);
}

}  // namespace

SwinBlockImpl::SwinBlockImpl(int dim, int heads, int window, int shift, int mlp_ratio)
    : heads_(heads), window_(window), shift_(shift) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  auto attn = register_module("attn", std::make_shared<torch::nn::Module>());
  bias_table_ = attn->register_parameter("relative_position_bias_table",
                                         torch::zeros({(2 * window - 1) * (2 * window - 1), heads}));
  // index[i][j] = (dy + ws - 1) * (2ws - 1) + (dx + ws - 1) for window
  // positions i, j (row-major), as the official buffer.
  const torch::Tensor coords = torch::arange(window);
  const torch::Tensor y = coords.repeat_interleave(window), x = coords.repeat(window);
  const torch::Tensor index = (y.unsqueeze(1) - y.unsqueeze(0) + window - 1) * (2 * window - 1) +
                              (x.unsqueeze(1) - x.unsqueeze(0) + window - 1);
  bias_index_ = attn->register_buffer("relative_position_index", index);
  qkv_ = attn->register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj_ = attn->register_module("proj", torch::nn::Linear(dim, dim));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(dim, dim * mlp_ratio));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(dim * mlp_ratio, dim));
}

torch::Tensor SwinBlockImpl::forward(const torch::Tensor& input, int64_t h, int64_t w,
                                     const torch::Tensor& shift_mask) {
  const int64_t b = input.size(0), c = input.size(2), ws = window_, n = ws * ws, d = c / heads_;
  // Padded after the norm, with zeros: padded tokens take part as keys (bias
  // only) in unshifted windows, as in the official code.
  torch::Tensor x = norm1_(input).view({b, h, w, c});
  const int64_t pad_r = (ws - w % ws) % ws, pad_b = (ws - h % ws) % ws;
  if (pad_r || pad_b) x = F::pad(x, F::PadFuncOptions({0, 0, 0, pad_r, 0, pad_b}));
  const int64_t hp = h + pad_b, wp = w + pad_r;
  if (shift_ > 0) x = torch::roll(x, {-shift_, -shift_}, {1, 2});
  const torch::Tensor windows = WindowPartition(x, ws);  // [B*nW, n, C]
  const torch::Tensor qkv = qkv_(windows).view({-1, n, 3, heads_, d}).permute({2, 0, 3, 1, 4});
  torch::Tensor bias = bias_table_.index_select(0, bias_index_.view(-1)).view({n, n, heads_}).permute({2, 0, 1});
  torch::Tensor mask = bias.unsqueeze(0);  // [1, heads, n, n]
  if (shift_ > 0) {
    const int64_t nw = shift_mask.size(0);
    mask = (mask.unsqueeze(0) + shift_mask.view({1, nw, 1, n, n}))
               .expand({b, nw, heads_, n, n})
               .reshape({b * nw, heads_, n, n});
  }
  torch::Tensor attended = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask);
  attended = proj_(attended.transpose(1, 2).reshape({-1, n, c}));
  x = WindowReverse(attended, ws, b, hp, wp);
  if (shift_ > 0) x = torch::roll(x, {shift_, shift_}, {1, 2});
  if (pad_r || pad_b) x = x.slice(1, 0, h).slice(2, 0, w);
  x = input + x.reshape({b, h * w, c});
  return x + fc2_(F::gelu(fc1_(norm2_(x))));
}

SwinTransformerImpl::SwinTransformerImpl(const SwinConfig& config) : config_(config) {
  auto patch = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj_ = patch->register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, config.embed_dim, config.patch).stride(config.patch)));
  patch_norm_ = patch->register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.embed_dim})));
  auto layers = register_module("layers", std::make_shared<torch::nn::Module>());
  const int num_stages = static_cast<int>(config.depths.size());
  for (int i = 0; i < num_stages; ++i) {
    auto layer = layers->register_module(std::to_string(i), std::make_shared<torch::nn::Module>());
    auto blocks = layer->register_module("blocks", std::make_shared<torch::nn::Module>());
    Stage stage;
    const int dim = config.stage_dim(i);
    for (int j = 0; j < config.depths[i]; ++j) {
      stage.blocks.push_back(blocks->register_module(
          std::to_string(j),
          SwinBlock(dim, config.heads[i], config.window, j % 2 ? config.window / 2 : 0, config.mlp_ratio)));
    }
    if (i + 1 < num_stages) {  // the last stage does not merge
      auto down = layer->register_module("downsample", std::make_shared<torch::nn::Module>());
      stage.merge_reduction =
          down->register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, 2 * dim).bias(false)));
      stage.merge_norm = down->register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4 * dim})));
    }
    stages_.push_back(std::move(stage));
  }
  for (int i : config.out_indices) {
    out_norms_.push_back(register_module("norm" + std::to_string(i),
                                         torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.stage_dim(i)}))));
  }
}

std::vector<torch::Tensor> SwinTransformerImpl::forward(const torch::Tensor& image) {
  const int64_t p = config_.patch;
  torch::Tensor x = image;
  const int64_t pad_w = (p - x.size(3) % p) % p, pad_h = (p - x.size(2) % p) % p;
  if (pad_w || pad_h) x = F::pad(x, F::PadFuncOptions({0, pad_w, 0, pad_h}));
  x = patch_proj_(x);
  int64_t h = x.size(2), w = x.size(3);
  const int64_t b = x.size(0);
  x = patch_norm_(x.flatten(2).transpose(1, 2));
  std::vector<torch::Tensor> outs;
  size_t next_out = 0;
  for (size_t i = 0; i < stages_.size(); ++i) {
    Stage& stage = stages_[i];
    const int64_t ws = config_.window;
    const int64_t hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws;
    const torch::Tensor mask = ShiftMask(hp, wp, ws, ws / 2, x.device()).to(x.dtype());
    for (auto& block : stage.blocks) x = block(x, h, w, mask);
    const int64_t c = x.size(2);
    if (next_out < config_.out_indices.size() && config_.out_indices[next_out] == static_cast<int>(i)) {
      outs.push_back(out_norms_[next_out](x).view({b, h, w, c}).permute({0, 3, 1, 2}).contiguous());
      ++next_out;
    }
    if (stage.merge_reduction) {
      torch::Tensor g = x.view({b, h, w, c});
      if (h % 2 || w % 2) g = F::pad(g, F::PadFuncOptions({0, 0, 0, w % 2, 0, h % 2}));
      using torch::indexing::None;
      using torch::indexing::Slice;
      const torch::Tensor merged = torch::cat({g.index({Slice(), Slice(0, None, 2), Slice(0, None, 2)}),
                                               g.index({Slice(), Slice(1, None, 2), Slice(0, None, 2)}),
                                               g.index({Slice(), Slice(0, None, 2), Slice(1, None, 2)}),
                                               g.index({Slice(), Slice(1, None, 2), Slice(1, None, 2)})},
                                              -1);
      h = (h + 1) / 2;
      w = (w + 1) / 2;
      x = stage.merge_reduction(stage.merge_norm(merged.view({b, h * w, 4 * c})));
    }
  }
  return outs;
}

}  // namespace ctrlfuse::model::grounding
