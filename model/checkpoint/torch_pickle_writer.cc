// torch.save's zip format, written: a protocol-2 pickle of the value (dicts
// as collections.OrderedDict, tensors through _rebuild_tensor_v2, as
// torch.save writes them) and one record per tensor storage.
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include "model/checkpoint/pickle_opcodes.h"
#include "model/checkpoint/storage_types.h"
#include "model/checkpoint/torch_pickle.h"

namespace ctrlfuse::model::ckpt {
namespace {

class Pickler {
 public:
  std::string out;
  std::vector<torch::Tensor> storages;

  void Dump(const PyValue& v) {
    Op(PickleOp::kProto);
    out += '\x02';
    Write(v);
    Op(PickleOp::kStop);
  }

 private:
  void Op(PickleOp op) { out += char(op); }
  void Global(const std::string& module, const std::string& name) {
    Op(PickleOp::kGlobal);
    out += module + "\n" + name + "\n";
  }
  // collections.OrderedDict(): what torch.save writes for every dict.
  void EmptyOrderedDict() {
    Global("collections", "OrderedDict");
    Op(PickleOp::kEmptyTuple);
    Op(PickleOp::kReduce);
  }
  void Str(const std::string& s) {
    Op(PickleOp::kBinUnicode);
    Le(s.size(), 4);
    out += s;
  }
  void Le(uint64_t u, int n) {
    for (int k = 0; k < n; ++k) out += char((u >> (8 * k)) & 0xff);
  }
  void Int(int64_t i) {
    if (i >= 0 && i < 256) {
      Op(PickleOp::kBinInt1);
      Le(i, 1);
    } else if (i >= INT32_MIN && i <= INT32_MAX) {
      Op(PickleOp::kBinInt);
      Le(uint32_t(int32_t(i)), 4);
    } else {
      Op(PickleOp::kLong1);
      Le(8, 1);
      Le(uint64_t(i), 8);
    }
  }
  void IntTuple(const c10::IntArrayRef& xs) {
    Op(PickleOp::kMark);
    for (auto x : xs) Int(x);
    Op(PickleOp::kTuple);
  }
  void Write(const PyValue& v) {
    switch (v.kind) {
      case PyValue::Kind::kNone:
        Op(PickleOp::kNone);
        break;
      case PyValue::Kind::kBool:
        Op(v.b ? PickleOp::kNewTrue : PickleOp::kNewFalse);
        break;
      case PyValue::Kind::kInt:
        Int(v.i);
        break;
      case PyValue::Kind::kFloat: {
        uint64_t u;
        std::memcpy(&u, &v.f, 8);
        Op(PickleOp::kBinFloat);  // big-endian
        for (int k = 7; k >= 0; --k) out += char((u >> (8 * k)) & 0xff);
        break;
      }
      case PyValue::Kind::kString:
        Str(v.s);
        break;
      case PyValue::Kind::kTuple:
        if (v.items.empty()) {
          Op(PickleOp::kEmptyTuple);
        } else {
          Op(PickleOp::kMark);
          for (const auto& it : v.items) Write(*it);
          Op(PickleOp::kTuple);
        }
        break;
      case PyValue::Kind::kList:
        Op(PickleOp::kEmptyList);
        if (!v.items.empty()) {
          Op(PickleOp::kMark);
          for (const auto& it : v.items) Write(*it);
          Op(PickleOp::kAppends);
        }
        break;
      case PyValue::Kind::kDict:
        EmptyOrderedDict();
        if (!v.dict.empty()) {
          Op(PickleOp::kMark);
          for (const auto& [k, val] : v.dict) {
            Write(*k);
            Write(*val);
          }
          Op(PickleOp::kSetItems);
        }
        break;
      case PyValue::Kind::kTensor: {
        auto t = v.tensor.detach().to(torch::kCPU).contiguous();
        const std::string key = std::to_string(storages.size());
        storages.push_back(t);
        // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
        // backward_hooks), the storage as a persistent id.
        Global("torch._utils", "_rebuild_tensor_v2");
        Op(PickleOp::kMark);
        Op(PickleOp::kMark);
        Str("storage");
        Global("torch", StorageName(t.scalar_type()));
        Str(key);
        Str("cpu");
        Int(t.numel());
        Op(PickleOp::kTuple);
        Op(PickleOp::kBinPersId);
        Int(0);
        IntTuple(t.sizes());
        IntTuple(t.strides());
        Op(PickleOp::kNewFalse);
        EmptyOrderedDict();
        Op(PickleOp::kTuple);
        Op(PickleOp::kReduce);
        break;
      }
      case PyValue::Kind::kGlobal:
        throw std::runtime_error("cannot write a global");
    }
  }
};

}  // namespace

void WriteTorchFile(const std::string& path, const PyValue& value) {
  Pickler p;
  p.Dump(value);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + path);
  caffe2::serialize::PyTorchStreamWriter writer([&f](const void* data, size_t n) {
    f.write(static_cast<const char*>(data), std::streamsize(n));
    return f ? n : 0;
  });
  writer.writeRecord("data.pkl", p.out.data(), p.out.size());
  for (size_t k = 0; k < p.storages.size(); ++k) {
    const auto& t = p.storages[k];
    writer.writeRecord("data/" + std::to_string(k), t.data_ptr(), t.numel() * t.element_size());
  }
  writer.writeEndOfFile();
  if (!f) throw std::runtime_error("write failed: " + path);
}

}  // namespace ctrlfuse::model::ckpt
