// Model configurations as data: one struct describes every width, depth and
// size of the network, so `vit_h` (the release), `vit_l`, `vit_b` and `tiny`
// are values, not code forks. Torch-free so any layer may include it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ctrlfuse::model {

struct SamConfig {
  // Image encoder (ViT).
  int img_size = 1024;  // square input side
  int patch = 16;
  int embed_dim = 1280;
  int depth = 32;
  int heads = 16;
  std::vector<int> global_attn_indexes{7, 15, 23, 31};
  int window = 14;
  int mlp_ratio = 4;
  // Prompt encoder and mask decoder (their width is the neck width).
  int out_chans = 256;
  int mask_in_chans = 16;
  int decoder_depth = 2;
  int decoder_heads = 8;
  int decoder_mlp_dim = 2048;
  int attn_downsample = 2;
  int num_multimask_outputs = 3;
  int iou_head_depth = 3;
  int iou_head_hidden = 256;

  // Side of the image embedding grid (64 for the official models).
  int grid() const { return img_size / patch; }
};

struct ModelConfig {
  std::string name;
  // Output channels of feature-extractor stages 0..3; stage 4 outputs
  // feature_dim. Release: 3->16 (conv), 16->32 (GRDB), 32->64 (GRDB),
  // 64->128 (conv), 128->256 (conv).
  std::vector<int> extractor_channels{16, 32, 64, 128};
  int feature_dim = 256;
  // Decoder widths after feature_dim; the last stage maps to 1 channel.
  std::vector<int> decoder_channels{128, 64, 32, 16};
  int num_queries = 50;  // the release uses 50 (the paper says 40)
  int rpe_heads = 4;
  int psfm_heads = 8;
  int psfm_groups = 8;
  SamConfig sam;

  // The PSFM reshapes the prompt tokens into a token_rows x token_cols map:
  // the most nearly square factorisation with rows <= cols (50 -> 5x10 as
  // in the release, 40 -> 5x8).
  int token_rows() const;
  int token_cols() const { return num_queries / token_rows(); }
};

ModelConfig VitHConfig();
ModelConfig VitLConfig();
ModelConfig VitBConfig();
ModelConfig TinyConfig();

// Looks a configuration up by name ("vit_h", "vit_l", "vit_b", "tiny");
// returns false when the name is unknown.
bool FindConfig(std::string_view name, ModelConfig* out);
std::vector<std::string> ConfigNames();

// Empty when the configuration is consistent, otherwise what is wrong.
std::string ValidateConfig(const ModelConfig& config);

}  // namespace ctrlfuse::model
