// Reading and writing the zip-format files that Python's torch.save writes
// (protocol-2 pickle in `<archive>/data.pkl`, tensor storages in
// `<archive>/data/<key>`), with a small unpickler of its own: it understands
// the opcodes and globals torch.save emits for dicts, lists, tuples, numbers,
// strings and tensors, and nothing else. torch_pickle_reader.cc reads,
// torch_pickle_writer.cc writes; both name opcodes as pickle_opcodes.h and
// map storage classes through the one table of storage_types.h.
//
// Why not LibTorch's torch::pickle_load, re-measured on LibTorch 2.15
// (bench/checkpoint_read_bench.cc, 2026-12-01): it still fails on every
// OrderedDict, i.e. on every torch.save(model.state_dict()) file
// ("isGenericDict() INTERNAL ASSERT FAILED ... got None"), with or without
// `_metadata`; and on a plain dict it needs the whole file as one buffer:
// peak RSS 3.36 GiB for a 1 GiB file, against 1.36 GiB here (storages are
// read record by record straight into their tensors; ~0.35 GiB is the
// process itself). The release file is 2.5 GB.
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
PyPtr MakeValue(PyValue::Kind kind);  // an empty value of `kind`
PyPtr MakeString(const std::string& s);
PyPtr MakeInt(int64_t i);
PyPtr MakeTensor(const torch::Tensor& t);
PyPtr MakeDict(std::vector<std::pair<std::string, PyPtr>> entries);

// Writes `value` (dicts, strings, ints, floats, tensors, lists, tuples) as a
// torch.save zip file that Python's torch.load also reads. Tensors are
// written contiguous from CPU.
void WriteTorchFile(const std::string& path, const PyValue& value);

}  // namespace ctrlfuse::model::ckpt
