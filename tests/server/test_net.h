// Helpers for tests that talk to a server over localhost: a minimal HTTP
// GET, Prometheus text parsing, and requests built from synthetic scenes.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

#include "ctrlfuse/v1/fusion.pb.h"
#include "image/scenes.h"

namespace ctrlfuse::testing {

struct HttpResponse {
  int status = 0;  // 0: no answer
  std::string body;
};

// GET http://127.0.0.1:port/path -> status and body.
inline HttpResponse HttpGetResponse(int port, const std::string& path) {
  HttpResponse out;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return out;
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, req.data(), req.size()) != ssize_t(req.size())) {
    close(fd);
    return out;
  }
  std::string resp;
  char buf[8192];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) resp.append(buf, size_t(n));
  close(fd);
  auto body = resp.find("\r\n\r\n");
  if (body == std::string::npos) return out;
  // "HTTP/1.x NNN reason"
  if (resp.size() > 12) out.status = std::atoi(resp.c_str() + resp.find(' ') + 1);
  out.body = resp.substr(body + 4);
  return out;
}

// GET http://127.0.0.1:port/path -> body ("" on failure).
inline std::string HttpGet(int port, const std::string& path) { return HttpGetResponse(port, path).body; }

// Prometheus text format -> {"name{labels}": value} (labels as printed).
inline std::map<std::string, double> ParseMetrics(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

inline std::string Png(const cv::Mat& m) {
  std::vector<uchar> buf;
  cv::imencode(".png", m, buf);
  return std::string(buf.begin(), buf.end());
}

// A request for synthetic scene `seed` at w x h with its first target as mask.
inline v1::FuseRequest SceneRequest(uint64_t seed, int w = 64, int h = 48, const std::string& id = "r") {
  image::SceneOptions o;
  o.seed = seed;
  o.width = w;
  o.height = h;
  auto scene = image::GenerateScene(o);
  v1::FuseRequest r;
  r.set_id(id);
  r.mutable_infrared()->set_encoded(Png(scene.infrared));
  r.mutable_visible()->set_encoded(Png(scene.visible));
  r.mutable_prompt()->mutable_mask()->set_encoded(Png(scene.targets.at(0).mask));
  r.mutable_options()->add_return_masks(v1::MASK_KIND_FUSED);
  return r;
}

}  // namespace ctrlfuse::testing
