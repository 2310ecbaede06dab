// C++ name lookups (N1, E): getnameinfo beside getaddrinfo.
#include <doctest/doctest.h>
#include <netdb.h>
#include <uvrun/uvrun.hpp>

#include <string>

TEST_SUITE_BEGIN("cpp");

TEST_CASE("N1: C++ getnameinfo of 127.0.0.1:80 gives the host and the service, numeric or by name") {
  auto [numeric, named] = uvrun::run([]() -> uvrun::Task<std::pair<uvrun::NameInfo, uvrun::NameInfo>> {
    uvrun::NameInfo n = co_await uvrun::getnameinfo("127.0.0.1", 80, NI_NUMERICHOST | NI_NUMERICSERV);
    uvrun::NameInfo m = co_await uvrun::getnameinfo("127.0.0.1", 80);
    co_return std::pair{n, m};
  }());
  CHECK(numeric.host == "127.0.0.1");
  CHECK(numeric.service == "80");
  CHECK(named.host == "localhost");
  CHECK(named.service == "http");
}

TEST_CASE("N1: C++ getnameinfo of an IPv6 address with numeric flags") {
  auto info = uvrun::run([]() -> uvrun::Task<uvrun::NameInfo> {
    co_return co_await uvrun::getnameinfo("::1", 8080, NI_NUMERICHOST | NI_NUMERICSERV);
  }());
  CHECK(info.host == "::1");
  CHECK(info.service == "8080");
}

TEST_CASE("E: C++ getnameinfo of a name or a bad port throws the argument error, naming it") {
  uvrun::run([]() -> uvrun::Task<void> {
    std::string messages;
    for (auto [host, port] : {std::pair{"localhost", 80}, std::pair{"::1", 65536}}) {
      try {
        co_await uvrun::getnameinfo(host, port);
      } catch (const uvrun::OSError &) {
        messages += "(OSError)";  // an argument error is not an I/O failure
      } catch (const uvrun::Error &e) {
        CHECK(e.code() == UVRUN_E_INVAL);
        messages += std::string(e.what()) + "|";
      }
    }
    CHECK(messages ==
          "getnameinfo: \"localhost\" is not a numeric address|getnameinfo: port must be 0..65535, not 65536|");
  }());
}
