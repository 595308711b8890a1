// Reading and writing the zip-format files that Python's torch.save writes
// (protocol-2 pickle in `<archive>/data.pkl`, tensor storages in
// `<archive>/data/<key>`). LibTorch 1.13's own pickle_load cannot read the
// OrderedDict that every state_dict is, so this module has its own small
// unpickler: it understands the opcodes and globals torch.save emits for
// dicts, lists, tuples, numbers, strings and tensors, and nothing else.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ctrlfuse::model::ckpt {

// A decoded Python value. Dicts keep insertion order.
struct PyValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kTensor, kGlobal };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                // string, or "module.name" of a global
  std::vector<std::shared_ptr<PyValue>> items;  // tuple / list
  std::vector<std::pair<std::shared_ptr<PyValue>, std::shared_ptr<PyValue>>> dict;
  torch::Tensor tensor;

  // The value under string key `key` of a dict, or null.
  std::shared_ptr<PyValue> Get(const std::string& key) const;
  std::string TypeName() const;
};
using PyPtr = std::shared_ptr<PyValue>;

// Reads a torch.save zip file. Throws std::runtime_error naming the problem
// (not a zip archive, truncated, unsupported opcode or global, bad storage).
PyPtr ReadTorchFile(const std::string& path);

// Builders for writing.
PyPtr MakeString(const std::string& s);
PyPtr MakeInt(int64_t i);
PyPtr MakeTensor(const torch::Tensor& t);
PyPtr MakeDict(std::vector<std::pair<std::string, PyPtr>> entries);

// Writes `value` (dicts, strings, ints, floats, tensors, lists, tuples) as a
// torch.save zip file that Python's torch.load also reads. Tensors are
// written contiguous from CPU.
void WriteTorchFile(const std::string& path, const PyValue& value);

}  // namespace ctrlfuse::model::ckpt
