#include "model/ctrlfuse_net.h"

#include <stdexcept>

namespace ctrlfuse::model {
namespace F = torch::nn::functional;

int64_t Encoding::bytes() const {
  int64_t n = psfm_vis.bytes() + psfm_ir.bytes();
  for (const auto* t : {&f_ref, &i_ref, &image_embedding, &grid_ref, &grid_vis, &grid_ir})
    if (t->defined()) n += t->numel() * t->element_size();
  return n;
}

Encoding Encoding::Slice(int64_t begin, int64_t end) const {
  auto s = [&](const torch::Tensor& t) { return t.slice(0, begin, end); };
  return {s(f_ref),    s(i_ref),   s(image_embedding),         s(grid_ref),
          s(grid_vis), s(grid_ir), psfm_vis.Slice(begin, end), psfm_ir.Slice(begin, end)};
}

Encoding Encoding::Clone() const {
  return {f_ref.clone(),    i_ref.clone(),   image_embedding.clone(), grid_ref.clone(),
          grid_vis.clone(), grid_ir.clone(), psfm_vis.Clone(),        psfm_ir.Clone()};
}

Encoding Encoding::Concat(const std::vector<Encoding>& parts) {
  if (parts.size() == 1) return parts[0];
  auto cat = [&](torch::Tensor Encoding::*field) {
    std::vector<torch::Tensor> ts;
    ts.reserve(parts.size());
    for (const auto& p : parts) ts.push_back(p.*field);
    return torch::cat(ts, 0);
  };
  auto psfm = [&](PsfmFeatures Encoding::*field) {
    std::vector<PsfmFeatures> ps;
    ps.reserve(parts.size());
    for (const auto& p : parts) ps.push_back(p.*field);
    return PsfmFeatures::Concat(ps);
  };
  return {cat(&Encoding::f_ref),    cat(&Encoding::i_ref),   cat(&Encoding::image_embedding), cat(&Encoding::grid_ref),
          cat(&Encoding::grid_vis), cat(&Encoding::grid_ir), psfm(&Encoding::psfm_vis),       psfm(&Encoding::psfm_ir)};
}

CtrlFuseNetImpl::CtrlFuseNetImpl(const ModelConfig& config) : config_(config) {
  const std::string problem = ValidateConfig(config);
  if (!problem.empty()) throw std::invalid_argument("model config " + config.name + ": " + problem);
  const int d = config.feature_dim;
  // Registration order follows the release's state_dict order.
  merge_v_ = register_module("merge_v", Conv1x1ReLU(2 * d + 1, d));
  merge_i_ = register_module("merge_i", Conv1x1ReLU(2 * d + 1, d));
  decoder_v_ = register_module("transformer_decoder_v", QueryDecoder(d, config.rpe_heads, config.num_queries));
  decoder_i_ = register_module("transformer_decoder_i", QueryDecoder(d, config.rpe_heads, config.num_queries));
  const int rows = config.token_rows(), cols = config.token_cols();
  psfm_vis_ =
      register_module("token2image1", PromptSemanticFusion(d, config.psfm_heads, config.psfm_groups, rows, cols));
  psfm_ir_ =
      register_module("token2image2", PromptSemanticFusion(d, config.psfm_heads, config.psfm_groups, rows, cols));
  extractor_vis_ = register_module("feature_extractor1", FeatureExtractor(config.extractor_channels, d));
  extractor_ir_ = register_module("feature_extractor2", FeatureExtractor(config.extractor_channels, d));
  image_decoder_ = register_module("image_decoder", ImageDecoder(d, config.decoder_channels));
  image_decoder_iv_ = register_module("image_decoder_iv", UnusedDecoderIV(d, config.decoder_channels));
  merge_2c_ = register_module("merge_2c", Conv1x1ReLU(2 * d, d));
  sam_model = register_module("sam_model", sam::Sam(config.sam));
}

torch::Tensor CtrlFuseNetImpl::SamEmbedding(const torch::Tensor& i_ref) {
  // As released: I_ref replicated to 3 channels, stretched (not
  // aspect-preserving) to the SAM input with align_corners, no normalisation.
  const int64_t s = config_.sam.img_size;
  auto x = F::interpolate(
      i_ref.expand({-1, 3, -1, -1}),
      F::InterpolateFuncOptions().size(std::vector<int64_t>{s, s}).mode(torch::kBilinear).align_corners(true));
  return sam_model->image_encoder(x);
}

torch::Tensor ReleaseMaskThreshold(const torch::Tensor& logits) { return torch::sigmoid(logits) > 0.5; }

Encoding CtrlFuseNetImpl::Encode(const torch::Tensor& vis, const torch::Tensor& ir) {
  if (vis.dim() != 4 || vis.sizes() != ir.sizes() || vis.size(1) != 3)
    throw std::invalid_argument("Encode: vis and ir must both be [B,3,H,W]");
  if (vis.size(2) % 2 || vis.size(3) % 2) throw std::invalid_argument("Encode: H and W must be even (pad first)");
  Encoding e;
  auto f_vis = extractor_vis_(vis);
  auto f_ir = extractor_ir_(ir);
  e.f_ref = merge_2c_(torch::cat({f_vis, f_ir}, 1));
  e.i_ref = image_decoder_(e.f_ref);
  const int g = config_.sam.grid();
  e.grid_ref = ToPromptGrid(e.f_ref, g);
  e.grid_vis = ToPromptGrid(f_vis, g);
  e.grid_ir = ToPromptGrid(f_ir, g);
  e.psfm_vis = psfm_vis_->Prepare(f_vis);
  e.psfm_ir = psfm_ir_->Prepare(f_ir);
  // SAM is frozen in the release; the embedding never carries gradients
  // into I_ref (the release computes it under no_grad).
  if (sam_trainable_ && is_training()) {
    e.image_embedding = SamEmbedding(e.i_ref.detach());
  } else {
    torch::NoGradGuard no_grad;
    e.image_embedding = SamEmbedding(e.i_ref.detach());
  }
  return e;
}

torch::Tensor CtrlFuseNetImpl::BranchLogits(const Encoding& e, const torch::Tensor& tokens) {
  sam::SparsePrompts prompts;
  prompts.tokens = tokens;
  auto [sparse, dense] = sam_model->prompt_encoder->forward(prompts, tokens.size(0));
  auto pred = sam_model->mask_decoder(e.image_embedding, sam_model->prompt_encoder->DensePositionalEncoding(), sparse,
                                      dense, /*multimask_output=*/false);
  return F::interpolate(pred.low_res_logits, F::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{e.f_ref.size(2), e.f_ref.size(3)})
                                                 .mode(torch::kBilinear)
                                                 .align_corners(true));
}

