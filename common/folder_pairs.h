// Pairing files across folders by file name: the one rule every folder
// command uses (client batch/stream/load, eval, baselines, contact sheet,
// training data): a pair is the same file name (extension included) in
// each folder; only regular files count; names come sorted.
// Thread-safety: plain functions over the file system.
#pragma once

#include <string>
#include <vector>

namespace ctrlfuse::common {

struct FolderPairing {
  // Names present in every folder, sorted.
  std::vector<std::string> names;
  // Per folder (same order as given): its names missing from some other
  // folder, sorted.
  std::vector<std::vector<std::string>> unpaired;
};

// A folder that does not exist contributes no files.
FolderPairing PairByName(const std::vector<std::string>& folders);

// The path of `name` in `folder` when that regular file exists, else ""
// (for optional folders, e.g. masks).
std::string FileIn(const std::string& folder, const std::string& name);

}  // namespace ctrlfuse::common
