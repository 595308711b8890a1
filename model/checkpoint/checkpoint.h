// Loading and saving weights: the official CtrlFuse file, an official SAM
// file into the SAM part, and this project's own checkpoints. Every failure
// throws std::runtime_error whose message lists the missing, unexpected and
// mis-shaped keys.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "model/checkpoint/torch_pickle.h"
#include "model/ctrlfuse_net.h"

namespace ctrlfuse::model {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Parameters and buffers of a module, in registration order.
NamedTensors StateDict(const torch::nn::Module& module);

// Copies `entries` into `module` by name. Strict: any missing, unexpected or
// mis-shaped key (or a float/integer dtype mix-up) fails the whole load and
// leaves the module unchanged. `what` names the file in messages.
void LoadStateDict(torch::nn::Module& module, const NamedTensors& entries, const std::string& what);

// The tensors of a pickled state_dict (string keys, tensor values); throws
// naming `what` otherwise.
NamedTensors TensorDict(const ckpt::PyValue& dict, const std::string& what);

// The release's file: {"model": state_dict, "optimizer", "lr_schedule", "epoch"}.
void LoadOfficialCtrlFuse(CtrlFuseNet& net, const std::string& path);
// An official SAM file (image_encoder.*, prompt_encoder.*, mask_decoder.*)
// into net's SAM part (or a bare SAM module).
void LoadOfficialSam(sam::Sam& sam, const std::string& path);

inline constexpr const char* kCheckpointFormat = "ctrlfuse-serve/checkpoint-v1";

// This project's checkpoint: {"format", "config", "model", extra...}.
void SaveCheckpoint(const CtrlFuseNet& net, const std::string& path,
                    std::vector<std::pair<std::string, ckpt::PyPtr>> extra = {});
// Refuses a file whose recorded config differs from net's. Returns the
// whole decoded file so callers can read their extra entries.
ckpt::PyPtr LoadCheckpoint(CtrlFuseNet& net, const std::string& path);

// Detects the file kind (own, official CtrlFuse, official SAM) and loads it.
// Returns "ctrlfuse-serve", "ctrlfuse-official" or "sam-official".
std::string LoadAnyCheckpoint(CtrlFuseNet& net, const std::string& path);

// Reads the config name recorded in one of this project's checkpoints.
std::string CheckpointConfigName(const std::string& path);

}  // namespace ctrlfuse::model
