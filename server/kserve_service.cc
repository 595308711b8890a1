#include "server/kserve_service.h"

#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace ctrlfuse::server {
namespace {

using Tensor = inference::ModelInferRequest::InferInputTensor;

// Output tensor name -> the mask kind it returns (FUSED is the image).
const std::map<std::string, v1::MaskKind>& OutputMasks() {
  static const auto* m = new std::map<std::string, v1::MaskKind>{{"MASK", v1::MASK_KIND_FUSED},
                                                                 {"MASK_VISIBLE", v1::MASK_KIND_VISIBLE},
                                                                 {"MASK_INFRARED", v1::MASK_KIND_INFRARED},
                                                                 {"PROMPT_MASK", v1::MASK_KIND_PROMPT}};
  return *m;
}

std::vector<std::string> WantedOutputs(const inference::ModelInferRequest& infer) {
  std::vector<std::string> names;
  for (const auto& o : infer.outputs()) names.push_back(o.name());
  if (names.empty()) names = {"FUSED", "MASK"};
  return names;
}

// RGB <-> BGR in place for interleaved 3-channel pixels of `bytes_per_value`.
void SwapRedBlue(std::string* pixels, size_t bytes_per_value) {
  const size_t pixel = 3 * bytes_per_value;
  for (size_t at = 0; at + pixel <= pixels->size(); at += pixel)
    for (size_t b = 0; b < bytes_per_value; ++b) std::swap((*pixels)[at + b], (*pixels)[at + 2 * bytes_per_value + b]);
}

// The bytes of input `index`: its raw contents, or its typed contents.
absl::StatusOr<std::string> TensorBytes(const inference::ModelInferRequest& infer, int index, size_t bytes_per_value) {
  const Tensor& t = infer.inputs(index);
  if (infer.raw_input_contents_size() > 0) {
    if (index >= infer.raw_input_contents_size())
      return absl::InvalidArgumentError(absl::StrCat("inputs[", t.name(), "]: no raw_input_contents entry"));
    return infer.raw_input_contents(index);
  }
  if (t.datatype() == "BYTES") {
    if (t.contents().bytes_contents_size() != 1)
      return absl::InvalidArgumentError(absl::StrCat("inputs[", t.name(), "].contents: one BYTES element expected"));
    return t.contents().bytes_contents(0);
  }
  std::string out;
  out.reserve(size_t(t.contents().uint_contents_size()) * bytes_per_value);
  for (uint32_t v : t.contents().uint_contents()) out.append(reinterpret_cast<const char*>(&v), bytes_per_value);
  return out;  // little-endian hosts only (x86-64, aarch64), as LibTorch here
}

// One image input -> an Image message.
absl::Status ToImage(const inference::ModelInferRequest& infer, int index, bool grey_only, v1::Image* image) {
  const Tensor& t = infer.inputs(index);
  const std::string where = absl::StrCat("inputs[", t.name(), "]");
  if (t.datatype() == "BYTES") {
    if (t.shape_size() == 0 || t.shape(0) != 1 || (t.shape_size() == 2 && t.shape(1) != 1) || t.shape_size() > 2)
      return absl::InvalidArgumentError(absl::StrCat(where, ".shape: BYTES holds one encoded image, shape [1]"));
    auto bytes = TensorBytes(infer, index, 1);
    if (!bytes.ok()) return bytes.status();
    // Raw BYTES contents carry each element's 4-byte little-endian length.
    std::string encoded = *bytes;
    if (infer.raw_input_contents_size() > 0) {
      uint32_t n = 0;
      if (encoded.size() < 4) return absl::InvalidArgumentError(absl::StrCat(where, ": BYTES element without length"));
      std::memcpy(&n, encoded.data(), 4);
      if (size_t(n) + 4 != encoded.size())
        return absl::InvalidArgumentError(absl::StrCat(where, ": BYTES length ", n, " does not match its contents"));
      encoded = encoded.substr(4);
    }
    image->set_encoded(std::move(encoded));
    return absl::OkStatus();
  }
  size_t bytes_per_value = 0;
  if (t.datatype() == "UINT8") bytes_per_value = 1;
  if (t.datatype() == "UINT16" && !grey_only) bytes_per_value = 2;
  if (bytes_per_value == 0)
    return absl::InvalidArgumentError(absl::StrCat(where, ".datatype: '", t.datatype(), "' is not ",
                                                   grey_only ? "UINT8 or BYTES" : "UINT8, UINT16 or BYTES"));
  std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
  if (shape.size() >= 3 && shape[0] == 1 && (shape.size() == 4 || shape[2] != 3)) shape.erase(shape.begin());
  const bool hwc = shape.size() == 3 && (shape[2] == 1 || shape[2] == 3);
  if (!(shape.size() == 2 || hwc) || shape[0] <= 0 || shape[1] <= 0 || (grey_only && hwc && shape[2] != 1))
    return absl::InvalidArgumentError(absl::StrCat(where, ".shape: [", absl::StrJoin(t.shape(), ","), "] is not ",
                                                   grey_only ? "[H,W]" : "[H,W] or [H,W,3]"));
  const int64_t channels = hwc ? shape[2] : 1;
  auto bytes = TensorBytes(infer, index, bytes_per_value);
  if (!bytes.ok()) return bytes.status();
  const int64_t want = shape[0] * shape[1] * channels * int64_t(bytes_per_value);
  if (int64_t(bytes->size()) != want)
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", bytes->size(), " bytes of data for shape [",
                                                   absl::StrJoin(t.shape(), ","), "] (", want, " expected)"));
  auto* raw = image->mutable_raw();
  raw->set_height(uint32_t(shape[0]));
  raw->set_width(uint32_t(shape[1]));
  raw->set_channels(uint32_t(channels));
  raw->set_bit_depth(uint32_t(8 * bytes_per_value));
  std::string pixels = std::move(*bytes);
  if (channels == 3) SwapRedBlue(&pixels, bytes_per_value);  // tensors are RGB, the API is BGR
  raw->set_pixels(std::move(pixels));
  return absl::OkStatus();
}

