// uvrun/names.hpp -- name lookup on the loop's executor.
#pragma once

#include <uvrun.h>

#include <string>
#include <string_view>
#include <vector>

#include "future.hpp"
#include "stream.hpp"

namespace uvrun {

struct NameInfo {
  std::string host;
  std::string service;
};

namespace detail {

struct AddressesAwaiter : IoAwaiter {
  using IoAwaiter::IoAwaiter;
  std::vector<Address> await_resume() {
    std::vector<Address> out;
    for (auto *a = static_cast<const uvrun_address_t *>(IoAwaiter::await_resume()); a != nullptr; a = a->next)
      out.push_back({a->host, a->port});
    return out;
  }
};

// The C value is "host\0service", owned by the future.
struct NameInfoAwaiter : IoAwaiter {
  using IoAwaiter::IoAwaiter;
  NameInfo await_resume() {
    const char *host = static_cast<const char *>(IoAwaiter::await_resume());
    std::string h(host);
    return {h, host + h.size() + 1};
  }
};

}  // namespace detail

// The addresses host resolves to, for service (a port number or a name);
// family: 0 (any), AF_INET or AF_INET6.
// (Views, not default std::string temporaries: see tcp::connect.)
inline detail::AddressesAwaiter getaddrinfo(std::string_view host, std::string_view service = {}, int family = 0) {
  std::string h(host), s(service);
  return detail::AddressesAwaiter(
      uvrun_getaddrinfo(running_loop(), h.c_str(), s.empty() ? nullptr : s.c_str(), family, 0));
}

// The name of a numeric address and of its port's service (asyncio's
// getnameinfo); flags: NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD...
inline detail::NameInfoAwaiter getnameinfo(std::string_view host, int port, int flags = 0) {
  std::string h(host);
  return detail::NameInfoAwaiter(uvrun_getnameinfo(running_loop(), h.c_str(), port, flags));
}

}  // namespace uvrun
