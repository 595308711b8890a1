// torch.save's zip format, read: the unpickler of data.pkl (only what
// torch.save emits for state dicts) and the storages read record by record
// straight into their tensors.
#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "model/checkpoint/pickle_opcodes.h"
#include "model/checkpoint/storage_types.h"
#include "model/checkpoint/torch_pickle.h"

namespace ctrlfuse::model::ckpt {
namespace {

PyPtr Make(PyValue::Kind k) { return MakeValue(k); }

std::vector<int64_t> IntList(const PyValue& v, const char* what) {
  if (v.kind != PyValue::Kind::kTuple && v.kind != PyValue::Kind::kList)
    throw std::runtime_error(std::string("tensor ") + what + " is not a tuple");
  std::vector<int64_t> out;
  for (const auto& it : v.items) {
    if (it->kind != PyValue::Kind::kInt)
      throw std::runtime_error(std::string("tensor ") + what + " holds a non-integer");
    out.push_back(it->i);
  }
  return out;
}

class Unpickler {
 public:
  Unpickler(caffe2::serialize::PyTorchStreamReader& reader, const std::string& pkl) : reader_(reader), data_(pkl) {}

  PyPtr Run() {
    while (true) {
      const auto op = static_cast<PickleOp>(Byte());
      switch (op) {
        case PickleOp::kProto:
          Byte();
          break;
        case PickleOp::kFrame:
          Read(8);
          break;
        case PickleOp::kMark:
          marks_.push_back(stack_.size());
          break;
        case PickleOp::kStop:
          return Pop();
        case PickleOp::kNone:
          stack_.push_back(Make(PyValue::Kind::kNone));
          break;
        case PickleOp::kNewTrue:
        case PickleOp::kNewFalse: {
          auto v = Make(PyValue::Kind::kBool);
          v->b = op == PickleOp::kNewTrue;
          stack_.push_back(v);
          break;
        }
        case PickleOp::kBinInt1:
          PushInt(Byte());
          break;
        case PickleOp::kBinInt2:
          PushInt(Le(2));
          break;
        case PickleOp::kBinInt:
          PushInt(static_cast<int32_t>(Le(4)));
          break;
        case PickleOp::kLong1: {
          const int n = Byte();
          if (n > 8) throw std::runtime_error("pickle: integer wider than 64 bits");
          uint64_t u = n ? Le(n) : 0;
          if (n && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~uint64_t(0) << (8 * n);  // sign
          PushInt(static_cast<int64_t>(u));
          break;
        }
        case PickleOp::kBinFloat: {  // big-endian
          uint64_t u = 0;
          for (char c : Read(8)) u = (u << 8) | uint8_t(c);
          auto v = Make(PyValue::Kind::kFloat);
          std::memcpy(&v->f, &u, 8);
          stack_.push_back(v);
          break;
        }
        case PickleOp::kBinUnicode:
        case PickleOp::kBinString:
        case PickleOp::kBinBytes:
          PushString(Read(Le(4)));
          break;
        case PickleOp::kShortBinUnicode:
        case PickleOp::kShortBinString:
        case PickleOp::kShortBinBytes:
          PushString(Read(Byte()));
          break;
        case PickleOp::kEmptyDict:
          stack_.push_back(Make(PyValue::Kind::kDict));
          break;
        case PickleOp::kEmptyList:
          stack_.push_back(Make(PyValue::Kind::kList));
          break;
        case PickleOp::kEmptyTuple:
          stack_.push_back(Make(PyValue::Kind::kTuple));
          break;
        case PickleOp::kTuple:
        case PickleOp::kList:
        case PickleOp::kDict: {
          auto items = PopMark();
          auto v = Make(op == PickleOp::kTuple  ? PyValue::Kind::kTuple
                        : op == PickleOp::kList ? PyValue::Kind::kList
                                                : PyValue::Kind::kDict);
          if (op == PickleOp::kDict) {
            for (size_t k = 0; k + 1 < items.size(); k += 2) v->dict.emplace_back(items[k], items[k + 1]);
          } else {
            v->items = std::move(items);
          }
          stack_.push_back(v);
          break;
        }
        case PickleOp::kTuple1:
        case PickleOp::kTuple2:
        case PickleOp::kTuple3: {
          const int n = int(op) - int(PickleOp::kTuple1) + 1;
          auto v = Make(PyValue::Kind::kTuple);
          v->items.assign(stack_.end() - Need(n), stack_.end());
          stack_.resize(stack_.size() - n);
          stack_.push_back(v);
          break;
        }
        case PickleOp::kBinPut:
          memo_[Byte()] = Top();
          break;
        case PickleOp::kLongBinPut:
          memo_[Le(4)] = Top();
          break;
        case PickleOp::kMemoize:
          memo_[memo_.size()] = Top();
          break;
        case PickleOp::kBinGet:
          stack_.push_back(Memo(Byte()));
          break;
        case PickleOp::kLongBinGet:
          stack_.push_back(Memo(Le(4)));
          break;
        case PickleOp::kAppend: {
          auto v = Pop();
          Container(PyValue::Kind::kList)->items.push_back(v);
          break;
        }
        case PickleOp::kAppends: {
          auto items = PopMark();
          auto& dst = Container(PyValue::Kind::kList)->items;
          dst.insert(dst.end(), items.begin(), items.end());
          break;
        }
        case PickleOp::kSetItem: {
          auto v = Pop();
          auto k = Pop();
          Container(PyValue::Kind::kDict)->dict.emplace_back(k, v);
          break;
        }
        case PickleOp::kSetItems: {
          auto items = PopMark();
          auto d = Container(PyValue::Kind::kDict);
          for (size_t k = 0; k + 1 < items.size(); k += 2) d->dict.emplace_back(items[k], items[k + 1]);
          break;
        }
        case PickleOp::kGlobal: {
          std::string module = Line(), name = Line();
          auto v = Make(PyValue::Kind::kGlobal);
          v->s = module;
          v->s += ".";
          v->s += name;
          stack_.push_back(v);
          break;
        }
        case PickleOp::kStackGlobal: {
          auto name = Pop(), module = Pop();
          auto v = Make(PyValue::Kind::kGlobal);
          v->s = module->s + "." + name->s;
          stack_.push_back(v);
          break;
        }
        case PickleOp::kReduce: {
          auto args = Pop();
          auto fn = Pop();
          stack_.push_back(Call(*fn, *args));
          break;
        }
        case PickleOp::kNewObj: {
          auto args = Pop();
          auto cls = Pop();
          stack_.push_back(Call(*cls, *args));
          break;
        }
        case PickleOp::kBuild:  // the state of an OrderedDict (_metadata) is not needed
          Pop();
          break;
        case PickleOp::kBinPersId: {
          auto pid = Pop();
          stack_.push_back(LoadStorage(*pid));
          break;
        }
        default: {
          std::ostringstream msg;
          msg << "pickle: unsupported opcode 0x" << std::hex << int(op) << " at byte " << std::dec << (pos_ - 1);
          throw std::runtime_error(msg.str());
        }
      }
    }
  }

 private:
  uint8_t Byte() { return uint8_t(Read(1)[0]); }
  std::string Read(size_t n) {
    if (pos_ + n > data_.size()) throw std::runtime_error("pickle: data.pkl ends early");
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t Le(int n) {
    uint64_t u = 0;
    auto s = Read(n);
    for (int k = n - 1; k >= 0; --k) u = (u << 8) | uint8_t(s[k]);
    return u;
  }
  std::string Line() {
    auto end = data_.find('\n', pos_);
    if (end == std::string::npos) throw std::runtime_error("pickle: unterminated GLOBAL");
    std::string s = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  void PushInt(int64_t i) {
    auto v = Make(PyValue::Kind::kInt);
    v->i = i;
    stack_.push_back(v);
  }
  void PushString(std::string s) {
    auto v = Make(PyValue::Kind::kString);
    v->s = std::move(s);
    stack_.push_back(v);
  }
  size_t Need(size_t n) {
    if (stack_.size() < n) throw std::runtime_error("pickle: stack underflow");
    return n;
  }
  PyPtr Pop() {
    Need(1);
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PyPtr Top() {
    Need(1);
    return stack_.back();
  }
  PyPtr Memo(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) throw std::runtime_error("pickle: memo key not found");
    return it->second;
  }
  std::vector<PyPtr> PopMark() {
    if (marks_.empty()) throw std::runtime_error("pickle: MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    if (m > stack_.size()) throw std::runtime_error("pickle: MARK beyond stack");
    std::vector<PyPtr> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  PyPtr Container(PyValue::Kind kind) {
    auto c = Top();
    if (c->kind != kind) throw std::runtime_error("pickle: append/setitem on a " + c->TypeName());
    return c;
  }

  PyPtr Call(const PyValue& fn, const PyValue& args) {
    if (fn.kind != PyValue::Kind::kGlobal) throw std::runtime_error("pickle: call of a non-global");
    const auto& a = args.items;
    if (fn.s == "collections.OrderedDict") return Make(PyValue::Kind::kDict);
    if (fn.s == "torch._utils._rebuild_tensor_v2" || fn.s == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || a[0]->kind != PyValue::Kind::kTensor || a[1]->kind != PyValue::Kind::kInt)
        throw std::runtime_error("pickle: malformed _rebuild_tensor_v2 arguments");
      const auto& storage = a[0]->tensor;
      auto size = IntList(*a[2], "size"), stride = IntList(*a[3], "stride");
      int64_t extent = a[1]->i + 1;
      for (size_t k = 0; k < size.size(); ++k) {
        if (size[k] == 0) {
          extent = 0;
          break;
        }
        extent += (size[k] - 1) * stride[k];
      }
      if (size.size() != stride.size() || extent > storage.numel())
        throw std::runtime_error("pickle: tensor view exceeds its storage");
      auto v = Make(PyValue::Kind::kTensor);
      v->tensor = storage.as_strided(size, stride, a[1]->i);
      return v;
    }
    if (fn.s == "torch._utils._rebuild_parameter" || fn.s == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != PyValue::Kind::kTensor)
        throw std::runtime_error("pickle: malformed _rebuild_parameter arguments");
      return a[0];
    }
    throw std::runtime_error("pickle: unsupported global " + fn.s);
  }

  PyPtr LoadStorage(const PyValue& pid) {
    const auto& a = pid.items;
    if (pid.kind != PyValue::Kind::kTuple || a.size() < 5 || a[0]->s != "storage" ||
        a[1]->kind != PyValue::Kind::kGlobal || a[2]->kind != PyValue::Kind::kString ||
        a[4]->kind != PyValue::Kind::kInt)
      throw std::runtime_error("pickle: unsupported persistent id");
    const std::string& key = a[2]->s;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {  // shared storage (tied weights)
      auto v = Make(PyValue::Kind::kTensor);
      v->tensor = cached->second;
      return v;
    }
    const auto dtype = StorageDtype(a[1]->s);
    const int64_t numel = a[4]->i;
    const std::string record = "data/" + key;
    if (!reader_.hasRecord(record)) throw std::runtime_error("missing storage record " + record);
    const size_t bytes = reader_.getRecordSize(record);
    const size_t want = size_t(numel) * c10::elementSize(dtype);
    if (bytes != want) {
      std::ostringstream msg;
      msg << "storage record " << record << " has " << bytes << " bytes, expected " << want;
      throw std::runtime_error(msg.str());
    }
    // Read straight into the tensor: no second copy of the record, so the
    // peak is the tensors themselves (bench/checkpoint_read_bench.cc).
    auto t = torch::empty({numel}, torch::TensorOptions().dtype(dtype));
    if (want) reader_.getRecord(record, t.data_ptr(), want);
    storages_[key] = t;
    auto v = Make(PyValue::Kind::kTensor);
    v->tensor = t;
    return v;
  }

  caffe2::serialize::PyTorchStreamReader& reader_;
  const std::string& data_;
  size_t pos_ = 0;
  std::vector<PyPtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyPtr> memo_;
  std::unordered_map<std::string, torch::Tensor> storages_;
};

}  // namespace

PyPtr ReadTorchFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  char magic[4] = {0, 0, 0, 0};
  f.read(magic, 4);
  if (std::memcmp(magic, "PK\x03\x04", 4) != 0)
    throw std::runtime_error(path +
                             " is not a zip-format torch.save file (a legacy-format file "
                             "must be re-saved with a current torch.save)");
  f.close();
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (!reader.hasRecord("data.pkl")) throw std::runtime_error("no data.pkl record");
    auto [ptr, size] = reader.getRecord("data.pkl");
    std::string pkl(static_cast<const char*>(ptr.get()), size);
    return Unpickler(reader, pkl).Run();
  } catch (const c10::Error& e) {
    // The zip reader's messages (e.g. a truncated file's missing central
    // directory) carry a C++ backtrace; keep the first line.
    std::string msg = e.what_without_backtrace();
    throw std::runtime_error(path + ": unreadable zip archive (" + msg.substr(0, msg.find('\n')) +
                             "); the file may be truncated");
  }
}

}  // namespace ctrlfuse::model::ckpt
