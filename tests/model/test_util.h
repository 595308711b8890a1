// Helpers shared by the model tests.
#pragma once

#include <torch/torch.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/checkpoint/checkpoint.h"
#include "model/config.h"
#include "model/ctrlfuse_net.h"

namespace ctrlfuse::model::testing {

struct ManifestEntry {
  std::string name, shape, dtype;
  bool operator==(const ManifestEntry& o) const { return name == o.name && shape == o.shape && dtype == o.dtype; }
};

inline std::vector<ManifestEntry> ReadManifest(const std::string& file) {
  std::ifstream in(std::string(CTRLFUSE_TEST_DATA) + "/checkpoints/" + file);
  std::vector<ManifestEntry> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream s(line);
    ManifestEntry e;
    std::getline(s, e.name, '\t');
    std::getline(s, e.shape, '\t');
    std::getline(s, e.dtype, '\t');
    out.push_back(e);
  }
  return out;
}

inline std::string ShapeString(const torch::Tensor& t) {
  if (t.dim() == 0) return "scalar";
  std::string s;
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? "x" : "") + std::to_string(t.size(d));
  return s;
}

inline std::string DtypeString(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return "float32";
    case torch::kInt64:
      return "int64";
    default:
      return "other";
  }
}

inline std::vector<ManifestEntry> ModuleManifest(const torch::nn::Module& m, const std::string& prefix = "") {
  std::vector<ManifestEntry> out;
  for (const auto& [k, v] : StateDict(m)) out.push_back({prefix + k, ShapeString(v), DtypeString(v)});
  return out;
}

inline CtrlFuseNet MakeTiny(uint64_t seed = 1) {
  torch::manual_seed(seed);
  CtrlFuseNet net(TinyConfig());
  net->eval();
  return net;
}

// A smooth synthetic pair (batch b, size h x w) with values in [0,1].
inline std::pair<torch::Tensor, torch::Tensor> SyntheticPair(int64_t b, int64_t h, int64_t w, uint64_t seed = 7) {
  torch::manual_seed(seed);
  auto vis = torch::rand({b, 1, h, w}).expand({b, 3, h, w}).contiguous();
  auto ir = torch::rand({b, 1, h, w}).expand({b, 3, h, w}).contiguous();
  return {vis, ir};
}

inline torch::Tensor BoxMask(int64_t b, int64_t h, int64_t w, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  auto m = torch::zeros({b, 1, h, w});
  m.slice(2, y0, y1).slice(3, x0, x1).fill_(1);
  return m;
}

}  // namespace ctrlfuse::model::testing
