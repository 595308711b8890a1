// A checkpoint is untrusted input too (users load files from the web):
// ReadTorchFile on any bytes must return a value or throw std::exception
// (which the loaders turn into a status), never crash, hang or leak.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include "model/checkpoint/torch_pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader takes a path (it streams storages from the file).
  static const std::string path = "/tmp/ctrlfuse_checkpoint_fuzz_" + std::to_string(getpid()) + ".pth";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    auto value = ctrlfuse::model::ckpt::ReadTorchFile(path);
    (void)value->TypeName();
  } catch (const std::exception&) {
  }
  return 0;
}
