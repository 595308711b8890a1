// The pairs of a folder command (batch, stream, load): infrared and visible
// images paired by stem (common/folder_pairs.h), with masks of the same stem
// when a mask folder is given. Every command reports the same problems the
// same way and exits 1 when there is any.
// Thread-safety: plain functions over the file system.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ctrlfuse::client {

struct FolderPair {
  std::string name;  // the stem: output and request id
  std::string ir, vis;
  std::string mask;  // "" when no mask folder was given
};

struct FolderInput {
  std::vector<FolderPair> pairs;
  // One line each: files with no partner (on both sides), files sharing a
  // stem, pairs without a mask in the mask folder.
  std::vector<std::string> problems;
};

// INVALID_ARGUMENT naming the flag when --ir_dir or --vis_dir is not set or
// not a folder, or --mask_dir is set and is not one.
absl::StatusOr<FolderInput> ReadFolders(const std::string& ir_dir, const std::string& vis_dir,
                                        const std::string& mask_dir);

// OK when `out_dir` is a folder or can be made one; INVALID_ARGUMENT naming
// --out_dir otherwise (a file is in the way, no permission).
absl::Status PrepareOutDir(const std::string& out_dir);

}  // namespace ctrlfuse::client
