// C++ layer micro-benchmarks (run with scripts/bench.sh, never as tests).
#include <benchmark/benchmark.h>
#include <uvrun/uvrun.hpp>

#include <sys/resource.h>

#include <chrono>
#include <vector>

using namespace std::chrono_literals;

namespace {

uvrun::Task<int> leaf(int i) { co_return i; }

// Awaiting a child coroutine inline: no scheduling, no task object.
void BM_inline_await(benchmark::State &state) {
  auto body = [&]() -> uvrun::Task<void> {
    long sum = 0;
    for (auto _ : state) sum += co_await leaf(1);
    benchmark::DoNotOptimize(sum);
  };
  uvrun::run(body());
}
BENCHMARK(BM_inline_await);

// create_task + co_await of a task that returns at once.
void BM_spawn_await(benchmark::State &state) {
  auto body = [&]() -> uvrun::Task<void> {
    long sum = 0;
    for (auto _ : state) sum += co_await uvrun::create_task(leaf(1));
    benchmark::DoNotOptimize(sum);
  };
  uvrun::run(body());
}
BENCHMARK(BM_spawn_await);

// Two tasks passing control back and forth through the scheduler.
void BM_yield_switch(benchmark::State &state) {
  auto body = [&]() -> uvrun::Task<void> {
    bool stop = false;
    auto other = uvrun::create_task([](bool &stop) -> uvrun::Task<void> {
      while (!stop) co_await uvrun::yield();
    }(stop));
    for (auto _ : state) co_await uvrun::yield();
    stop = true;
    co_await other;
  };
  uvrun::run(body());
  state.SetItemsProcessed(state.iterations() * 2);  // two switches per iteration
}
BENCHMARK(BM_yield_switch);

long peak_rss_kb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// 100k tasks sleeping 10 ms at once: wall time and peak memory per task.
void BM_sleeping_tasks(benchmark::State &state) {
  const int n = (int)state.range(0);
  long rss_before = peak_rss_kb();
  for (auto _ : state) {
    auto body = [n]() -> uvrun::Task<void> {
      std::vector<uvrun::TaskHandle<void>> tasks;
      tasks.reserve(n);
      for (int i = 0; i < n; i++)
        tasks.push_back(uvrun::create_task([]() -> uvrun::Task<void> { co_await uvrun::sleep(10ms); }()));
      for (auto &t : tasks) co_await t;
    };
    uvrun::run(body());
  }
  state.counters["bytes_per_task"] = double(peak_rss_kb() - rss_before) * 1024.0 / n;
}
BENCHMARK(BM_sleeping_tasks)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
