// Checkpoint reading benchmark (not a test): reads a torch.save file with
// this project's reader (model/checkpoint/torch_pickle) or with LibTorch's own
// torch::pickle_load, and prints whether it could and its peak RSS. One
// reader per process, so the peak is the reader's own.
// usage: checkpoint_read_bench ours|stock FILE.pth
#include <sys/resource.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "model/checkpoint/torch_pickle.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ours|stock FILE.pth\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1], path = argv[2];
  std::string result;
  try {
    if (mode == "stock") {
      // pickle_load takes the whole file as one buffer.
      std::ifstream f(path, std::ios::binary);
      std::vector<char> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      auto v = torch::pickle_load(data);
      result = "read, " +
               std::string(v.isGenericDict() ? std::to_string(v.toGenericDict().size()) + " entries" : v.tagKind());
    } else {
      auto v = ctrlfuse::model::ckpt::ReadTorchFile(path);
      result = "read, " + std::to_string(v->dict.size()) + " entries";
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    result = "failed: " + what.substr(0, what.find('\n'));
  }
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  std::printf("| %s | %s | %.2f GiB |\n", mode.c_str(), result.c_str(), double(u.ru_maxrss) / (1024.0 * 1024.0));
  return 0;
}
