// The C++ example of README.md, verbatim between the markers: it must
// compile, run and print what the README says. The last test checks that the
// README still shows exactly this program.
#include <doctest/doctest.h>
#include <uvrun/uvrun.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "support.h"

TEST_SUITE_BEGIN("cpp");

// Its own namespace keeps the example's names apart from other tests';
// its #include lines are no-ops here (already included above).
namespace readme {
// README example begin
#include <uvrun/uvrun.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

// Every log line names the request it serves; each task has its own value.
uvrun::ContextVar<std::string> request_id("request_id", "-");

// Blocking work: runs on the loop's thread pool, in the caller's context.
unsigned checksum(const std::string &data) {
  unsigned sum = 0;
  for (char c : data) sum = sum * 31 + static_cast<unsigned char>(c);
  std::printf("[%s] checksummed %s\n", request_id.get().c_str(), data.c_str());
  return sum;
}

// co_yield and co_await in one body.
uvrun::AsyncGenerator<std::string> pages(int n) {
  for (int i = 1; i <= n; i++) {
    co_await uvrun::sleep(5ms);  // the "network"
    co_yield "page " + std::to_string(i);
  }
}

uvrun::Task<unsigned> fetch(std::string name) {
  request_id.set(name);  // in this task's copy of the context only
  unsigned total = 0;
  auto gen = pages(3);
  while (auto page = co_await gen.next()) total += co_await uvrun::to_thread(checksum, *page);
  co_return total;
}

uvrun::Task<unsigned> amain() {
  auto [a, b] = co_await uvrun::gather(fetch("alpha"), fetch("beta"));  // concurrently
  std::printf("[%s] total %u\n", request_id.get().c_str(), a + b);
  co_return a + b;
}

int main() { return uvrun::run(amain()) > 0 ? 0 : 1; }
// README example end
}  // namespace readme

namespace {

size_t count(const std::string &text, const std::string &needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) n++;
  return n;
}

// This file and README.md, found from the compiled-in path (relative to the
// build directory) or from the test binary's place in it.
std::string read_source(const std::string &relative_to_build) {
  std::ifstream in(relative_to_build);
  if (!in) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
      std::string dir(exe, (size_t)n);
      dir = dir.substr(0, dir.rfind('/'));  // build/tests
      dir = dir.substr(0, dir.rfind('/'));  // build
      in.open(dir + "/" + relative_to_build);
    }
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string between(const std::string &text, const std::string &begin, const std::string &end) {
  size_t b = text.find(begin);
  size_t e = text.find(end, b == std::string::npos ? 0 : b);
  if (b == std::string::npos || e == std::string::npos) return "";
  b += begin.size();
  return text.substr(b, e - b);
}

}  // namespace

TEST_CASE("README the C++ example runs and prints what it says") {
  auto res = t::in_child([] { return readme::main(); });
  INFO("output:\n" << res.output);
  CHECK(res.exited);
  CHECK(res.code == 0);
  for (const char *name : {"alpha", "beta"})
    for (int page = 1; page <= 3; page++)
      CHECK(count(res.output, std::string("[") + name + "] checksummed page " + std::to_string(page) + "\n") == 1);
  unsigned expected = 0;
  for (int page = 1; page <= 3; page++) {
    std::string data = "page " + std::to_string(page);
    unsigned sum = 0;
    for (char c : data) sum = sum * 31 + static_cast<unsigned char>(c);
    expected += 2 * sum;
  }
  CHECK(count(res.output, "[-] total " + std::to_string(expected) + "\n") == 1);  // main's context
}

TEST_CASE("README shows exactly the program this test runs") {
  std::string self = read_source(__FILE__);
  std::string dir = __FILE__;
  dir = dir.substr(0, dir.rfind('/'));  // tests/cpp
  std::string readme = read_source(dir + "/../../README.md");
  REQUIRE_FALSE(self.empty());
  REQUIRE_FALSE(readme.empty());
  std::string program = between(self, "// README example begin\n", "// README example end\n");
  std::string shown = between(readme, "<!-- cpp-example: tests/cpp/test_readme.cpp -->\n```cpp\n", "```\n");
  CHECK_FALSE(program.empty());
  CHECK(shown == program);
}
