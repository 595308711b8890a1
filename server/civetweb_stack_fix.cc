// Works around a Debian 12 fault: the metrics port's HTTP server (civetweb,
// built with a 100 KiB thread stack) cannot start its threads once OpenBLAS,
// glog and LibTorch are loaded, because glibc must fit every library's
// static TLS into that stack (pthread_create fails with EINVAL and the
// CivetServer constructor throws "null context when constructing
// CivetServer"; server/http_endpoint.cc builds one). Linked into
// executables that serve metrics, this definition interposes libc's and
// raises any requested stack below 1 MiB to 1 MiB.
#include <dlfcn.h>
#include <pthread.h>

#include <algorithm>
#include <cstddef>

extern "C" int pthread_attr_setstacksize(pthread_attr_t* attr, size_t size) {
  using Fn = int (*)(pthread_attr_t*, size_t);
  static Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  return real(attr, std::max<size_t>(size, size_t{1} << 20));
}
