#include "model/psfm.h"

namespace ctrlfuse::model {
namespace F = torch::nn::functional;

namespace {
// [out, in] matrix of the release's two resizes along one axis: nearest
// in -> mid, then bilinear (align_corners = false) mid -> out. Built by
// running those same resizes on the identity, so the weights are theirs.
torch::Tensor AxisResizeMatrix(int64_t in, int64_t mid, int64_t out, const torch::TensorOptions& opts) {
  auto eye = torch::eye(in, opts).view({1, in, in, 1});  // channel i = basis vector i
  auto x = F::interpolate(eye, F::InterpolateFuncOptions().size(std::vector<int64_t>{mid, 1}).mode(torch::kNearest));
  x = F::interpolate(
      x, F::InterpolateFuncOptions().size(std::vector<int64_t>{out, 1}).mode(torch::kBilinear).align_corners(false));
  return x.view({in, out}).t();
}

// The 3x3 conv's three taps along an axis with zero padding: [3, n, k] with
// tap t at row y = m[y + t - 1] (zero outside).
torch::Tensor Taps(const torch::Tensor& m) {
  const int64_t n = m.size(0);
  auto padded = F::pad(m, F::PadFuncOptions({0, 0, 1, 1}));
  return torch::stack({padded.slice(0, 0, n), padded.slice(0, 1, n + 1), padded.slice(0, 2, n + 2)}, 0);
}
}  // namespace

PsfmFeatures PsfmFeatures::Slice(int64_t begin, int64_t end) const {
  return {projected.slice(0, begin, end), keys.slice(0, begin, end), values.slice(0, begin, end)};
}
PsfmFeatures PsfmFeatures::Clone() const { return {projected.clone(), keys.clone(), values.clone()}; }
PsfmFeatures PsfmFeatures::Concat(const std::vector<PsfmFeatures>& parts) {
  if (parts.size() == 1) return parts[0];
  std::vector<torch::Tensor> p, k, v;
  for (const auto& x : parts) {
    p.push_back(x.projected);
    k.push_back(x.keys);
    v.push_back(x.values);
  }
  return {torch::cat(p, 0), torch::cat(k, 0), torch::cat(v, 0)};
}
int64_t PsfmFeatures::bytes() const {
  int64_t n = 0;
  for (const auto* t : {&projected, &keys, &values})
    if (t->defined()) n += t->numel() * t->element_size();
  return n;
}

PromptSemanticFusionImpl::PromptSemanticFusionImpl(int dim, int heads, int groups, int token_rows, int token_cols)
    : dim_(dim), groups_(groups), token_rows_(token_rows), token_cols_(token_cols) {
  auto down = register_module("downsample", torch::nn::Sequential());
  down_conv_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 2).stride(2));
  down_norm_ = torch::nn::GroupNorm(groups, dim);
  down->push_back(down_conv_);
  down->push_back(down_norm_);
  auto up = register_module("upsample", torch::nn::Sequential());
  up_conv_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 3).padding(1));
  up_norm_ = torch::nn::GroupNorm(groups, dim);
  // Index 0 of the release's Sequential is a parameter-free bilinear x2.
  up->push_back(torch::nn::Upsample(torch::nn::UpsampleOptions()
                                        .scale_factor(std::vector<double>{2, 2})
                                        .mode(torch::kBilinear)
                                        .align_corners(false)));
  up->push_back(up_conv_);
  up->push_back(up_norm_);
  attn_ = register_module("attn", MultiheadAttention(dim, heads));
  out_proj_ = register_module("out_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * dim, dim, 1)));
}

PsfmFeatures PromptSemanticFusionImpl::Prepare(const torch::Tensor& features) {
  PsfmFeatures p;
  p.projected = F::conv2d(features, out_proj_->weight.slice(1, 0, dim_), F::Conv2dFuncOptions().bias(out_proj_->bias));
  auto kv = down_norm_(down_conv_(features)).flatten(2).transpose(1, 2);  // [B,HW/4,C]
  std::tie(p.keys, p.values) = attn_->ProjectKeysValues(kv, kv);
  return p;
}

