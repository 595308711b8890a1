// Pairing files across folders: the one rule every folder command uses
// (client batch/stream/load, eval, baselines, contact sheet, training data).
// Files pair by stem (the name without its extension), case-insensitively
// and whatever their extensions: ir/0001.PNG, vi/0001.jpg and mask/0001.png
// are one triple. Only regular files count; hidden files (".DS_Store") do
// not. A stem that two files of one folder share ("a.png", "a.jpg") pairs
// with nothing and is reported as ambiguous.
// Thread-safety: plain functions over the file system.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace ctrlfuse::common {

struct FilePair {
  std::string stem;                // as spelt in the first folder
  std::vector<std::string> paths;  // one per folder, in the folders' order
};

struct FolderPairing {
  // Stems present in every folder, sorted case-insensitively.
  std::vector<FilePair> pairs;
  // Per folder (same order as given): the file names whose stem some other
  // folder lacks, sorted.
  std::vector<std::vector<std::string>> unpaired;
  // "folder: a.jpg, a.png" for each stem two files of one folder share.
  std::vector<std::string> ambiguous;
};

// A folder that does not exist contributes no files (check it first with
// CheckFolder when that is an error).
FolderPairing PairByStem(const std::vector<std::string>& folders);

// The file of `folder` whose stem is `stem` (case-insensitive), or "" when
// there is none or more than one (for optional folders, e.g. masks).
std::string FileWithStem(const std::string& folder, const std::string& stem);

// OK when `path` is an existing folder; else INVALID_ARGUMENT naming the
// flag: "--ir_dir: not set", "--ir_dir: 'x' does not exist", "... is not a
// folder".
absl::Status CheckFolder(const std::string& flag, const std::string& path);

}  // namespace ctrlfuse::common