absl::Status UnknownModel(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("model '", name, "': this server serves '", kKServeModelName, "'"));
}

void AddOutput(const std::string& name, const v1::Image& image, inference::ModelInferResponse* out) {
  const auto& raw = image.raw();
  auto* t = out->add_outputs();
  t->set_name(name);
  t->set_datatype(raw.bit_depth() == 16 ? "UINT16" : "UINT8");
  t->add_shape(raw.height());
  t->add_shape(raw.width());
  if (raw.channels() == 3) t->add_shape(3);
  std::string pixels = raw.pixels();
  if (raw.channels() == 3) SwapRedBlue(&pixels, raw.bit_depth() / 8);
  out->add_raw_output_contents(std::move(pixels));
}

}  // namespace

absl::StatusOr<v1::FuseRequest> FuseRequestFromInfer(const inference::ModelInferRequest& infer) {
  v1::FuseRequest r;
  r.set_id(infer.id());
  std::map<std::string, int> index;
  for (int i = 0; i < infer.inputs_size(); ++i) {
    const std::string& name = infer.inputs(i).name();
    if (name != "INFRARED" && name != "VISIBLE" && name != "MASK")
      return absl::InvalidArgumentError(
          absl::StrCat("inputs[", name, "]: unknown input (the model takes INFRARED, VISIBLE and MASK)"));
    if (!index.emplace(name, i).second)
      return absl::InvalidArgumentError(absl::StrCat("inputs[", name, "]: given twice"));
  }
  for (const char* required : {"INFRARED", "VISIBLE"})
    if (!index.count(required)) return absl::InvalidArgumentError(absl::StrCat("inputs[", required, "]: missing"));
  if (auto s = ToImage(infer, index["INFRARED"], false, r.mutable_infrared()); !s.ok()) return s;
  if (auto s = ToImage(infer, index["VISIBLE"], false, r.mutable_visible()); !s.ok()) return s;
  if (index.count("MASK")) {
    if (auto s = ToImage(infer, index["MASK"], true, r.mutable_prompt()->mutable_mask()); !s.ok()) return s;
  } else {
    r.mutable_prompt()->mutable_none();
  }
  auto* o = r.mutable_options();
  o->set_encoding(v1::OUTPUT_ENCODING_RAW);
  for (const auto& [key, value] : infer.parameters()) {
    const auto choice = value.parameter_choice_case();
    if (key == "color" && choice == inference::InferParameter::kBoolParam) {
      o->set_color(value.bool_param() ? v1::COLOR_MODE_COLOR : v1::COLOR_MODE_GREY);
    } else if (key == "metrics" && choice == inference::InferParameter::kStringParam) {
      for (auto m : absl::StrSplit(value.string_param(), ',', absl::SkipEmpty())) o->add_metrics(std::string(m));
    } else if (key == "ir_normalization" && choice == inference::InferParameter::kStringParam) {
      o->set_ir_normalization(value.string_param());
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameters[", key, "]: unknown or of the wrong type (color: bool, metrics, ir_normalization: string)"));
    }
  }
  for (const auto& name : WantedOutputs(infer)) {
    if (name == "FUSED") continue;
    auto it = OutputMasks().find(name);
    if (it == OutputMasks().end())
      return absl::InvalidArgumentError(
          absl::StrCat("outputs[", name, "]: unknown output (FUSED, MASK, MASK_VISIBLE, MASK_INFRARED, PROMPT_MASK)"));
    o->add_return_masks(it->second);
  }
  return r;
}

