#include "client/folder_input.h"

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/folder_pairs.h"

namespace ctrlfuse::client {
namespace fs = std::filesystem;

absl::StatusOr<FolderInput> ReadFolders(const std::string& ir_dir, const std::string& vis_dir,
                                        const std::string& mask_dir) {
  if (auto s = common::CheckFolder("ir_dir", ir_dir); !s.ok()) return s;
  if (auto s = common::CheckFolder("vis_dir", vis_dir); !s.ok()) return s;
  if (!mask_dir.empty())
    if (auto s = common::CheckFolder("mask_dir", mask_dir); !s.ok()) return s;
  const auto pairing = common::PairByStem({ir_dir, vis_dir});
  FolderInput in;
  for (const auto& p : pairing.pairs) {
    FolderPair f{p.stem, p.paths[0], p.paths[1], ""};
    if (!mask_dir.empty()) {
      f.mask = common::FileWithStem(mask_dir, p.stem);
      if (f.mask.empty())
        in.problems.push_back(absl::StrCat(p.stem, ": no mask with this stem in --mask_dir (fused without a prompt)"));
    }
    in.pairs.push_back(std::move(f));
  }
  for (const auto& name : pairing.unpaired[0])
    in.problems.push_back(
        absl::StrCat(name, ": no visible image with the stem '", fs::path(name).stem().string(), "' in --vis_dir"));
  for (const auto& name : pairing.unpaired[1])
    in.problems.push_back(
        absl::StrCat(name, ": no infrared image with the stem '", fs::path(name).stem().string(), "' in --ir_dir"));
  for (const auto& a : pairing.ambiguous) in.problems.push_back("files sharing a stem: " + a);
  return in;
}

absl::Status PrepareOutDir(const std::string& out_dir) {
  if (out_dir.empty()) return absl::InvalidArgumentError("--out_dir: not set");
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    return absl::InvalidArgumentError(absl::StrCat("--out_dir: '", out_dir, "' exists and is not a folder"));
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--out_dir: cannot create '", out_dir, "': ", ec.message()));
  return absl::OkStatus();
}

}  // namespace ctrlfuse::client
