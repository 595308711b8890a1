#include "model/sam/prompt_encoder.h"

#include <cmath>

namespace ctrlfuse::model::sam {

PositionEmbeddingRandomImpl::PositionEmbeddingRandomImpl(int num_feats) {
  gaussian_ = register_buffer("positional_encoding_gaussian_matrix", torch::randn({2, num_feats}));
}

torch::Tensor PositionEmbeddingRandomImpl::Encode(torch::Tensor coords) {
  coords = torch::matmul(2 * coords - 1, gaussian_.to(coords.dtype())) * (2 * M_PI);
  return torch::cat({torch::sin(coords), torch::cos(coords)}, -1);
}

torch::Tensor PositionEmbeddingRandomImpl::Grid(int h, int w) {
  auto opts = gaussian_.options();
  auto y = (torch::arange(h, opts) + 0.5) / h;
  auto x = (torch::arange(w, opts) + 0.5) / w;
  auto yy = y.view({h, 1}).expand({h, w}), xx = x.view({1, w}).expand({h, w});
  return Encode(torch::stack({xx, yy}, -1)).permute({2, 0, 1});
}

torch::Tensor PositionEmbeddingRandomImpl::WithCoords(const torch::Tensor& points, int h, int w) {
  auto scale = torch::tensor({1.0 / w, 1.0 / h}, points.options());
  return Encode(points * scale);
}

PromptEncoderImpl::PromptEncoderImpl(const SamConfig& c) : dim_(c.out_chans), grid_(c.grid()), img_size_(c.img_size) {
  pe_ = register_module("pe_layer", PositionEmbeddingRandom(c.out_chans / 2));
  auto list = register_module("point_embeddings", torch::nn::ModuleList());
  for (int i = 0; i < 4; ++i) {
    point_embeddings_.emplace_back(1, dim_);
    list->push_back(point_embeddings_.back());
  }
  not_a_point_ = register_module("not_a_point_embed", torch::nn::Embedding(1, dim_));
  const int m = c.mask_in_chans;
  mask_downscaling_ =
      register_module("mask_downscaling",
                      torch::nn::Sequential(
                          torch::nn::Conv2d(torch::nn::Conv2dOptions(1, m / 4, 2).stride(2)), LayerNorm2d(m / 4),
                          torch::nn::GELU(), torch::nn::Conv2d(torch::nn::Conv2dOptions(m / 4, m, 2).stride(2)),
                          LayerNorm2d(m), torch::nn::GELU(), torch::nn::Conv2d(torch::nn::Conv2dOptions(m, dim_, 1))));
  no_mask_ = register_module("no_mask_embed", torch::nn::Embedding(1, dim_));
}

torch::Tensor PromptEncoderImpl::DensePositionalEncoding() { return pe_->Grid(grid_, grid_).unsqueeze(0); }

std::pair<torch::Tensor, torch::Tensor> PromptEncoderImpl::forward(const SparsePrompts& p, int64_t batch) {
  auto opts = no_mask_->weight.options();
  std::vector<torch::Tensor> sparse;
  if (p.tokens.defined()) sparse.push_back(p.tokens);
  if (p.points.defined()) {
    auto pts = p.points + 0.5;  // pixel centres
    auto labels = p.point_labels;
    if (!p.boxes.defined()) {  // SAM pads with a "not a point" when no box follows
      pts = torch::cat({pts, torch::zeros({pts.size(0), 1, 2}, pts.options())}, 1);
      labels = torch::cat({labels, -torch::ones({labels.size(0), 1}, labels.options())}, 1);
    }
    auto emb = pe_->WithCoords(pts, img_size_, img_size_);
    auto l = labels.unsqueeze(-1);
    emb = torch::where(l == -1, torch::zeros_like(emb), emb);
    emb = emb + (l == -1).to(emb.dtype()) * not_a_point_->weight;
    emb = emb + (l == 0).to(emb.dtype()) * point_embeddings_[0]->weight;
    emb = emb + (l == 1).to(emb.dtype()) * point_embeddings_[1]->weight;
    sparse.push_back(emb);
  }
  if (p.boxes.defined()) {
    auto corners = (p.boxes + 0.5).reshape({-1, 2, 2});
    auto emb = pe_->WithCoords(corners, img_size_, img_size_);
    auto add = torch::stack({point_embeddings_[2]->weight[0], point_embeddings_[3]->weight[0]});
    sparse.push_back(emb + add.unsqueeze(0));
  }
  auto sp = sparse.empty() ? torch::empty({batch, 0, dim_}, opts) : torch::cat(sparse, 1);
  auto dense = p.masks.defined() ? mask_downscaling_->forward(p.masks)
                                 : no_mask_->weight.view({1, -1, 1, 1}).expand({batch, -1, grid_, grid_});
  return {sp, dense};
}

}  // namespace ctrlfuse::model::sam
