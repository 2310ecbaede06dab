// W13 on uvrun's C++ layer (usage in ../oneshot.h): `spawn` awaits each
// `true` in turn; `cat` feeds cat's stdin from a second task (write awaits
// the drain) while the main task reads its stdout to the end.
#include <uvrun/uvrun.hpp>

#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "../oneshot.h"

namespace {

constexpr const char *kImpl = "uvrun-cpp";
constexpr std::size_t kChunk = 64 << 10;

uvrun::Task<int> spawn_true(const oneshot_args &args) {
  double start = oneshot_now();
  for (std::uint64_t i = 0; i < args.count; i++) {
    uvrun::Process p = uvrun::process::spawn({"true"});
    if (int rc = co_await p.wait(); rc != 0) {
      std::fprintf(stderr, "proc-uvrun-cpp: true returned %d\n", rc);
      co_return 1;
    }
  }
  double s = oneshot_now() - start;
  oneshot_report(kImpl, &args, s, static_cast<double>(args.count) / s);
  co_return 0;
}

uvrun::Task<void> feed(uvrun::Stream &in, std::uint64_t bytes) {
  const std::string chunk(kChunk, 'x');
  while (bytes > 0) {
    std::size_t n = bytes < kChunk ? static_cast<std::size_t>(bytes) : kChunk;
    co_await in.write(std::string_view(chunk).substr(0, n));
    bytes -= n;
  }
  in.close();  // cat sees the end
}

uvrun::Task<int> cat_round_trip(const oneshot_args &args) {
  uvrun::ProcessOptions o;
  o.std_in = o.std_out = uvrun::Stdio::pipe();
  uvrun::Process cat = uvrun::process::spawn({"cat"}, o);
  double start = oneshot_now();
  auto feeder = uvrun::create_task(feed(cat.std_in(), args.count));
  std::vector<char> buf(kChunk);
  std::uint64_t back = 0;
  while (std::size_t n = co_await cat.std_out().read_into(std::span<char>(buf))) back += n;
  co_await feeder;
  int rc = co_await cat.wait();
  if (rc != 0 || back != args.count) {
    std::fprintf(stderr, "proc-uvrun-cpp: cat returned %d and gave back %llu of %llu bytes\n", rc,
                 static_cast<unsigned long long>(back), static_cast<unsigned long long>(args.count));
    co_return 1;
  }
  double s = oneshot_now() - start;
  oneshot_report(kImpl, &args, s, static_cast<double>(back) / 1e6 / s);
  co_return 0;
}

}  // namespace

int main(int argc, char **argv) {
  oneshot_args args;
  if (int rc = oneshot_parse_args(argc, argv, "proc-uvrun-cpp", "proc", &args)) return rc;
  try {
    return uvrun::run(args.mode[0] == 's' ? spawn_true(args) : cat_round_trip(args));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "proc-uvrun-cpp %s: %s\n", args.mode, e.what());
    return 1;
  }
}