FusionOutput CtrlFuseNetImpl::Decode(const Encoding& e, const torch::Tensor& mask) {
  if (mask.dim() != 4 || mask.size(0) != e.f_ref.size(0) || mask.size(1) != 1 || mask.size(2) != e.f_ref.size(2) ||
      mask.size(3) != e.f_ref.size(3))
    throw std::invalid_argument("Decode: mask must be [B,1,H,W] matching the encoding");
  auto m = mask.to(e.f_ref.dtype());
  auto tokens_v = EncodeReferencePrompt(merge_v_, decoder_v_, e.grid_ref, e.grid_vis, m);
  auto tokens_i = EncodeReferencePrompt(merge_i_, decoder_i_, e.grid_ref, e.grid_ir, m);

  FusionOutput out;
  out.i_ref = e.i_ref;
  out.logit_mask_vis = BranchLogits(e, tokens_v);
  out.logit_mask_ir = BranchLogits(e, tokens_i);
  out.pred_mask_vis = ReleaseMaskThreshold(out.logit_mask_vis);
  out.pred_mask_ir = ReleaseMaskThreshold(out.logit_mask_ir);
  out.pred_mask = ReleaseMaskThreshold(torch::max(out.logit_mask_vis, out.logit_mask_ir));

  auto fp_vis = psfm_vis_->Fuse(tokens_v, e.psfm_vis);
  auto fp_ir = psfm_ir_->Fuse(tokens_i, e.psfm_ir);
  auto dt = e.f_ref.dtype();
  auto q = fp_vis * out.pred_mask_vis.to(dt) + fp_ir * out.pred_mask_ir.to(dt) + e.f_ref;
  out.fused = image_decoder_(q);
  return out;
}

FusionOutput CtrlFuseNetImpl::forward(const torch::Tensor& vis, const torch::Tensor& ir, const torch::Tensor& mask) {
  return Decode(Encode(vis, ir), mask);
}

}  // namespace ctrlfuse::model
