// W14 on uvrun's C++ layer (usage in ../oneshot.h): co_await
// uvrun::fs::read_file() of the same file N times in turn; `big` times each
// read and reports the median.
#include <uvrun/uvrun.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include "../oneshot.h"

namespace {

uvrun::Task<int> read_files(const oneshot_args &args) {
  std::vector<double> mb_s;
  std::size_t size = 0;
  double start = oneshot_now();
  for (std::uint64_t i = 0; i < args.count; i++) {
    double t = oneshot_now();
    std::string bytes = co_await uvrun::fs::read_file(args.path);
    if (i == 0) size = bytes.size();
    if (bytes.size() != size || size == 0) {
      std::fprintf(stderr, "files-uvrun-cpp: read %zu bytes, then %zu\n", size, bytes.size());
      co_return 1;
    }
    if (args.mode[0] == 'b') mb_s.push_back(static_cast<double>(size) / 1e6 / (oneshot_now() - t));
  }
  double s = oneshot_now() - start;
  oneshot_report("uvrun-cpp", &args, s,
                 mb_s.empty() ? static_cast<double>(args.count) / s : oneshot_median(mb_s.data(), mb_s.size()));
  co_return 0;
}

}  // namespace

int main(int argc, char **argv) {
  oneshot_args args;
  if (int rc = oneshot_parse_args(argc, argv, "files-uvrun-cpp", "files", &args)) return rc;
  try {
    return uvrun::run(read_files(args));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "files-uvrun-cpp %s: %s\n", args.mode, e.what());
    return 1;
  }
}
