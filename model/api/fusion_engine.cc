#include "model/api/fusion_engine.h"

#include <torch/torch.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "model/checkpoint/checkpoint.h"
#include "model/ctrlfuse_net.h"
#include "model/device.h"
#include "model/preprocess.h"

namespace ctrlfuse::api {
namespace {

using model::CtrlFuseNet;

class TorchEncodedPair : public EncodedPair {
 public:
  model::Encoding encoding;  // batch of 1, padded to even size
  torch::Tensor vis_bgr;     // [1,3,H,W] in [0,1] when the visible image had colour
  int w = 0, h = 0;          // original size
  int width() const override { return w; }
  int height() const override { return h; }
  int64_t bytes() const override {
    return encoding.bytes() + (vis_bgr.defined() ? vis_bgr.numel() * vis_bgr.element_size() : 0);
  }
};

// [H,W,C] host image -> [1,C,H,W] float: in [0,1], or, with `counts`, the
// sensor's raw values (0..255 or 0..65535) for NormalizeInfrared, which
// does the scaling for both bit depths (as training does). Scaling here too
// once fed the network an 8-bit infrared image divided by 255 twice.
torch::Tensor ToTensor(const ImageData& img, bool counts) {
  const int64_t h = img.height, w = img.width, c = img.channels;
  torch::Tensor t;
  if (img.bit_depth == 8) {
    t = torch::from_blob(const_cast<uint8_t*>(img.bytes.data()), {h, w, c}, torch::kUInt8).to(torch::kFloat32);
    if (!counts) t = t / 255.0;
  } else {
    // Widen through int32: LibTorch 2.x's uint16 dtype has only partial
    // operator coverage; int32 has every op used here.
    auto wide = torch::empty({h, w, c}, torch::kInt32);
    const auto* src = reinterpret_cast<const uint16_t*>(img.bytes.data());
    auto* dst = wide.data_ptr<int32_t>();
    for (int64_t i = 0; i < h * w * c; ++i) dst[i] = src[i];
    t = counts ? wide.to(torch::kFloat32) : wide.to(torch::kFloat32) / 65535.0;
  }
  return t.permute({2, 0, 1}).unsqueeze(0).contiguous();
}

std::vector<uint8_t> ToBytes(const torch::Tensor& x01) {  // [1,C,H,W] -> HWC uint8
  auto t =
      (x01.squeeze(0).permute({1, 2, 0}).to(torch::kFloat32).clamp(0, 1) * 255).round().to(torch::kUInt8).contiguous();
  return std::vector<uint8_t>(t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel());
}

class TorchFusionEngine : public FusionEngine {
 public:
  TorchFusionEngine(CtrlFuseNet net, model::Placement placement, ModelInfo info, bool flush_denormals)
      : net_(std::move(net)), placement_(placement), info_(std::move(info)), flush_denormals_(flush_denormals) {}

