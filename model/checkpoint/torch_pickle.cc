#include "model/checkpoint/torch_pickle.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace ctrlfuse::model::ckpt {

PyPtr PyValue::Get(const std::string& key) const {
  for (const auto& [k, v] : dict)
    if (k->kind == Kind::kString && k->s == key) return v;
  return nullptr;
}

std::string PyValue::TypeName() const {
  static const char* names[] = {"None", "bool", "int", "float", "str", "tuple", "list", "dict", "tensor", "global"};
  return names[static_cast<int>(kind)];
}

namespace {

PyPtr Make(PyValue::Kind k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}

// Storage class name (torch.FloatStorage, ...) -> dtype.
torch::ScalarType StorageDtype(const std::string& global) {
  static const std::map<std::string, torch::ScalarType> kTypes = {
      {"torch.FloatStorage", torch::kFloat32}, {"torch.DoubleStorage", torch::kFloat64},
      {"torch.HalfStorage", torch::kFloat16},  {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},    {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},   {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},    {"torch.BoolStorage", torch::kBool}};
  auto it = kTypes.find(global);
  if (it == kTypes.end()) throw std::runtime_error("unsupported storage type " + global);
  return it->second;
}

std::string StorageName(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return "FloatStorage";
    case torch::kFloat64:
      return "DoubleStorage";
    case torch::kFloat16:
      return "HalfStorage";
    case torch::kBFloat16:
      return "BFloat16Storage";
    case torch::kInt64:
      return "LongStorage";
    case torch::kInt32:
      return "IntStorage";
    case torch::kInt16:
      return "ShortStorage";
    case torch::kInt8:
      return "CharStorage";
    case torch::kUInt8:
      return "ByteStorage";
    case torch::kBool:
      return "BoolStorage";
    default:
      throw std::runtime_error("cannot write tensors of this dtype");
  }
}

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
      const uint8_t op = Byte();
      switch (op) {
        case 0x80:
          Byte();
          break;  // PROTO
        case 0x95:
          Read(8);
          break;  // FRAME
        case '(':
          marks_.push_back(stack_.size());
          break;  // MARK
        case '.':
          return Pop();  // STOP
        case 'N':
          stack_.push_back(Make(PyValue::Kind::kNone));
          break;
        case 0x88:
        case 0x89: {  // NEWTRUE / NEWFALSE
          auto v = Make(PyValue::Kind::kBool);
          v->b = op == 0x88;
          stack_.push_back(v);
          break;
        }
        case 'K':
          PushInt(Byte());
          break;  // BININT1
        case 'M':
          PushInt(Le(2));
          break;  // BININT2
        case 'J':
          PushInt(static_cast<int32_t>(Le(4)));
          break;      // BININT
        case 0x8a: {  // LONG1
          const int n = Byte();
          if (n > 8) throw std::runtime_error("pickle: integer wider than 64 bits");
          uint64_t u = n ? Le(n) : 0;
          if (n && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~uint64_t(0) << (8 * n);  // sign
          PushInt(static_cast<int64_t>(u));
          break;
        }
        case 'G': {  // BINFLOAT (big-endian)
          uint64_t u = 0;
          for (char c : Read(8)) u = (u << 8) | uint8_t(c);
          auto v = Make(PyValue::Kind::kFloat);
          std::memcpy(&v->f, &u, 8);
          stack_.push_back(v);
          break;
        }
        case 'X':  // BINUNICODE
        case 'T':  // BINSTRING
        case 'B':  // BINBYTES
          PushString(Read(Le(4)));
          break;
        case 0x8c:  // SHORT_BINUNICODE
        case 'U':   // SHORT_BINSTRING
        case 'C':   // SHORT_BINBYTES
          PushString(Read(Byte()));
          break;
        case '}':
          stack_.push_back(Make(PyValue::Kind::kDict));
          break;
        case ']':
          stack_.push_back(Make(PyValue::Kind::kList));
          break;
        case ')':
          stack_.push_back(Make(PyValue::Kind::kTuple));
          break;
        case 't':
        case 'l':
        case 'd': {  // TUPLE / LIST / DICT
          auto items = PopMark();
          auto v = Make(op == 't' ? PyValue::Kind::kTuple : op == 'l' ? PyValue::Kind::kList : PyValue::Kind::kDict);
          if (op == 'd') {
            for (size_t k = 0; k + 1 < items.size(); k += 2) v->dict.emplace_back(items[k], items[k + 1]);
          } else {
            v->items = std::move(items);
          }
          stack_.push_back(v);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const int n = op - 0x84;
          auto v = Make(PyValue::Kind::kTuple);
          v->items.assign(stack_.end() - Need(n), stack_.end());
          stack_.resize(stack_.size() - n);
          stack_.push_back(v);
          break;
        }
        case 'q':
          memo_[Byte()] = Top();
          break;  // BINPUT
        case 'r':
          memo_[Le(4)] = Top();
          break;  // LONG_BINPUT
        case 0x94:
          memo_[memo_.size()] = Top();
          break;  // MEMOIZE
        case 'h':
          stack_.push_back(Memo(Byte()));
          break;  // BINGET
        case 'j':
          stack_.push_back(Memo(Le(4)));
          break;     // LONG_BINGET
        case 'a': {  // APPEND
          auto v = Pop();
          Container(PyValue::Kind::kList)->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto items = PopMark();
          auto& dst = Container(PyValue::Kind::kList)->items;
          dst.insert(dst.end(), items.begin(), items.end());
          break;
        }
        case 's': {  // SETITEM
          auto v = Pop();
          auto k = Pop();
          Container(PyValue::Kind::kDict)->dict.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = PopMark();
          auto d = Container(PyValue::Kind::kDict);
          for (size_t k = 0; k + 1 < items.size(); k += 2) d->dict.emplace_back(items[k], items[k + 1]);
          break;
        }
        case 'c': {  // GLOBAL
          std::string module = Line(), name = Line();
          auto v = Make(PyValue::Kind::kGlobal);
          v->s = module;
          v->s += ".";
          v->s += name;
          stack_.push_back(v);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = Pop(), module = Pop();
          auto v = Make(PyValue::Kind::kGlobal);
          v->s = module->s + "." + name->s;
          stack_.push_back(v);
          break;
        }
        case 'R': {  // REDUCE
          auto args = Pop();
          auto fn = Pop();
          stack_.push_back(Call(*fn, *args));
          break;
        }
        case 0x81: {  // NEWOBJ
          auto args = Pop();
          auto cls = Pop();
          stack_.push_back(Call(*cls, *args));
          break;
        }
        case 'b':
          Pop();
          break;     // BUILD: state of an OrderedDict (_metadata) is not needed
        case 'Q': {  // BINPERSID
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

// --- writer -------------------------------------------------------------

class Pickler {
 public:
  std::string out;
  std::vector<torch::Tensor> storages;

  void Dump(const PyValue& v) {
    out += "\x80\x02";
    Write(v);
    out += '.';
  }

 private:
  void Str(const std::string& s) {
    out += 'X';
    Le(s.size(), 4);
    out += s;
  }
  void Le(uint64_t u, int n) {
    for (int k = 0; k < n; ++k) out += char((u >> (8 * k)) & 0xff);
  }
  void Int(int64_t i) {
    if (i >= 0 && i < 256) {
      out += 'K';
      Le(i, 1);
    } else if (i >= INT32_MIN && i <= INT32_MAX) {
      out += 'J';
      Le(uint32_t(int32_t(i)), 4);
    } else {
      out += "\x8a\x08";
      Le(uint64_t(i), 8);
    }
  }
  void IntTuple(const c10::IntArrayRef& xs) {
    out += '(';
    for (auto x : xs) Int(x);
    out += 't';
  }
  void Write(const PyValue& v) {
    switch (v.kind) {
      case PyValue::Kind::kNone:
        out += 'N';
        break;
      case PyValue::Kind::kBool:
        out += v.b ? '\x88' : '\x89';
        break;
      case PyValue::Kind::kInt:
        Int(v.i);
        break;
      case PyValue::Kind::kFloat: {
        uint64_t u;
        std::memcpy(&u, &v.f, 8);
        out += 'G';
        for (int k = 7; k >= 0; --k) out += char((u >> (8 * k)) & 0xff);
        break;
      }
      case PyValue::Kind::kString:
        Str(v.s);
        break;
      case PyValue::Kind::kTuple:
        if (v.items.empty()) {
          out += ')';
        } else {
          out += '(';
          for (const auto& it : v.items) Write(*it);
          out += 't';
        }
        break;
      case PyValue::Kind::kList:
        out += ']';
        if (!v.items.empty()) {
          out += '(';
          for (const auto& it : v.items) Write(*it);
          out += 'e';
        }
        break;
      case PyValue::Kind::kDict:
        out += "ccollections\nOrderedDict\n)R";
        if (!v.dict.empty()) {
          out += '(';
          for (const auto& [k, val] : v.dict) {
            Write(*k);
            Write(*val);
          }
          out += 'u';
        }
        break;
      case PyValue::Kind::kTensor: {
        auto t = v.tensor.detach().to(torch::kCPU).contiguous();
        const std::string key = std::to_string(storages.size());
        storages.push_back(t);
        out += "ctorch._utils\n_rebuild_tensor_v2\n(";
        out += "(";
        Str("storage");
        out += "ctorch\n" + StorageName(t.scalar_type()) + "\n";
        Str(key);
        Str("cpu");
        Int(t.numel());
        out += "tQ";
        Int(0);
        IntTuple(t.sizes());
        IntTuple(t.strides());
        out += "\x89";
        out += "ccollections\nOrderedDict\n)R";
        out += "tR";
        break;
      }
      case PyValue::Kind::kGlobal:
        throw std::runtime_error("cannot write a global");
    }
  }
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

PyPtr MakeString(const std::string& s) {
  auto v = Make(PyValue::Kind::kString);
  v->s = s;
  return v;
}
PyPtr MakeInt(int64_t i) {
  auto v = Make(PyValue::Kind::kInt);
  v->i = i;
  return v;
}
PyPtr MakeTensor(const torch::Tensor& t) {
  auto v = Make(PyValue::Kind::kTensor);
  v->tensor = t;
  return v;
}
PyPtr MakeDict(std::vector<std::pair<std::string, PyPtr>> entries) {
  auto v = Make(PyValue::Kind::kDict);
  for (auto& [k, val] : entries) v->dict.emplace_back(MakeString(k), std::move(val));
  return v;
}

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
