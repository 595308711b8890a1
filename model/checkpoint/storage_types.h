// torch.save's storage classes (torch.FloatStorage, ...) and the dtypes
// they hold: one table for reading and writing.
#pragma once

#include <torch/torch.h>

#include <stdexcept>
#include <string>

namespace ctrlfuse::model::ckpt {

struct StorageType {
  torch::ScalarType dtype;
  const char* name;  // the class in module `torch`
};

inline constexpr StorageType kStorageTypes[] = {
    {torch::kFloat32, "FloatStorage"},     {torch::kFloat64, "DoubleStorage"}, {torch::kFloat16, "HalfStorage"},
    {torch::kBFloat16, "BFloat16Storage"}, {torch::kInt64, "LongStorage"},     {torch::kInt32, "IntStorage"},
    {torch::kInt16, "ShortStorage"},       {torch::kInt8, "CharStorage"},      {torch::kUInt8, "ByteStorage"},
    {torch::kBool, "BoolStorage"},
};

// "torch.FloatStorage" -> kFloat32; throws for a class not in the table.
inline torch::ScalarType StorageDtype(const std::string& global) {
  for (const auto& t : kStorageTypes)
    if (global == std::string("torch.") + t.name) return t.dtype;
  throw std::runtime_error("unsupported storage type " + global);
}

// kFloat32 -> "FloatStorage"; throws for a dtype not in the table.
inline std::string StorageName(torch::ScalarType dtype) {
  for (const auto& t : kStorageTypes)
    if (t.dtype == dtype) return t.name;
  throw std::runtime_error(std::string("cannot write tensors of dtype ") + c10::toString(dtype));
}

}  // namespace ctrlfuse::model::ckpt
