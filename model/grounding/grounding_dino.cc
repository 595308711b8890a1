#include "model/grounding/grounding_dino.h"

#include <cmath>
#include <string>

#include "model/grounding/positions.h"

namespace ctrlfuse::model::grounding {
namespace F = torch::nn::functional;

TextInputs BatchCaptions(const std::vector<const TokenizedCaption*>& captions, const torch::Device& device) {
  int64_t n = 0;
  for (const TokenizedCaption* c : captions) n = std::max(n, c->length());
  const int64_t b = static_cast<int64_t>(captions.size());
  TextInputs t;
  t.input_ids = torch::zeros({b, n}, torch::kLong);  // [PAD] is id 0 in BERT's vocabulary
  t.position_ids = torch::zeros({b, n}, torch::kLong);
  t.block_mask = torch::eye(n, torch::kBool).unsqueeze(0).repeat({b, 1, 1});
  t.token_mask = torch::zeros({b, n}, torch::kBool);
  for (int64_t i = 0; i < b; ++i) {
    const TokenizedCaption& c = *captions[i];
    const int64_t len = c.length();
    t.input_ids[i].narrow(0, 0, len).copy_(torch::tensor(c.input_ids, torch::kLong));
    t.position_ids[i].narrow(0, 0, len).copy_(torch::tensor(c.position_ids, torch::kLong));
    const torch::Tensor block =
        torch::from_blob(const_cast<uint8_t*>(c.block_mask.data()), {len, len}, torch::kUInt8).to(torch::kBool);
    t.block_mask[i].narrow(0, 0, len).narrow(1, 0, len).copy_(block);
    t.token_mask[i].narrow(0, 0, len).fill_(true);
  }
  t.input_ids = t.input_ids.to(device);
  t.position_ids = t.position_ids.to(device);
  t.block_mask = t.block_mask.to(device);
  t.token_mask = t.token_mask.to(device);
  return t;
}

GroundingDinoImpl::GroundingDinoImpl(const GroundingDinoConfig& c) : config_(c) {
  bert_ = register_module("bert", BertModel(c.bert));
  feat_map_ = register_module("feat_map", torch::nn::Linear(c.bert.hidden, c.hidden));
  auto backbone = register_module("backbone", std::make_shared<torch::nn::Module>());
  swin_ = backbone->register_module("0", SwinTransformer(c.swin));
  auto input_proj = register_module("input_proj", std::make_shared<torch::nn::Module>());
  for (int l = 0; l < c.levels; ++l) {
    auto seq = input_proj->register_module(std::to_string(l), std::make_shared<torch::nn::Module>());
    const size_t outs = c.swin.out_indices.size();
    const int in = c.swin.stage_dim(c.swin.out_indices[std::min<size_t>(l, outs - 1)]);
    const bool extra = static_cast<size_t>(l) >= outs;  // strided 3x3 on the last stage (the release has one)
    TORCH_CHECK(!extra || static_cast<size_t>(l) == outs, "GroundingDINO: one extra level at most");
    proj_conv_.push_back(seq->register_module(
        "0", torch::nn::Conv2d(
                 torch::nn::Conv2dOptions(in, c.hidden, extra ? 3 : 1).stride(extra ? 2 : 1).padding(extra ? 1 : 0))));
    proj_norm_.push_back(seq->register_module("1", torch::nn::GroupNorm(32, c.hidden)));
  }
  auto transformer = register_module("transformer", std::make_shared<torch::nn::Module>());
  level_embed_ = transformer->register_parameter("level_embed", torch::zeros({c.levels, c.hidden}));
  encoder_ = transformer->register_module("encoder", GroundingEncoder(c));
  bbox_embed_ = sam::MLP(c.hidden, c.hidden, 4, 3);
  decoder_ = transformer->register_module("decoder", GroundingDecoder(c, bbox_embed_));
  tgt_embed_ = transformer->register_module("tgt_embed", torch::nn::Embedding(c.queries, c.hidden));
  enc_output_ = transformer->register_module("enc_output", torch::nn::Linear(c.hidden, c.hidden));
  enc_output_norm_ =
      transformer->register_module("enc_output_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden})));
  enc_out_bbox_embed_ = transformer->register_module("enc_out_bbox_embed", sam::MLP(c.hidden, c.hidden, 4, 3));
  auto bbox = register_module("bbox_embed", std::make_shared<torch::nn::Module>());
  bbox->register_module("0", bbox_embed_);
}

TextState GroundingDinoImpl::EncodeText(const TextInputs& text) {
  TextState s;
  s.features = feat_map_(bert_(text.input_ids, text.position_ids, text.block_mask));
  s.padding = ~text.token_mask;
  s.position_ids = text.position_ids;
  s.block_mask = text.block_mask;
  return s;
}

TextState StackTextStates(const std::vector<TextState>& states) {
  int64_t n = 0;
  for (const TextState& s : states) n = std::max(n, s.features.size(1));
  std::vector<torch::Tensor> features, padding, positions, blocks;
  for (const TextState& s : states) {
    const int64_t pad = n - s.features.size(1);
    features.push_back(F::pad(s.features, F::PadFuncOptions({0, 0, 0, pad})));
    padding.push_back(F::pad(s.padding.to(torch::kUInt8), F::PadFuncOptions({0, pad}).value(1)).to(torch::kBool));
    positions.push_back(F::pad(s.position_ids, F::PadFuncOptions({0, pad})));
    torch::Tensor block = torch::eye(n, s.block_mask.options()).unsqueeze(0).clone();
    block.narrow(1, 0, n - pad).narrow(2, 0, n - pad).copy_(s.block_mask);
    blocks.push_back(block);
  }
  return {torch::cat(features), torch::cat(padding), torch::cat(positions), torch::cat(blocks)};
}

torch::Tensor ContrastiveLogits(const torch::Tensor& x, const TextState& text, int max_text_len) {
  torch::Tensor res = torch::matmul(x, text.features.transpose(-1, -2));
  res = res.masked_fill(text.padding.unsqueeze(1), -INFINITY);
  const int64_t n = res.size(-1);
  TORCH_CHECK(n <= max_text_len, "GroundingDINO: ", n, " text tokens exceed ", max_text_len);
  if (n == max_text_len) return res;
  return F::pad(res, F::PadFuncOptions({0, max_text_len - n}).value(-INFINITY));
}

namespace {

// The padding mask resized to a feature map (F.interpolate, nearest).
torch::Tensor ResizeMask(const torch::Tensor& padding, int64_t h, int64_t w) {
  return F::interpolate(padding.unsqueeze(0).to(torch::kFloat),
                        F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kNearest))
      .to(torch::kBool)
      .squeeze(0);
}

// get_valid_ratio: (w, h) valid fraction per image, from the first row/column.
torch::Tensor ValidRatio(const torch::Tensor& mask) {
  const int64_t h = mask.size(1), w = mask.size(2);
  const torch::Tensor valid_h = (~mask.select(2, 0)).sum(1).to(torch::kFloat) / h;
  const torch::Tensor valid_w = (~mask.select(1, 0)).sum(1).to(torch::kFloat) / w;
  return torch::stack({valid_w, valid_h}, -1);
}

// gen_encoder_output_proposals: memory with padded/invalid positions zeroed,
// and unsigmoided proposals (+inf there).
std::pair<torch::Tensor, torch::Tensor> EncoderProposals(const torch::Tensor& memory, const torch::Tensor& padding,
                                                         const LevelShapes& shapes) {
  const int64_t b = memory.size(0);
  std::vector<torch::Tensor> proposals;
  const auto opts = memory.options().dtype(torch::kFloat);
  for (int l = 0; l < shapes.levels(); ++l) {
    const int64_t h = shapes.h[l], w = shapes.w[l];
    const torch::Tensor m = padding.narrow(1, shapes.start[l], h * w).view({b, h, w});
    const torch::Tensor valid_h = (~m.select(2, 0)).sum(1), valid_w = (~m.select(1, 0)).sum(1);
    const torch::Tensor gy = torch::linspace(0, h - 1, h, opts).view({h, 1}).expand({h, w});
    const torch::Tensor gx = torch::linspace(0, w - 1, w, opts).view({1, w}).expand({h, w});
    const torch::Tensor grid = torch::stack({gx, gy}, -1).unsqueeze(0).expand({b, h, w, 2});
    const torch::Tensor scale = torch::stack({valid_w, valid_h}, 1).view({b, 1, 1, 2});
    const torch::Tensor xy = (grid + 0.5) / scale;
    const torch::Tensor wh = torch::ones_like(xy) * 0.05 * std::pow(2.0, l);
    proposals.push_back(torch::cat({xy, wh}, -1).view({b, -1, 4}));
  }
  torch::Tensor p = torch::cat(proposals, 1);
  const torch::Tensor valid = ((p > 0.01) & (p < 0.99)).all(-1, true);
  p = torch::log(p / (1 - p));
  p = p.masked_fill(padding.unsqueeze(-1), INFINITY).masked_fill(~valid, INFINITY);
  const torch::Tensor out = memory.masked_fill(padding.unsqueeze(-1), 0).masked_fill(~valid, 0);
  return {out, p.to(memory.dtype())};
}

}  // namespace

GroundingOutput GroundingDinoImpl::forward(const torch::Tensor& images, const torch::Tensor& padding_in,
                                           const TextState& text) {
  const int64_t b = images.size(0);
  const torch::Tensor padding =
      padding_in.defined() ? padding_in
                           : torch::zeros({b, images.size(2), images.size(3)}, images.options().dtype(torch::kBool));
  std::vector<torch::Tensor> features = swin_(images);
  std::vector<torch::Tensor> srcs, masks;
  for (int l = 0; l < config_.levels; ++l) {
    const bool extra = static_cast<size_t>(l) >= features.size();
    srcs.push_back(proj_norm_[l](proj_conv_[l](extra ? features.back() : features[l])));
    masks.push_back(ResizeMask(padding, srcs.back().size(2), srcs.back().size(3)));
  }
  // Flatten the levels: [B,S,C] tokens, positions with level embeddings.
  LevelShapes shapes;
  std::vector<torch::Tensor> flat, flat_pos, flat_mask, ratios;
  int64_t start = 0;
  for (int l = 0; l < config_.levels; ++l) {
    const int64_t h = srcs[l].size(2), w = srcs[l].size(3);
    shapes.h.push_back(h);
    shapes.w.push_back(w);
    shapes.start.push_back(start);
    start += h * w;
    const torch::Tensor pos =
        ImageSinePositions(masks[l], config_.hidden / 2, config_.pe_temperature).to(srcs[l].dtype());
    flat.push_back(srcs[l].flatten(2).transpose(1, 2));
    flat_pos.push_back(pos.flatten(2).transpose(1, 2) + level_embed_[l].view({1, 1, -1}));
    flat_mask.push_back(masks[l].flatten(1));
    ratios.push_back(ValidRatio(masks[l]));
  }
  const torch::Tensor src = torch::cat(flat, 1), pos = torch::cat(flat_pos, 1), mask = torch::cat(flat_mask, 1);
  const torch::Tensor valid_ratios = torch::stack(ratios, 1).to(src.dtype());
  auto [memory, words] = encoder_(src, pos, shapes, valid_ratios, mask, text);
  TextState enhanced = text;
  enhanced.features = words;

  // Two-stage query selection.
  auto [proposal_memory, proposals] = EncoderProposals(memory, mask, shapes);
  const torch::Tensor enc_memory = enc_output_norm_(enc_output_(proposal_memory));
  const torch::Tensor scores = std::get<0>(ContrastiveLogits(enc_memory, enhanced, config_.max_text_len).max(-1));
  const torch::Tensor coords = enc_out_bbox_embed_(enc_memory) + proposals;
  const int64_t k = std::min<int64_t>(config_.queries, scores.size(1));
  TORCH_CHECK(k == config_.queries, "GroundingDINO: the image gives ", scores.size(1), " positions for ",
              config_.queries, " queries");
  const torch::Tensor selected = std::get<1>(torch::topk(scores, k, 1));
  const torch::Tensor reference = torch::gather(coords, 1, selected.unsqueeze(-1).expand({b, k, 4}));
  const torch::Tensor tgt = tgt_embed_->weight.unsqueeze(0).expand({b, k, config_.hidden});
  const DecoderOutput dec =
      decoder_(tgt, reference, memory, mask, shapes, valid_ratios, enhanced.features, enhanced.padding);

  GroundingOutput out;
  out.boxes = (bbox_embed_(dec.hidden) + InverseSigmoid(dec.reference)).sigmoid();
  out.logits = ContrastiveLogits(dec.hidden, enhanced, config_.max_text_len);
  out.selected = selected;
  out.memory = memory;
  out.text = enhanced.features;
  return out;
}

}  // namespace ctrlfuse::model::grounding
