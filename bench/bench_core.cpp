// Core micro-benchmarks: uvrun against raw libuv, measured in the same run.
// Run with scripts/bench.sh (not part of the tests).
#include <benchmark/benchmark.h>
#include <uv.h>
#include <uvrun.h>

#include <atomic>
#include <thread>

namespace {

int return_at_once(uvrun_task_t *, void *) { return 0; }

// The floor for a fresh run: a loop with one async handle, run to the end.
void BM_fresh_raw_libuv(benchmark::State &state) {
  for (auto _ : state) {
    uv_loop_t loop;
    uv_async_t async;
    uv_loop_init(&loop);
    uv_async_init(&loop, &async, [](uv_async_t *a) { uv_close((uv_handle_t *)a, nullptr); });
    uv_async_send(&async);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
}
BENCHMARK(BM_fresh_raw_libuv);

void BM_fresh_uvrun_run(benchmark::State &state) {
  uvrun_options_t opts;
  uvrun_options_init(&opts);
  for (auto _ : state) {
    int rc = uvrun_run(return_at_once, nullptr, &opts, nullptr);
    benchmark::DoNotOptimize(rc);
  }
}
BENCHMARK(BM_fresh_uvrun_run);

void BM_reused_runner_run(benchmark::State &state) {
  uvrun_runner_t *runner;
  uvrun_runner_new(nullptr, &runner);
  for (auto _ : state) {
    int rc = uvrun_runner_run(runner, return_at_once, nullptr, nullptr, nullptr);
    benchmark::DoNotOptimize(rc);
  }
  uvrun_runner_free(runner);
}
BENCHMARK(BM_reused_runner_run);

// Posts `batch` callbacks, then runs the loop until the last one ran.
void BM_call_soon_dispatch(benchmark::State &state) {
  const int batch = (int)state.range(0);
  uvrun_loop_t *loop;
  uvrun_loop_new(&loop);
  static int count;
  for (auto _ : state) {
    uvrun_future_t *done;
    uvrun_future_new(loop, &done);
    count = 0;
    for (int i = 0; i < batch - 1; i++)
      uvrun_loop_call_soon(
          loop, [](void *) { count++; }, nullptr, nullptr);
    uvrun_loop_call_soon(
        loop, [](void *f) { uvrun_future_set_result((uvrun_future_t *)f, nullptr, nullptr); }, done, nullptr);
    uvrun_loop_run_until_complete(loop, done, nullptr);
    uvrun_future_unref(done);
  }
  state.SetItemsProcessed(state.iterations() * batch);
  uvrun_loop_free(loop);
}
BENCHMARK(BM_call_soon_dispatch)->Arg(1000);

// Creates `batch` tasks that return at once and runs them all.
void BM_task_create_complete(benchmark::State &state) {
  const int batch = (int)state.range(0);
  uvrun_loop_t *loop;
  uvrun_loop_new(&loop);
  for (auto _ : state) {
    uvrun_task_t *last = nullptr;
    for (int i = 0; i < batch - 1; i++) uvrun_task_new(loop, return_at_once, nullptr, nullptr, nullptr);
    uvrun_task_new(loop, return_at_once, nullptr, nullptr, &last);
    uvrun_loop_run_until_complete(loop, uvrun_task_future(last), nullptr);
    uvrun_task_unref(last);
  }
  state.SetItemsProcessed(state.iterations() * batch);
  uvrun_loop_free(loop);
}
BENCHMARK(BM_task_create_complete)->Arg(1000);

// Another thread posts a burst; the loop runs until it has seen them all.
void BM_call_soon_threadsafe_burst(benchmark::State &state) {
  const int burst = (int)state.range(0);
  uvrun_loop_t *loop;
  uvrun_loop_new(&loop);
  struct Shared {
    int seen = 0, want = 0;
    uvrun_future_t *done = nullptr;
  } sh;
  for (auto _ : state) {
    uvrun_future_new(loop, &sh.done);
    sh.seen = 0;
    sh.want = burst;
    std::thread producer([&] {
      for (int i = 0; i < burst; i++)
        uvrun_loop_call_soon_threadsafe(
            loop,
            [](void *ud) {
              auto *s = static_cast<Shared *>(ud);
              if (++s->seen == s->want) uvrun_future_set_result(s->done, nullptr, nullptr);
            },
            &sh);
    });
    uvrun_loop_run_until_complete(loop, sh.done, nullptr);
    producer.join();
    uvrun_future_unref(sh.done);
  }
  state.SetItemsProcessed(state.iterations() * burst);
  uvrun_loop_free(loop);
}
BENCHMARK(BM_call_soon_threadsafe_burst)->Arg(100000)->UseRealTime();

// The raw floor for W6: a mutex-protected queue drained on uv_async.
void BM_threadsafe_raw_libuv_burst(benchmark::State &state) {
  const int burst = (int)state.range(0);
  struct Raw {
    uv_loop_t loop;
    uv_async_t async;
    uv_mutex_t mu;
    std::vector<void *> queue, spare;
    int seen = 0, want = 0;
  } raw;
  uv_loop_init(&raw.loop);
  uv_mutex_init(&raw.mu);
  uv_async_init(&raw.loop, &raw.async, [](uv_async_t *a) {
    auto *r = static_cast<Raw *>(a->data);
    uv_mutex_lock(&r->mu);
    r->queue.swap(r->spare);
    uv_mutex_unlock(&r->mu);
    for (void *p : r->spare) {
      benchmark::DoNotOptimize(p);
      r->seen++;
    }
    r->spare.clear();
    if (r->seen == r->want) uv_stop(&r->loop);
  });
  raw.async.data = &raw;
  for (auto _ : state) {
    raw.seen = 0;
    raw.want = burst;
    std::thread producer([&] {
      for (int i = 0; i < burst; i++) {
        uv_mutex_lock(&raw.mu);
        raw.queue.push_back(&raw);
        bool first = raw.queue.size() == 1;
        uv_mutex_unlock(&raw.mu);
        if (first) uv_async_send(&raw.async);
      }
    });
    uv_run(&raw.loop, UV_RUN_DEFAULT);
    producer.join();
  }
  state.SetItemsProcessed(state.iterations() * burst);
  uv_close((uv_handle_t *)&raw.async, nullptr);
  uv_run(&raw.loop, UV_RUN_DEFAULT);
  uv_loop_close(&raw.loop);
  uv_mutex_destroy(&raw.mu);
}
BENCHMARK(BM_threadsafe_raw_libuv_burst)->Arg(100000)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
