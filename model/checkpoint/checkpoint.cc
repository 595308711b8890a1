#include "model/checkpoint/checkpoint.h"

#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace ctrlfuse::model {

NamedTensors StateDict(const torch::nn::Module& module) {
  NamedTensors out;
  for (const auto& p : module.named_parameters(true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) out.emplace_back(b.key(), b.value());
  return out;
}

namespace {

std::string Shape(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

// Lists at most a few names per category: messages stay readable when a
// whole sub-model is missing.
void ListNames(std::ostringstream& msg, const char* title, const std::vector<std::string>& names) {
  if (names.empty()) return;
  msg << "\n  " << title << " (" << names.size() << "): ";
  for (size_t i = 0; i < names.size() && i < 8; ++i) msg << (i ? ", " : "") << names[i];
  if (names.size() > 8) msg << ", ...";
}

NamedTensors WithPrefix(const NamedTensors& in, const std::string& prefix, bool strip) {
  NamedTensors out;
  for (const auto& [k, v] : in) {
    if (strip) {
      if (k.rfind(prefix, 0) == 0) out.emplace_back(k.substr(prefix.size()), v);
    } else {
      out.emplace_back(prefix + k, v);
    }
  }
  return out;
}

}  // namespace

NamedTensors TensorDict(const ckpt::PyValue& dict, const std::string& what) {
  if (dict.kind != ckpt::PyValue::Kind::kDict)
    throw std::runtime_error(what + ": state_dict is a " + dict.TypeName() + ", expected a dict");
  NamedTensors out;
  for (const auto& [k, v] : dict.dict) {
    if (k->kind != ckpt::PyValue::Kind::kString) throw std::runtime_error(what + ": state_dict has a non-string key");
    if (v->kind != ckpt::PyValue::Kind::kTensor)
      throw std::runtime_error(what + ": state_dict entry " + k->s + " is a " + v->TypeName());
    out.emplace_back(k->s, v->tensor);
  }
  return out;
}

void LoadStateDict(torch::nn::Module& module, const NamedTensors& entries, const std::string& what) {
  std::map<std::string, torch::Tensor> own;
  for (auto& [k, v] : StateDict(module)) own.emplace(k, v);
  std::vector<std::string> missing, unexpected, misshaped, wrong_type;
  std::set<std::string> seen;
  for (const auto& [k, v] : entries) {
    auto it = own.find(k);
    if (it == own.end()) {
      unexpected.push_back(k);
      continue;
    }
    seen.insert(k);
    if (v.sizes() != it->second.sizes()) {
      misshaped.push_back(k + " file " + Shape(v) + " vs model " + Shape(it->second));
    } else if (v.is_floating_point() != it->second.is_floating_point()) {
      wrong_type.push_back(k);
    }
  }
  for (const auto& [k, v] : own)
    if (!seen.count(k)) missing.push_back(k);
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty() || !wrong_type.empty()) {
    std::ostringstream msg;
    msg << what << " does not match the model";
    ListNames(msg, "missing keys", missing);
    ListNames(msg, "unexpected keys", unexpected);
    ListNames(msg, "mis-shaped keys", misshaped);
    ListNames(msg, "wrong dtype kind", wrong_type);
    throw std::runtime_error(msg.str());
  }
  torch::NoGradGuard no_grad;
  for (const auto& [k, v] : entries) own[k].copy_(v);
}

namespace {
// Loaders over an already decoded file, so detection reads a file once.
void LoadOfficialCtrlFuseFrom(CtrlFuseNet& net, const ckpt::PyValue& file, const std::string& path) {
  if (file.kind != ckpt::PyValue::Kind::kDict)
    throw std::runtime_error(path + ": expected a dict with a 'model' entry, found a " + file.TypeName());
  auto model = file.Get("model");
  if (!model) throw std::runtime_error(path + ": no 'model' entry (is this a CtrlFuse checkpoint?)");
  LoadStateDict(*net, TensorDict(*model, path), path);
}

void LoadOfficialSamFrom(sam::Sam& sam, const ckpt::PyValue& file, const std::string& path) {
  auto entries = TensorDict(file, path);
  // A whole CtrlFuse state_dict also carries SAM, under `sam_model.`.
  bool nested = !entries.empty() && entries[0].first.rfind("sam_model.", 0) == 0;
  LoadStateDict(*sam, nested ? WithPrefix(entries, "sam_model.", true) : entries, path);
}
}  // namespace

void LoadOfficialCtrlFuse(CtrlFuseNet& net, const std::string& path) {
  LoadOfficialCtrlFuseFrom(net, *ckpt::ReadTorchFile(path), path);
}

void LoadOfficialSam(sam::Sam& sam, const std::string& path) {
  LoadOfficialSamFrom(sam, *ckpt::ReadTorchFile(path), path);
}

void SaveCheckpoint(const CtrlFuseNet& net, const std::string& path,
                    std::vector<std::pair<std::string, ckpt::PyPtr>> extra) {
  std::vector<std::pair<std::string, ckpt::PyPtr>> state;
  for (const auto& [k, v] : StateDict(*net)) state.emplace_back(k, ckpt::MakeTensor(v));
  std::vector<std::pair<std::string, ckpt::PyPtr>> top = {{"format", ckpt::MakeString(kCheckpointFormat)},
                                                          {"config", ckpt::MakeString(net->config().name)},
                                                          {"model", ckpt::MakeDict(std::move(state))}};
  for (auto& e : extra) top.push_back(std::move(e));
  ckpt::WriteTorchFile(path, *ckpt::MakeDict(std::move(top)));
}

namespace {
std::string OwnConfigName(const ckpt::PyValue& file, const std::string& path) {
  auto format = file.Get("format");
  if (!format || format->s != kCheckpointFormat)
    throw std::runtime_error(path + ": not a ctrlfuse-serve checkpoint (no format '" + std::string(kCheckpointFormat) +
                             "')");
  auto config = file.Get("config");
  if (!config || config->kind != ckpt::PyValue::Kind::kString)
    throw std::runtime_error(path + ": checkpoint records no config name");
  return config->s;
}
}  // namespace

namespace {
void LoadOwnFrom(CtrlFuseNet& net, const ckpt::PyValue& file, const std::string& path) {
  if (file.kind != ckpt::PyValue::Kind::kDict)
    throw std::runtime_error(path + ": not a ctrlfuse-serve checkpoint (top level is a " + file.TypeName() + ")");
  const std::string config = OwnConfigName(file, path);
  if (config != net->config().name)
    throw std::runtime_error(path + ": checkpoint is for config '" + config + "', the model is '" + net->config().name +
                             "'");
  auto model = file.Get("model");
  if (!model) throw std::runtime_error(path + ": no 'model' entry");
  LoadStateDict(*net, TensorDict(*model, path), path);
}
}  // namespace

ckpt::PyPtr LoadCheckpoint(CtrlFuseNet& net, const std::string& path) {
  auto file = ckpt::ReadTorchFile(path);
  LoadOwnFrom(net, *file, path);
  return file;
}

std::string LoadAnyCheckpoint(CtrlFuseNet& net, const std::string& path) {
  auto file = ckpt::ReadTorchFile(path);
  if (file->kind == ckpt::PyValue::Kind::kDict && file->Get("format")) {
    LoadOwnFrom(net, *file, path);
    return "ctrlfuse-serve";
  }
  if (file->kind == ckpt::PyValue::Kind::kDict && file->Get("model")) {
    LoadOfficialCtrlFuseFrom(net, *file, path);
    return "ctrlfuse-official";
  }
  LoadOfficialSamFrom(net->sam_model, *file, path);
  return "sam-official";
}

std::string CheckpointConfigName(const std::string& path) {
  auto file = ckpt::ReadTorchFile(path);
  if (file->kind != ckpt::PyValue::Kind::kDict) throw std::runtime_error(path + ": not a ctrlfuse-serve checkpoint");
  return OwnConfigName(*file, path);
}

}  // namespace ctrlfuse::model
