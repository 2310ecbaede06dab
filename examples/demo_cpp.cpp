// demo_cpp.cpp -- the demo's job with the C++20 layer: "fetch" five items
// concurrently in a TaskGroup, checksum each on the executor (blocking work
// stays off the loop), give up on the slow one after a timeout, print a
// summary. Takes about 2 seconds.
//
// Press Ctrl-C while it runs: the main task is cancelled (R41), its cleanup
// runs and awaits, and the program dies by SIGINT like any Unix tool (the
// shell sees 130). A second Ctrl-C stops at once (R44).
#include <signal.h>

#include <uvrun/uvrun.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Every log line names the request it serves (each task has its own).
uvrun::ContextVar<std::string> request_id("request_id", "-");
const auto started = std::chrono::steady_clock::now();

void log_line(const std::string &what) {
  double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%6.3fs [%s] %s\n", t, request_id.get().c_str(), what.c_str());
}

// Blocking work: a worker thread runs it, in the caller's context (X7).
unsigned checksum(std::vector<unsigned char> data) {
  unsigned sum = 0;
  for (unsigned char c : data) sum = sum * 31 + c;
  log_line("checksummed " + std::to_string(data.size() >> 10) + " KiB on a worker");
  return sum;
}

uvrun::Task<unsigned> fetch(int item, std::chrono::milliseconds latency) {
  request_id.set("item-" + std::to_string(item));
  log_line("fetching");
  co_await uvrun::sleep(latency);  // the "network"
  std::vector<unsigned char> data(1 << 20, static_cast<unsigned char>(item));
  co_return co_await uvrun::to_thread(checksum, std::move(data));
}

uvrun::Task<void> amain() {
  std::vector<uvrun::TaskHandle<unsigned>> fast;
  try {
    uvrun::TaskGroup group;
    for (int i = 0; i < 4; i++) fast.push_back(group.create_task(fetch(i, 300ms + 200ms * i)));
    co_await group;
    unsigned slow = 0;
    bool timed_out = false;
    try {
      slow = co_await uvrun::wait_for(uvrun::create_task(fetch(4, 10s)), 1s);  // a task: its own context
    } catch (const uvrun::TimeoutError &) {
      timed_out = true;
    }
    log_line(timed_out ? "item-4 timed out after 1 s" : "item-4: " + std::to_string(slow));
    unsigned total = 0;
    for (auto &f : fast) total += f.result();
    log_line("summary: 4 items, checksum total " + std::to_string(total));
  } catch (const uvrun::CancelledError &) {
    log_line("cleanup: main task cancelled");  // the group cancelled its tasks
  }
  if (uvrun::current_task().cancelling() > 0) {
    log_line("cleanup: flushing partial results...");
    co_await uvrun::sleep(200ms);  // cleanup may await
    log_line("cleanup: done");
    throw uvrun::CancelledError();  // end cancelled, so run() reports the interrupt
  }
}

}  // namespace

int main() {
  std::printf("demo (C++): fetching 5 items (Ctrl-C to interrupt)\n");
  try {
    uvrun::run(amain());
  } catch (const uvrun::KeyboardInterrupt &) {
    std::printf("interrupted: cleanup ran\n");
    std::fflush(stdout);
    signal(SIGINT, SIG_DFL);  // die the way a Ctrl-C'd program does: status 130
    raise(SIGINT);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "demo: %s\n", e.what());
    return 1;
  }
  return 0;
}
