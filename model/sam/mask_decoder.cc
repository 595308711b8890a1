#include "model/sam/mask_decoder.h"

namespace ctrlfuse::model::sam {

MaskDecoderImpl::MaskDecoderImpl(const SamConfig& c) : num_mask_tokens_(c.num_multimask_outputs + 1) {
  const int d = c.out_chans;
  transformer_ = register_module(
      "transformer", TwoWayTransformer(c.decoder_depth, d, c.decoder_heads, c.decoder_mlp_dim, c.attn_downsample));
  iou_token_ = register_module("iou_token", torch::nn::Embedding(1, d));
  mask_tokens_ = register_module("mask_tokens", torch::nn::Embedding(num_mask_tokens_, d));
  upscaling_ = register_module(
      "output_upscaling",
      torch::nn::Sequential(torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(d, d / 4, 2).stride(2)),
                            LayerNorm2d(d / 4), torch::nn::GELU(),
                            torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(d / 4, d / 8, 2).stride(2)),
                            torch::nn::GELU()));
  auto list = register_module("output_hypernetworks_mlps", torch::nn::ModuleList());
  for (int i = 0; i < num_mask_tokens_; ++i) {
    hypernetworks_.emplace_back(d, d, d / 8, 3);
    list->push_back(hypernetworks_.back());
  }
  iou_head_ = register_module("iou_prediction_head", MLP(d, c.iou_head_hidden, num_mask_tokens_, c.iou_head_depth));
}

MaskPrediction MaskDecoderImpl::forward(const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
                                        const torch::Tensor& sparse, const torch::Tensor& dense,
                                        bool multimask_output) {
  const int64_t b = sparse.size(0);
  auto out_tokens = torch::cat({iou_token_->weight, mask_tokens_->weight}, 0);
  auto tokens = torch::cat({out_tokens.unsqueeze(0).expand({b, -1, -1}), sparse}, 1);
  auto src = image_embeddings + dense;
  const int64_t c = src.size(1), h = src.size(2), w = src.size(3);
  auto [hs, keys] = transformer_(src, image_pe, tokens);
  auto iou_out = hs.select(1, 0);
  auto upscaled = upscaling_->forward(keys.transpose(1, 2).reshape({b, c, h, w}));
  std::vector<torch::Tensor> hyper;
  hyper.reserve(size_t(num_mask_tokens_));
  for (int i = 0; i < num_mask_tokens_; ++i) hyper.push_back(hypernetworks_[i](hs.select(1, 1 + i)));
  auto hyper_in = torch::stack(hyper, 1);  // [B,M,C/8]
  const int64_t uc = upscaled.size(1), uh = upscaled.size(2), uw = upscaled.size(3);
  auto masks = torch::matmul(hyper_in, upscaled.view({b, uc, uh * uw})).view({b, -1, uh, uw});
  auto iou = iou_head_(iou_out);
  using torch::indexing::Slice;
  auto sel = multimask_output ? Slice(1, torch::indexing::None) : Slice(0, 1);
  return {masks.index({Slice(), sel}), iou.index({Slice(), sel})};
}

}  // namespace ctrlfuse::model::sam
