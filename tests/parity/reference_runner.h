// Runs a parity reference script (tests/parity/*.py, in the venv's Python)
// and reads back the one torch.save file it writes: 'state.<name>' a
// state_dict, 'in.<name>' inputs, 'out.<name>' outputs. Shared by the
// parity tests; a test fails with the script's log when nothing came back.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "model/checkpoint/checkpoint.h"
#include "model/config.h"

namespace ctrlfuse::model::parity {

struct Reference {
  std::map<std::string, torch::Tensor> in, out;
  NamedTensors state;
  std::string log;
};

// `script` is under tests/parity/ unless it names its folder under tests/
// ("grounding/x.py"); `args` follow the output path on the command line;
// `tag` names the file.
inline Reference RunReference(const std::string& script, const std::string& args, const std::string& tag) {
  namespace fs = std::filesystem;
  const fs::path file = fs::temp_directory_path() / ("ctrlfuse_" + tag + "_" + std::to_string(getpid()) + ".pth");
  const std::string path = std::string(CTRLFUSE_SOURCE_DIR) + "/tests/" +
                           (script.find('/') == std::string::npos ? "parity/" + script : script);
  const std::string cmd = std::string(CTRLFUSE_PYTHON) + " " + path + " " + file.string() + " " + args + " 2>&1";
  Reference ref;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p)) ref.log += buf;
    pclose(p);
  }
  if (!fs::exists(file)) return ref;
  auto root = ckpt::ReadTorchFile(file.string());
  fs::remove(file);
  for (const auto& [k, v] : root->dict) {
    const std::string& key = k->s;
    if (key.rfind("state.", 0) == 0) ref.state.emplace_back(key.substr(6), v->tensor);
    if (key.rfind("in.", 0) == 0) ref.in[key.substr(3)] = v->tensor;
    if (key.rfind("out.", 0) == 0) ref.out[key.substr(4)] = v->tensor;
  }
  return ref;
}

// " key=value ..." for official_sam.py.
inline std::string SamConfigArgs(const SamConfig& c) {
  std::string global;
  for (int g : c.global_attn_indexes) global += (global.empty() ? "" : ",") + std::to_string(g);
  auto kv = [](const char* k, int v) { return std::string(" ") + k + "=" + std::to_string(v); };
  return kv("img_size", c.img_size) + kv("patch", c.patch) + kv("embed_dim", c.embed_dim) + kv("depth", c.depth) +
         kv("heads", c.heads) + kv("window", c.window) + " global=" + global + kv("out_chans", c.out_chans) +
         kv("mask_in_chans", c.mask_in_chans) + kv("decoder_depth", c.decoder_depth) +
         kv("decoder_heads", c.decoder_heads) + kv("decoder_mlp_dim", c.decoder_mlp_dim) +
         kv("iou_head_depth", c.iou_head_depth) + kv("iou_head_hidden", c.iou_head_hidden);
}

inline double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e30;
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace ctrlfuse::model::parity
