// The C API's error codes and version: every code of UVRUN_ERRNO_MAP has
// a name and a message, and the version macros agree with the functions.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <set>
#include <string>

#include "misuse_support.h"

TEST_SUITE_BEGIN("misuse");

using namespace misuse;

// ---- codes and versions -------------------------------------------------------------------------------

TEST_CASE("misuse: uvrun_err_name and uvrun_strerror cover every code of UVRUN_ERRNO_MAP") {
  std::set<int> values;
  size_t n = 0;
#define XX(name, value, msg)                                       \
  {                                                                \
    CAPTURE(#name);                                                \
    CHECK(std::string(uvrun_err_name(value)) == "UVRUN_E_" #name); \
    CHECK(std::string(uvrun_strerror(value)) == msg);              \
    CHECK((value) < 0);                                            \
    values.insert(value);                                          \
    n++;                                                           \
  }
  UVRUN_ERRNO_MAP(XX)
#undef XX
  CHECK(values.size() == n);  // no two codes share a value
  for (int v : values) {
    CAPTURE(v);
    bool errno_like = v > -4096;
    bool own = v <= -20000 && v > UVRUN_E_MAX_ - 1;
    CHECK((errno_like || own));
  }
  for (int unknown : {-19999, -20099, -1234567, 42}) {
    CAPTURE(unknown);
    REQUIRE(uvrun_err_name(unknown) != nullptr);
    REQUIRE(uvrun_strerror(unknown) != nullptr);
    CHECK(std::string(uvrun_err_name(unknown)).rfind("UVRUN_E_", 0) == 0);
    CHECK(!std::string(uvrun_strerror(unknown)).empty());
  }
}

TEST_CASE("misuse: the version macros agree with uvrun_version() and uvrun_version_string()") {
  CHECK(uvrun_version() == (unsigned)UVRUN_VERSION_HEX);
  CHECK(UVRUN_VERSION_HEX == ((UVRUN_VERSION_MAJOR << 16) | (UVRUN_VERSION_MINOR << 8) | UVRUN_VERSION_PATCH));
  std::string expected = std::to_string(UVRUN_VERSION_MAJOR) + "." + std::to_string(UVRUN_VERSION_MINOR) + "." +
                         std::to_string(UVRUN_VERSION_PATCH);
  CHECK(std::string(uvrun_version_string()) == expected);
}
