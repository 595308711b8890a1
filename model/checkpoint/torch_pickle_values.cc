#include "model/checkpoint/torch_pickle.h"

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

PyPtr MakeValue(PyValue::Kind k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}

PyPtr MakeString(const std::string& s) {
  auto v = MakeValue(PyValue::Kind::kString);
  v->s = s;
  return v;
}
PyPtr MakeInt(int64_t i) {
  auto v = MakeValue(PyValue::Kind::kInt);
  v->i = i;
  return v;
}
PyPtr MakeTensor(const torch::Tensor& t) {
  auto v = MakeValue(PyValue::Kind::kTensor);
  v->tensor = t;
  return v;
}
PyPtr MakeDict(std::vector<std::pair<std::string, PyPtr>> entries) {
  auto v = MakeValue(PyValue::Kind::kDict);
  for (auto& [k, val] : entries) v->dict.emplace_back(MakeString(k), std::move(val));
  return v;
}

}  // namespace ctrlfuse::model::ckpt
