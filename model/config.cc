#include "model/config.h"

#include <cmath>
#include <sstream>

namespace ctrlfuse::model {

int ModelConfig::token_rows() const {
  int best = 1;
  for (int r = 1; r * r <= num_queries; ++r) {
    if (num_queries % r == 0) best = r;
  }
  return best;
}

namespace {
ModelConfig Official(std::string name, int embed, int depth, int heads, std::vector<int> global) {
  ModelConfig c;
  c.name = std::move(name);
  c.sam.embed_dim = embed;
  c.sam.depth = depth;
  c.sam.heads = heads;
  c.sam.global_attn_indexes = std::move(global);
  return c;
}
}  // namespace

ModelConfig VitHConfig() { return Official("vit_h", 1280, 32, 16, {7, 15, 23, 31}); }
ModelConfig VitLConfig() { return Official("vit_l", 1024, 24, 16, {5, 11, 17, 23}); }
ModelConfig VitBConfig() { return Official("vit_b", 768, 12, 12, {2, 5, 8, 11}); }

// Same structure as the release, small enough to run, test and train on a
// 2-core CPU: 32-wide features, 8 prompt queries, a 2-block ViT on a 512 px
// SAM input (32x32 embedding grid, 8x8 windows). The grid must stay fine:
// the RPE samples the mask onto it with nearest neighbour, and an 8x8 grid
// (tried first) misses small targets entirely, so the prompt never arrives.
ModelConfig TinyConfig() {
  ModelConfig c;
  c.name = "tiny";
  c.extractor_channels = {8, 16, 16, 32};
  c.feature_dim = 32;
  c.decoder_channels = {16, 16, 8, 8};
  c.num_queries = 8;
  c.rpe_heads = 4;
  c.psfm_heads = 4;
  c.psfm_groups = 8;
  SamConfig& s = c.sam;
  s.img_size = 512;
  s.patch = 16;
  s.embed_dim = 64;
  s.depth = 2;
  s.heads = 2;
  s.global_attn_indexes = {1};
  s.window = 8;
  s.out_chans = 32;
  s.decoder_heads = 2;
  s.decoder_mlp_dim = 128;
  s.iou_head_hidden = 32;
  return c;
}

bool FindConfig(std::string_view name, ModelConfig* out) {
  for (auto make : {VitHConfig, VitLConfig, VitBConfig, TinyConfig}) {
    ModelConfig c = make();
    if (c.name == name) {
      *out = std::move(c);
      return true;
    }
  }
  return false;
}

std::vector<std::string> ConfigNames() { return {"vit_h", "vit_l", "vit_b", "tiny"}; }

std::string ValidateConfig(const ModelConfig& c) {
  std::ostringstream err;
  if (c.extractor_channels.size() != 4) err << "extractor_channels needs 4 entries; ";
  if (c.decoder_channels.size() != 4) err << "decoder_channels needs 4 entries; ";
  if (c.feature_dim != c.sam.out_chans) err << "feature_dim must equal sam.out_chans (prompt tokens feed SAM); ";
  if (c.feature_dim % 2 != 0) err << "feature_dim must be even (sine encoding); ";
  if (c.feature_dim % c.rpe_heads != 0) err << "feature_dim % rpe_heads != 0; ";
  if (c.feature_dim % c.psfm_heads != 0) err << "feature_dim % psfm_heads != 0; ";
  if (c.feature_dim % c.psfm_groups != 0) err << "feature_dim % psfm_groups != 0; ";
  if (c.num_queries < 1) err << "num_queries must be >= 1; ";
  if (c.sam.img_size % c.sam.patch != 0) err << "sam.img_size % sam.patch != 0; ";
  if (c.sam.embed_dim % c.sam.heads != 0) err << "sam.embed_dim % sam.heads != 0; ";
  if (c.sam.out_chans % 8 != 0) err << "sam.out_chans must be a multiple of 8; ";
  if ((c.sam.out_chans / c.sam.attn_downsample) % c.sam.decoder_heads != 0)
    err << "sam decoder internal dim % decoder_heads != 0; ";
  for (int i : c.sam.global_attn_indexes)
    if (i < 0 || i >= c.sam.depth) err << "global attention index " << i << " out of range; ";
  return err.str();
}

}  // namespace ctrlfuse::model
