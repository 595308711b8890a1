#include "common/folder_pairs.h"

#include <filesystem>
#include <set>
#include <system_error>

namespace ctrlfuse::common {
namespace fs = std::filesystem;

namespace {

std::set<std::string> RegularFiles(const std::string& folder) {
  std::set<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file()) out.insert(it->path().filename().string());
  return out;
}

}  // namespace

FolderPairing PairByName(const std::vector<std::string>& folders) {
  std::vector<std::set<std::string>> files;
  files.reserve(folders.size());
  for (const auto& f : folders) files.push_back(RegularFiles(f));
  FolderPairing out;
  out.unpaired.resize(folders.size());
  for (size_t i = 0; i < files.size(); ++i)
    for (const auto& name : files[i]) {
      bool everywhere = true;
      for (size_t k = 0; k < files.size(); ++k) everywhere = everywhere && files[k].count(name) > 0;
      if (!everywhere) {
        out.unpaired[i].push_back(name);
      } else if (i == 0) {
        out.names.push_back(name);
      }
    }
  return out;
}

std::string FileIn(const std::string& folder, const std::string& name) {
  if (folder.empty()) return "";
  const fs::path p = fs::path(folder) / name;
  std::error_code ec;
  return fs::is_regular_file(p, ec) ? p.string() : "";
}

}  // namespace ctrlfuse::common
