// W15 on uvrun's C++ layer (usage in bench_threads.h): a BackgroundRunner;
// this thread submits a Task<int> and blocks on ThreadFuture<int>::get().
#include <uvrun/uvrun.hpp>

#include <cstdio>
#include <vector>

#include "bench_threads.h"

namespace {

constexpr const char *kImpl = "uvrun-cpp";

uvrun::Task<int> answer() { co_return 42; }

void check(int value) {
  if (value != 42) throw std::runtime_error("a task gave " + std::to_string(value) + ", not 42");
}

void roundtrip(uvrun::BackgroundRunner &bg, std::uint64_t n) {
  std::vector<double> trips(n);
  double start = oneshot_now();
  for (double &trip : trips) {
    double t0 = oneshot_now();
    check(bg.submit(answer()).get());
    trip = oneshot_now() - t0;
  }
  threads_report_roundtrip(kImpl, trips.data(), n, oneshot_now() - start);
}

void burst(uvrun::BackgroundRunner &bg, std::uint64_t n) {
  std::vector<uvrun::ThreadFuture<int>> futures;
  futures.reserve(n);
  double start = oneshot_now();
  for (std::uint64_t i = 0; i < n; i++) futures.push_back(bg.submit(answer()));
  for (auto &f : futures) check(f.get());
  threads_report_burst(kImpl, n, oneshot_now() - start);
}

}  // namespace

int main(int argc, char **argv) {
  const char *mode;
  std::uint64_t n;
  if (int rc = threads_parse_args(argc, argv, "threads-uvrun-cpp", &mode, &n)) return rc;
  try {
    uvrun::BackgroundRunner bg;
    if (mode[0] == 'r') roundtrip(bg, n);
    else burst(bg, n);
    bg.stop();
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "threads-uvrun-cpp %s: %s\n", mode, e.what());
    return 1;
  }
}
