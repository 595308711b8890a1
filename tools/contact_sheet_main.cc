// ctrlfuse-contact-sheet: one row per scene, infrared | visible | prompt |
// fused (and the predicted mask when present), written as one PNG.
#include <filesystem>
#include <iostream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/folder_pairs.h"

ABSL_FLAG(std::string, ir_dir, "", "Infrared folder.");
ABSL_FLAG(std::string, vis_dir, "", "Visible folder.");
ABSL_FLAG(std::string, mask_dir, "", "Prompt mask folder.");
ABSL_FLAG(std::string, fused_dir, "", "Fused outputs (NAME.png, NAME_mask.png).");
ABSL_FLAG(std::string, out, "contact_sheet.png", "Output PNG.");
ABSL_FLAG(int, tile_width, 240, "Width of each tile.");

namespace {
cv::Mat Tile(const std::string& path, int width, const char* caption) {
  cv::Mat img = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (img.empty()) img = cv::Mat(3 * width / 4, width, CV_8UC3, cv::Scalar(40, 0, 40));
  if (img.depth() == CV_16U) cv::normalize(img, img, 0, 255, cv::NORM_MINMAX, CV_8U);
  if (img.channels() == 1) cv::cvtColor(img, img, cv::COLOR_GRAY2BGR);
  cv::resize(img, img, cv::Size(width, img.rows * width / img.cols), 0, 0, cv::INTER_AREA);
  cv::putText(img, caption, {6, 18}, cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 255, 255), 1, cv::LINE_AA);
  return img;
}
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  namespace fs = std::filesystem;
  std::vector<fs::path> names;  // every infrared image; the other tiles by the same name
  for (const auto& p : ctrlfuse::common::PairByStem({absl::GetFlag(FLAGS_ir_dir)}).pairs)
    names.push_back(fs::path(p.paths[0]).filename());
  const int w = absl::GetFlag(FLAGS_tile_width);
  std::vector<cv::Mat> rows;
  for (const auto& n : names) {
    const std::string stem = n.stem().string(), fused = absl::GetFlag(FLAGS_fused_dir) + "/" + stem;
    std::vector<cv::Mat> tiles = {Tile(absl::GetFlag(FLAGS_ir_dir) + "/" + n.string(), w, "infrared"),
                                  Tile(absl::GetFlag(FLAGS_vis_dir) + "/" + n.string(), w, "visible"),
                                  Tile(absl::GetFlag(FLAGS_mask_dir) + "/" + n.string(), w, "prompt"),
                                  Tile(fused + ".png", w, "fused"), Tile(fused + "_mask.png", w, "predicted mask")};
    cv::Mat row;
    cv::hconcat(tiles, row);
    rows.push_back(row);
  }
  if (rows.empty()) {
    std::cerr << "no images in " << absl::GetFlag(FLAGS_ir_dir) << std::endl;
    return 1;
  }
  cv::Mat sheet;
  cv::vconcat(rows, sheet);
  if (!cv::imwrite(absl::GetFlag(FLAGS_out), sheet)) {
    std::cerr << "cannot write " << absl::GetFlag(FLAGS_out) << std::endl;
    return 1;
  }
  std::cout << "contact sheet: " << absl::GetFlag(FLAGS_out) << " (" << rows.size() << " scenes)" << std::endl;
  return 0;
}
