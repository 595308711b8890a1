#include "server/http_endpoint.h"

#include <CivetServer.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"

namespace ctrlfuse::server {

// One GET handler: writes `status` and `body` computed per request.
class HttpEndpoint::Handler : public CivetHandler {
 public:
  using Respond = std::function<void(int* status, std::string* content_type, std::string* body)>;
  explicit Handler(Respond respond) : respond_(std::move(respond)) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    int status = 200;
    std::string type = "text/plain; charset=utf-8", body;
    respond_(&status, &type, &body);
    mg_printf(conn, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
              status == 200 ? "OK" : "Service Unavailable", type.c_str(), body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

 private:
  Respond respond_;
};

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& address, Collect collect,
                                                                  Ready ready) {
  std::unique_ptr<HttpEndpoint> e(new HttpEndpoint());
  e->collect_ = std::move(collect);
  e->ready_ = std::move(ready);
  // Two threads: scrapes and probes are light and rare; civetweb's default
  // (50) would add threads for nothing.
  const std::vector<std::string> options = {"listening_ports", address, "num_threads", "2"};
  try {
    e->server_ = std::make_unique<CivetServer>(options);
  } catch (const std::exception& ex) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint on ", address, ": cannot listen (", ex.what(), "; is the port in use?)"));
  }
  const auto ports = e->server_->getListeningPorts();
  e->port_ = ports.empty() ? 0 : ports.front();
  HttpEndpoint* self = e.get();
  auto add = [&](const char* uri, Handler::Respond respond) {
    e->handlers_.push_back(std::make_unique<Handler>(std::move(respond)));
    e->server_->addHandler(uri, e->handlers_.back().get());
  };
  add("/metrics", [self](int*, std::string* type, std::string* body) {
    *type = "text/plain; version=0.0.4; charset=utf-8";
    *body = prometheus::TextSerializer().Serialize(self->collect_());
  });
  add("/healthz", [](int*, std::string*, std::string* body) { *body = "ok\n"; });
  add("/readyz", [self](int* status, std::string*, std::string* body) {
    const bool ready = self->ready_ && self->ready_();
    *status = ready ? 200 : 503;
    *body = ready ? "SERVING\n" : "NOT_SERVING\n";
  });
  return e;
}

HttpEndpoint::~HttpEndpoint() {
  // Stop serving (joins civetweb's threads) before the handlers go.
  if (server_) server_->close();
}

}  // namespace ctrlfuse::server
