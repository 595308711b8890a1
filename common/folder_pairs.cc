#include "common/folder_pairs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ctrlfuse::common {
namespace fs = std::filesystem;

namespace {

// Lower-cased stem -> the folder's file names with that stem.
std::map<std::string, std::vector<std::string>> FilesByStem(const std::string& folder) {
  std::map<std::string, std::vector<std::string>> out;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code file_ec;
    if (name.empty() || name[0] == '.' || !it->is_regular_file(file_ec)) continue;
    out[absl::AsciiStrToLower(it->path().stem().string())].push_back(name);
  }
  for (auto& [stem, names] : out) std::sort(names.begin(), names.end());
  return out;
}

}  // namespace

FolderPairing PairByStem(const std::vector<std::string>& folders) {
  std::vector<std::map<std::string, std::vector<std::string>>> files;
  files.reserve(folders.size());
  for (const auto& f : folders) files.push_back(FilesByStem(f));
  FolderPairing out;
  out.unpaired.resize(folders.size());
  for (size_t i = 0; i < files.size(); ++i)
    for (const auto& [key, names] : files[i]) {
      if (names.size() > 1) {
        out.ambiguous.push_back(absl::StrCat(folders[i], ": ", absl::StrJoin(names, ", ")));
        continue;
      }
      bool everywhere = true;
      for (size_t k = 0; k < files.size(); ++k) {
        auto it = files[k].find(key);
        everywhere = everywhere && it != files[k].end() && it->second.size() == 1;
      }
      if (!everywhere) {
        out.unpaired[i].push_back(names[0]);
      } else if (i == 0) {
        FilePair p;
        p.stem = fs::path(names[0]).stem().string();
        for (size_t k = 0; k < files.size(); ++k)
          p.paths.push_back((fs::path(folders[k]) / files[k].at(key)[0]).string());
        out.pairs.push_back(std::move(p));
      }
    }
  for (auto& u : out.unpaired) std::sort(u.begin(), u.end());
  return out;
}

std::string FileWithStem(const std::string& folder, const std::string& stem) {
  if (folder.empty()) return "";
  const auto files = FilesByStem(folder);
  auto it = files.find(absl::AsciiStrToLower(stem));
  if (it == files.end() || it->second.size() != 1) return "";
  return (fs::path(folder) / it->second[0]).string();
}

absl::Status CheckFolder(const std::string& flag, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, ": not set"));
  std::error_code ec;
  if (!fs::exists(path, ec))
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", path, "' does not exist"));
  if (!fs::is_directory(path, ec))
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", path, "' is not a folder"));
  return absl::OkStatus();
}

}  // namespace ctrlfuse::common
