// GroundingDINO's sizes as data (torch-free, so any layer may include it):
// `swint_ogc` is the release (groundingdino_swint_ogc.pth: Swin-T, BERT-base,
// 6+6 layers, 900 queries), `tiny` the same structure at small widths for
// tests and CPU demos.
#pragma once

#include <string>
#include <vector>

namespace ctrlfuse::model::grounding {

struct BertConfig {
  int vocab_size = 30522;
  int hidden = 768;
  int layers = 12;
  int heads = 12;
  int intermediate = 3072;
  int max_positions = 512;
  int type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
};

struct SwinConfig {
  int patch = 4;
  int embed_dim = 96;
  std::vector<int> depths{2, 2, 6, 2};
  std::vector<int> heads{3, 6, 12, 24};
  int window = 7;
  int mlp_ratio = 4;
  std::vector<int> out_indices{1, 2, 3};  // stages whose outputs (normed) leave
  int stage_dim(int i) const { return embed_dim << i; }
};

struct GroundingDinoConfig {
  std::string name;
  BertConfig bert;
  SwinConfig swin;
  int hidden = 256;  // d_model
  int heads = 8;     // deformable and decoder attention
  int ffn = 2048;    // deformable encoder and decoder FFN
  int encoder_layers = 6;
  int decoder_layers = 6;
  int levels = 4;  // three backbone stages + one strided conv
  int points = 4;  // sampling points per head and level
  int queries = 900;
  int max_text_len = 256;
  double pe_temperature = 20;  // image sine positions (pe_temperatureH/W)
  // Image-text fusion: embed ffn/2 with heads/2 heads; text enhancer:
  // heads/2 heads, FFN ffn/2 (as the release derives them).
  int fusion_dim() const { return ffn / 2; }
  int fusion_heads() const { return heads / 2; }
  int text_heads() const { return heads / 2; }
  int text_ffn() const { return ffn / 2; }
};

GroundingDinoConfig SwinTOgcConfig();  // the release
GroundingDinoConfig GroundingTinyConfig();
// "swint_ogc" or "tiny"; false for another name.
bool GroundingConfigByName(const std::string& name, GroundingDinoConfig* out);

}  // namespace ctrlfuse::model::grounding