torch::Tensor PromptSemanticFusionImpl::Fuse(const torch::Tensor& tokens, const PsfmFeatures& f) {
  const int64_t b = tokens.size(0), c = dim_, h = f.projected.size(2), w = f.projected.size(3);
  const int64_t r = token_rows_, k = token_cols_;
  auto t = attn_->Attend(tokens, {f.keys, f.values}).transpose(1, 2).reshape({b, c, r, k});  // [B,C,r,k]
  const auto opts = t.options();
  auto rows = Taps(AxisResizeMatrix(r, h / 2, h, opts));  // [3,H,r]
  auto cols = Taps(AxisResizeMatrix(k, w / 2, w, opts));  // [3,W,k]

  // The 3x3 conv before its bias, L = sum over taps (ty, tx) of
  // rows[ty] (W[:,:,ty,tx] t) cols[tx]^T, kept factored as
  // L[b,o] = R · V[b,o] with R = [H, 3r] (the row taps side by side) and
  // V[b,o] = [3r, W].
  auto u = torch::einsum("oeyx,beij->byxoij", {up_conv_->weight, t});  // [B,3,3,C,r,k]
  auto v = torch::einsum("byxoij,xwj->boyiw", {u, cols}).reshape({b, c, 3 * r, w});
  auto big_r = rows.permute({1, 0, 2}).reshape({h, 3 * r});

  // GroupNorm's statistics of L + bias over each group's channels and all
  // pixels, from the factors (float64: sums of squares of ~H*W terms).
  // sum_yx L = (1^T R) V 1; sum_yx L^2 = <R^T R, V V^T>.
  auto vd = v.to(torch::kFloat64), rd = big_r.to(torch::kFloat64);
  auto bias = up_conv_->bias.to(torch::kFloat64).view({1, c});
  const double n = double(h) * w;
  auto s1 = torch::matmul(rd.sum(0), vd.sum(-1).unsqueeze(-1)).view({b, c});                  // [B,C]
  auto s2 = (torch::matmul(vd, vd.transpose(2, 3)) * torch::matmul(rd.t(), rd)).sum({2, 3});  // [B,C]
  auto mean = (s1 + n * bias) / n;
  auto sq = (s2 + 2 * bias * s1 + n * bias * bias) / n;
  auto gmean = mean.view({b, groups_, -1}).mean(2, true);
  auto gvar = sq.view({b, groups_, -1}).mean(2, true) - gmean * gmean;
  auto inv = (gvar + up_norm_->options.eps()).rsqrt();
  // GN(L + bias) = scale * L + shift, per channel.
  auto gamma = up_norm_->weight.to(torch::kFloat64).view({1, c}),
       beta = up_norm_->bias.to(torch::kFloat64).view({1, c});
  auto scale = (gamma.view({1, groups_, -1}) * inv).view({b, c});
  auto shift = beta + scale * (bias - gmean.expand({b, groups_, c / groups_}).reshape({b, c}));

  // conv1x1's map half: W2 (scale * L + shift) = R · (W2 diag(scale) V) + W2 shift.
  auto w2 = out_proj_->weight.slice(1, dim_, 2 * dim_).view({c, c});
  auto mixed = torch::matmul(w2.unsqueeze(0) * scale.to(opts.dtype()).unsqueeze(1), v.view({b, c, 3 * r * w}))
                   .view({b, c, 3 * r, w});
  auto constant = torch::matmul(shift.to(opts.dtype()), w2.t()).view({b, c, 1, 1});
  return torch::matmul(big_r, mixed) + (f.projected + constant);
}

torch::Tensor PromptSemanticFusionImpl::forward(const torch::Tensor& tokens, const torch::Tensor& features) {
  return Fuse(tokens, Prepare(features));
}

torch::Tensor PromptSemanticFusionImpl::ForwardAsReleased(const torch::Tensor& tokens, const torch::Tensor& features) {
  const int64_t b = features.size(0), c = features.size(1);
  const int64_t h2 = features.size(2) / 2, w2 = features.size(3) / 2;
  auto kv = down_norm_(down_conv_(features)).flatten(2).transpose(1, 2);  // [B,HW/4,C]
  auto t = attn_(tokens, kv, kv);                                         // [B,N,C]
  auto map = t.transpose(1, 2).reshape({b, c, token_rows_, token_cols_});
  map = F::interpolate(map, F::InterpolateFuncOptions().size(std::vector<int64_t>{h2, w2}).mode(torch::kNearest));
  map = F::interpolate(map, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{2 * h2, 2 * w2})
                                .mode(torch::kBilinear)
                                .align_corners(false));
  map = up_norm_(up_conv_(map));
  return out_proj_(torch::cat({features, map}, 1));
}

}  // namespace ctrlfuse::model