  absl::StatusOr<std::vector<std::shared_ptr<const EncodedPair>>> Encode(
      const std::vector<EncodeInput>& batch) override {
    if (batch.empty()) return absl::InvalidArgumentError("Encode: empty batch");
    std::vector<const ImageData*> ir, vis;
    for (const auto& in : batch) {
      if (!in.ir || !in.vis) return absl::InvalidArgumentError("Encode: missing image");
      ir.push_back(in.ir);
      vis.push_back(in.vis);
    }
    const int w = ir[0]->width, h = ir[0]->height;
    for (size_t i = 0; i < ir.size(); ++i) {
      if (auto s = CheckImageData(*ir[i], "infrared"); !s.ok()) return s;
      if (auto s = CheckImageData(*vis[i], "visible"); !s.ok()) return s;
      if (ir[i]->width != w || ir[i]->height != h || vis[i]->width != w || vis[i]->height != h)
        return absl::InvalidArgumentError("Encode: all images of a batch must share one size");
    }
    try {
      torch::InferenceMode guard;
      model::FlushDenormalsGuard flush(flush_denormals_);
      model::AutocastGuard amp(placement_);
      std::vector<torch::Tensor> irs, viss, colours;
      for (size_t i = 0; i < ir.size(); ++i) {
        // Colour frames become grey as the release loads them: rounded
        // integer levels (model::RoundedGreyCounts), then scaled.
        auto ir_t = ToTensor(*ir[i], /*counts=*/true);
        if (ir_t.size(1) == 3) ir_t = model::RoundedGreyCounts(ir_t);  // a grey frame stored as BGR
        auto plane = model::NormalizeInfrared(ir_t[0][0], ir[i]->bit_depth, batch[i].options.ir_normalization);
        irs.push_back(plane.view({1, 1, h, w}).expand({1, 3, h, w}));
        const double vis_max = vis[i]->bit_depth == 8 ? 255.0 : 65535.0;
        auto vis_t = ToTensor(*vis[i], /*counts=*/true);
        colours.push_back(vis_t.size(1) == 3 ? vis_t / vis_max : torch::Tensor());
        auto grey = (vis_t.size(1) == 3 ? model::RoundedGreyCounts(vis_t) : vis_t) / vis_max;
        viss.push_back(grey.expand({1, 3, h, w}));
      }
      auto prep = [&](std::vector<torch::Tensor>& xs) {
        auto x = model::ToPlacement(model::PadToEven(torch::cat(xs, 0)), placement_);
        return placement_.channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
      };
      auto enc = net_->Encode(prep(viss), prep(irs));
      std::vector<std::shared_ptr<const EncodedPair>> out;
      for (size_t i = 0; i < ir.size(); ++i) {
        auto p = std::make_shared<TorchEncodedPair>();
        // Clone: a slice would pin the whole batch's memory in the cache.
        auto slice = enc.Slice(int64_t(i), int64_t(i) + 1);
        p->encoding = slice.Clone();
        p->vis_bgr = colours[i];
        p->w = w;
        p->h = h;
        out.push_back(std::move(p));
      }
      return out;
    } catch (const c10::OutOfMemoryError& e) {
      // The server splits the batch and retries on RESOURCE_EXHAUSTED.
      return absl::ResourceExhaustedError(absl::StrCat("encode: out of device memory: ", e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("encode: out of host memory");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("encode failed: ", e.what()));
    }
  }

  absl::StatusOr<std::vector<FusedImage>> Decode(const std::vector<DecodeRequest>& batch) override {
    if (batch.empty()) return std::vector<FusedImage>{};
    std::vector<model::Encoding> parts;
    const int w = batch[0].pair ? batch[0].pair->width() : 0, h = batch[0].pair ? batch[0].pair->height() : 0;
    for (const auto& r : batch) {
      const auto* p = dynamic_cast<const TorchEncodedPair*>(r.pair.get());
      if (!p) return absl::InvalidArgumentError("Decode: missing or foreign encoding");
      if (p->w != w || p->h != h) return absl::InvalidArgumentError("Decode: all pairs of a batch must share one size");
      if (!r.mask.empty() && r.mask.size() != size_t(w) * size_t(h))
        return absl::InvalidArgumentError(absl::StrCat("mask: ", r.mask.size(), " values, expected ", w * h));
      parts.push_back(p->encoding);
    }
    try {
      torch::InferenceMode guard;
      model::FlushDenormalsGuard flush(flush_denormals_);
      model::AutocastGuard amp(placement_);
      std::vector<torch::Tensor> masks;
      masks.reserve(batch.size());
      for (const auto& r : batch) {
        masks.push_back(r.mask.empty()
                            ? torch::zeros({1, 1, h, w})
                            : torch::from_blob(const_cast<uint8_t*>(r.mask.data()), {1, 1, h, w}, torch::kUInt8)
                                      .to(torch::kFloat32) /
                                  255.0);
      }
      auto mask = model::ToPlacement(model::PadToEven(torch::cat(masks, 0)), placement_);
      auto out = net_->Decode(model::Encoding::Concat(parts), mask);
      std::vector<FusedImage> results;
      for (size_t i = 0; i < batch.size(); ++i) {
        auto row = [&](const torch::Tensor& t) {
          return model::CropTo(t.slice(0, i, i + 1), h, w).to(torch::kCPU).to(torch::kFloat32);
        };
        const auto* p = static_cast<const TorchEncodedPair*>(batch[i].pair.get());
        FusedImage f;
        f.width = w;
        f.height = h;
        torch::Tensor fused;  // [1,1,h,w] on the host, once
        auto fused_row = [&] { return fused.defined() ? fused : (fused = row(out.fused)); };
        for (Output o : batch[i].outputs) {
          switch (o) {
            case Output::kFused:
              f.fused = ToBytes(fused_row());
              break;
            case Output::kFusedColour:
              if (p->vis_bgr.defined()) f.fused_bgr = ToBytes(model::ColorizeWithVisible(fused_row(), p->vis_bgr));
              break;
            case Output::kMask:
              f.mask = ToBytes(row(out.pred_mask));
              break;
            case Output::kMaskVisible:
              f.mask_vis = ToBytes(row(out.pred_mask_vis));
              break;
            case Output::kMaskInfrared:
              f.mask_ir = ToBytes(row(out.pred_mask_ir));
              break;
            case Output::kReference:
              f.i_ref = ToBytes(row(out.i_ref));
              break;
          }
        }
        results.push_back(std::move(f));
      }
      return results;
    } catch (const c10::OutOfMemoryError& e) {
      // The server splits the batch and retries on RESOURCE_EXHAUSTED.
      return absl::ResourceExhaustedError(absl::StrCat("decode: out of device memory: ", e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("decode: out of host memory");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("decode failed: ", e.what()));
    }
  }

  absl::StatusOr<std::vector<uint8_t>> SegmentVisible(const ImageData& vis, const GeometricPrompt& prompt) override {
    if (auto s = CheckImageData(vis, "visible"); !s.ok()) return s;
    if (prompt.boxes.empty() && prompt.points.empty()) return absl::InvalidArgumentError("prompt: no boxes or points");
    try {
      torch::InferenceMode guard;
      model::FlushDenormalsGuard flush(flush_denormals_);
      model::AutocastGuard amp(placement_);
      auto img = ToTensor(vis, false);
      // Stays on the host: SAM resizes it there and uploads only the result.
      auto rgb = (img.size(1) == 3 ? img.flip(1) : img.expand({1, 3, -1, -1})) * 255.0;
      // SAM takes one box per prompt: every box is its own prompt (with all
      // the points), decoded against one image embedding; masks are OR-ed.
      const int64_t n = prompt.boxes.empty() ? 1 : int64_t(prompt.boxes.size());
      auto fopts = torch::TensorOptions().dtype(placement_.dtype).device(placement_.device);
      model::sam::GeometricPrompt sam_prompt;
      if (!prompt.boxes.empty()) {
        std::vector<float> xyxy;
        for (const auto& b : prompt.boxes) xyxy.insert(xyxy.end(), {b.x0, b.y0, b.x1, b.y1});
        sam_prompt.boxes = torch::tensor(xyxy).view({n, 4}).to(fopts);
      }
      if (!prompt.points.empty()) {
        std::vector<float> xy;
        std::vector<int64_t> labels;
        for (const auto& pt : prompt.points) {
          xy.insert(xy.end(), {pt.x, pt.y});
          labels.push_back(pt.foreground ? 1 : 0);
        }
        sam_prompt.points = torch::tensor(xy).view({1, -1, 2}).expand({n, -1, 2}).to(fopts);
        sam_prompt.point_labels = torch::tensor(labels).view({1, -1}).expand({n, -1}).to(placement_.device);
      }
      auto masks = net_->sam_model->SegmentWithPrompts(rgb, sam_prompt) > 0;  // [n,1,H,W]
      auto any = masks.any(0, /*keepdim=*/true);
      return ToBytes(any.to(torch::kCPU).to(torch::kFloat32));
    } catch (const c10::OutOfMemoryError& e) {
      // The server splits the batch and retries on RESOURCE_EXHAUSTED.
      return absl::ResourceExhaustedError(
          absl::StrCat("segmentation: out of device memory: ", e.what_without_backtrace()));
    } catch (const std::bad_alloc&) {
      return absl::ResourceExhaustedError("segmentation: out of host memory");
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("segmentation failed: ", e.what()));
    }
  }

  const ModelInfo& info() const override { return info_; }

 private:
  CtrlFuseNet net_;
  model::Placement placement_;
  ModelInfo info_;
  const bool flush_denormals_;
};

}  // namespace

absl::Status CheckImageData(const ImageData& img, const char* field) {
  if (img.width <= 0 || img.height <= 0) return absl::InvalidArgumentError(absl::StrCat(field, ": empty image"));
  if (img.channels != 1 && img.channels != 3)
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", img.channels, " channels, expected 1 or 3"));
  if (img.bit_depth != 8 && img.bit_depth != 16)
    return absl::InvalidArgumentError(absl::StrCat(field, ": bit depth ", img.bit_depth, ", expected 8 or 16"));
  if (img.bytes.size() != img.ExpectedBytes())
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", img.bytes.size(), " bytes, expected ", img.ExpectedBytes()));
  return absl::OkStatus();
}

std::vector<std::string> KnownConfigs() { return model::ConfigNames(); }

absl::StatusOr<std::unique_ptr<FusionEngine>> FusionEngine::Create(const EngineOptions& options) {
  model::ModelConfig config;
  if (!model::FindConfig(options.config, &config))
    return absl::InvalidArgumentError(absl::StrCat("config: unknown '", options.config, "'"));
  model::Placement placement;
  if (auto err = model::ParsePlacement(options.device, options.precision, &placement); !err.empty())
    return absl::InvalidArgumentError(err);
  model::ConfigureThreads(options.threads);
  try {
    torch::manual_seed(options.seed);
    CtrlFuseNet net(config);
    ModelInfo info;
    info.checkpoint_kind = "seeded-random";
    if (!options.checkpoint.empty()) info.checkpoint_kind = model::LoadAnyCheckpoint(net, options.checkpoint);
    net->eval();
    net->to(placement.device, placement.dtype);
    if (placement.channels_last) {
      torch::NoGradGuard no_grad;
      for (auto& p : net->parameters())
        if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
    for (const auto& p : net->parameters()) info.num_parameters += p.numel();
    info.config = config.name;
    info.device = placement.device.str();
    info.precision = options.precision;
    info.checkpoint = options.checkpoint;
    info.sam_input = config.sam.img_size;
    info.num_queries = config.num_queries;
    info.feature_dim = config.feature_dim;
    return std::unique_ptr<FusionEngine>(
        new TorchFusionEngine(std::move(net), placement, std::move(info), options.flush_denormals));
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(absl::StrCat("loading model: ", e.what()));
  }
}

}  // namespace ctrlfuse::api