absl::Status InferResponseFromFuse(const inference::ModelInferRequest& infer, const v1::FuseResponse& fused,
                                   inference::ModelInferResponse* out) {
  out->set_model_name(kKServeModelName);
  out->set_model_version("1");
  out->set_id(infer.id());
  for (const auto& name : WantedOutputs(infer)) {
    if (name == "FUSED") {
      AddOutput(name, fused.fused(), out);
      continue;
    }
    const v1::MaskKind kind = OutputMasks().at(name);
    const v1::OutputMask* found = nullptr;
    for (const auto& m : fused.masks())
      if (m.kind() == kind) found = &m;
    if (!found) return absl::InternalError(absl::StrCat("outputs[", name, "]: the pipeline returned no such mask"));
    AddOutput(name, found->image(), out);
  }
  for (const auto& [name, value] : fused.metrics())
    (*out->mutable_parameters())["metric." + name].set_double_param(value);
  return absl::OkStatus();
}

grpc::Status KServeServiceImpl::ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                                           inference::ServerLiveResponse* response) {
  response->set_live(true);
  return grpc::Status::OK;
}

grpc::Status KServeServiceImpl::ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                                            inference::ServerReadyResponse* response) {
  response->set_ready(fusion_->serving());
  return grpc::Status::OK;
}

grpc::Status KServeServiceImpl::ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* request,
                                           inference::ModelReadyResponse* response) {
  response->set_ready(fusion_->serving() && request->name() == kKServeModelName &&
                      (request->version().empty() || request->version() == "1"));
  return grpc::Status::OK;
}

grpc::Status KServeServiceImpl::ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                                               inference::ServerMetadataResponse* response) {
  response->set_name("ctrlfuse-serve");
  response->set_version(version_);
  return grpc::Status::OK;
}

grpc::Status KServeServiceImpl::ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* request,
                                              inference::ModelMetadataResponse* response) {
  if (request->name() != kKServeModelName) return ToGrpc(UnknownModel(request->name()));
  response->set_name(kKServeModelName);
  response->add_versions("1");
  response->set_platform(absl::StrCat("ctrlfuse-serve (", fusion_->info().config(), ")"));
  auto tensor = [](auto* list, const char* name, const char* type, std::vector<int64_t> shape) {
    auto* t = list->Add();
    t->set_name(name);
    t->set_datatype(type);
    for (int64_t d : shape) t->add_shape(d);
  };
  tensor(response->mutable_inputs(), "INFRARED", "UINT8", {-1, -1, -1});
  tensor(response->mutable_inputs(), "VISIBLE", "UINT8", {-1, -1, -1});
  tensor(response->mutable_inputs(), "MASK", "UINT8", {-1, -1});
  tensor(response->mutable_outputs(), "FUSED", "UINT8", {-1, -1, -1});
  for (const auto& [name, kind] : OutputMasks()) tensor(response->mutable_outputs(), name.c_str(), "UINT8", {-1, -1});
  return grpc::Status::OK;
}

grpc::Status KServeServiceImpl::ModelInfer(grpc::ServerContext* context, const inference::ModelInferRequest* request,
                                           inference::ModelInferResponse* response) {
  if (auto auth = fusion_->Authenticate(*context); !auth.ok()) {
    fusion_->CountAnswered("ModelInfer", auth);
    return ToGrpc(auth);
  }
  if (request->model_name() != kKServeModelName) {
    const absl::Status unknown = UnknownModel(request->model_name());
    fusion_->CountAnswered("ModelInfer", unknown);
    return ToGrpc(unknown);
  }
  auto fuse = FuseRequestFromInfer(*request);
  if (!fuse.ok()) {
    fusion_->CountAnswered("ModelInfer", fuse.status());
    return ToGrpc(fuse.status());
  }
  auto fused = fusion_->FuseCall(context, *fuse, "ModelInfer");
  if (!fused.ok()) return ToGrpc(fused.status());
  return ToGrpc(InferResponseFromFuse(*request, *fused, response));
}

}  // namespace ctrlfuse::server
