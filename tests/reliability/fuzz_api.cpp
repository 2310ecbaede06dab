// libFuzzer harness: the input bytes are a program of C API calls.
//
// Byte 0 picks the top level (uvrun_run, or a Runner with up to three runs,
// closed at an odd moment), debug mode and a cancel deadline. Every task is
// the same interpreter: each of its steps reads the next ops from the shared
// byte stream -- spawn, await, cancel, futures, sleeps, callbacks and timers,
// context variables and tokens, executor jobs, gather/wait_for/wait_any,
// async finalizers, nested run attempts, loop stop and close from inside,
// the shutdown steps awaited from a task -- until one suspends. So the
// loop's scheduling decides who reads which byte, deterministically.
//
// A "ticker" callback reposts itself every iteration; once the input is used
// up, or nothing has read a byte for a while (everyone awaits something that
// never comes), it cancels every task and future it knows, and stops the
// run if that does not end it (an await cycle), so every input ends.
// Invariants: no crash or sanitizer report (ASan, UBSan, LSan at each
// input), every error code is a known one, nested runs and closes from a
// running loop are refused with their documented codes, no running loop is
// left behind, and every object is released once the runner is gone.
//
// Built with clang -fsanitize=fuzzer (tests/reliability/meson.build); the
// replay driver (fuzz_replay.cpp) runs the same function over the corpus in
// every build.
#include <uvrun.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {

void check_code(int rc, const char *what) {
  if (rc < 0 && strcmp(uvrun_err_name(rc), "UVRUN_E_UNKNOWN") == 0) {
    fprintf(stderr, "fuzz: %s returned an unknown code %d (%s)\n", what, rc, uvrun_errmsg());
    abort();
  }
}

void expect(bool ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz: invariant broken: %s (%s)\n", what, uvrun_errmsg());
    abort();
  }
}

// Threads in this process (Linux), or 0 when that cannot be read. The file
// stays open: a read from offset 0 renders it anew, at a tenth of the cost
// of opening it each time.
int thread_count() {
  static int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  char buf[1024];
  ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
  if (n <= 0) return 0;
  buf[n] = 0;
  // Field 20 counts threads; field 2 (the command) may hold spaces and ends
  // at the last ')'.
  const char *p = strrchr(buf, ')');
  for (int field = 2; p != nullptr && field < 20; field++) p = strchr(p + 1, ' ');
  return p != nullptr ? atoi(p + 1) : 0;
}

// A closed loop lets its executor's workers finish the jobs they hold
// (R59, R61). Waiting for them ends the input with every object freed, so
// libFuzzer's leak check neither reruns the input to look nor scans the heap
// while those workers still free it.
void wait_for_workers(int before) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (thread_count() > before && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
}

// The harness's unit of time: sleeps, timers and deadlines are a few ticks,
// and "nobody moved for a while" is 5 of them, so that waiting does not
// dominate an input.
constexpr double kTick = 0.0001;

// Error codes a step or a job may fail with.
const int kCodes[] = {UVRUN_E_TIMEDOUT,      UVRUN_E_INVAL, UVRUN_E_CANCELLED,   UVRUN_E_NOTFOUND,
                      UVRUN_E_INVALID_STATE, UVRUN_E_EXIT,  UVRUN_E_INTERRUPTED, UVRUN_E_LOOP_STOPPED};

struct State {
  const uint8_t *data = nullptr;
  size_t size = 0, pos = 0;
  uvrun_runner_t *runner = nullptr;
  uvrun_contextvar_t *vars[2] = {};
  std::vector<uvrun_task_t *> tasks;
  std::vector<uvrun_future_t *> futs;
  std::vector<uvrun_handle_t *> handles;
  std::vector<uvrun_token_t *> tokens;
  int callbacks_run = 0;
  bool reaping = false;
  bool ticker_on = false;
  size_t ticker_pos = 0;
  int idle_ticks = 0;
  int threads_before = -1;  // counted at the first executor job
  int reap_ticks = 0;
  double idle_since = 0;

  bool exhausted() const { return pos >= size; }
  uint8_t next() { return pos < size ? data[pos++] : 0; }
  template <class T>
  T *pick(std::vector<T *> &v) {
    if (v.empty()) return nullptr;
    return v[next() % v.size()];
  }
};

State *S;

void noop_cb(void *) { S->callbacks_run++; }

void keep_future(uvrun_future_t *f) {
  if (f != nullptr) S->futs.push_back(uvrun_future_ref(f));
}

// Cancels everything known so that every await ends.
void reap() {
  for (auto *t : S->tasks) uvrun_task_cancel(t, "reaped");
  for (auto *f : S->futs) {
    if (!uvrun_future_done(f) && !uvrun_future_cancel(f, "reaped"))
      check_code(uvrun_future_set_result(f, nullptr, nullptr), "set_result (reap)");
  }
}

void ticker(void *loop_ud) {
  auto *loop = static_cast<uvrun_loop_t *>(loop_ud);
  if (!S->reaping) {
    double now = uvrun_loop_time(loop);
    if (S->exhausted()) {
      S->reaping = true;
    } else if (S->pos != S->ticker_pos) {
      S->ticker_pos = S->pos;
      S->idle_ticks = 0;
      S->idle_since = now;
    } else if (++S->idle_ticks > 3 && now - S->idle_since > 5 * kTick) {
      S->reaping = true;  // everyone waits for something nobody will do
    }
  }
  if (S->reaping) {
    // Every few iterations: each cancel allocates its error, and a task
    // needs an iteration or two to unwind from the last one.
    if (S->reap_ticks % 4 == 0) reap();
    // Tasks that await each other (through a gather, say) cannot be
    // cancelled: stop the run; close abandons them (X2 cancel_timeout).
    if (++S->reap_ticks % 100 == 0) uvrun_loop_stop(loop);
  }
  int rc = uvrun_loop_call_soon(loop, ticker, loop, nullptr);
  check_code(rc, "call_soon (ticker)");
  if (rc < 0) S->ticker_on = false;
}

int job(void *ud, void **result) {
  *result = ud;
  uintptr_t b = reinterpret_cast<uintptr_t>(ud);
  return (b & 1) ? kCodes[(b >> 1) % (sizeof kCodes / sizeof kCodes[0])] : 0;
}

int aclose_sleep(void *, uvrun_loop_t *loop, uvrun_future_t **out) {
  *out = uvrun_sleep_value(loop, kTick, nullptr);
  return *out != nullptr ? 0 : UVRUN_E_NOMEM;
}

void read_var(void *ud) {
  void *v;
  check_code(uvrun_contextvar_get(static_cast<uvrun_contextvar_t *>(ud), &v), "contextvar_get (context_run)");
}

void done_cb(uvrun_future_t *, void *) { S->callbacks_run++; }

int fuzz_step(uvrun_task_t *task, void *arg);

uvrun_task_t *spawn(uvrun_loop_t *loop) {
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  char name[16];
  uint8_t b = S->next();
  if (b & 1) {
    snprintf(name, sizeof name, "T%u", b);
    opts.name = name;
  }
  uvrun_task_t *t = nullptr;
  int rc = uvrun_task_new(loop, fuzz_step, nullptr, &opts, &t);
  check_code(rc, "task_new");
  if (rc == 0) S->tasks.push_back(t);
  return t;
}

uvrun_future_t *to_future(uint8_t b) {
  if ((b & 1) && !S->tasks.empty()) return uvrun_task_future(S->tasks[(b >> 1) % S->tasks.size()]);
  if (!S->futs.empty()) return S->futs[(b >> 1) % S->futs.size()];
  return nullptr;
}

// Awaits f (a new reference) and remembers it so the reaper can end it.
int await_kept(uvrun_task_t *task, uvrun_future_t *f) {
  if (f == nullptr) {
    int rc = uvrun_task_await(task, nullptr);
    check_code(rc, "await(NULL)");
    return rc < 0 ? 0 : rc;  // a failed helper: finish the step
  }
  keep_future(f);
  int rc = uvrun_task_await(task, f);
  check_code(rc, "await");
  return rc < 0 ? 0 : rc;
}

int fuzz_step(uvrun_task_t *task, void *) {
  uvrun_loop_t *loop = uvrun_task_loop(task);
  void *value = nullptr;
  int resumed = uvrun_task_resume(task, &value);
  check_code(resumed, "task_resume");
  if (!S->ticker_on) {
    S->ticker_on = true;
    S->ticker_pos = S->pos;
    S->idle_since = uvrun_loop_time(loop);
    check_code(uvrun_loop_call_soon(loop, ticker, loop, nullptr), "call_soon (ticker start)");
  }
  if (S->reaping || S->exhausted()) return resumed < 0 ? resumed : 0;
  for (int budget = 6; budget-- > 0 && !S->exhausted();) {
    uint8_t op = S->next();
    uint8_t b = S->next();
    int rc;
    switch (op % 30) {
    case 0: spawn(loop); break;
    case 1: {
      uvrun_future_t *f = to_future(b | 1);
      if (f != nullptr) return await_kept(task, uvrun_future_ref(f));
      break;
    }
    case 2: {
      uvrun_task_t *t = S->pick(S->tasks);
      if (t != nullptr) uvrun_task_cancel(t, (b & 1) ? "msg" : nullptr);
      break;
    }
    case 3: {
      uvrun_future_t *f = nullptr;
      rc = uvrun_future_new(loop, &f);
      check_code(rc, "future_new");
      if (rc == 0) S->futs.push_back(f);
      break;
    }
    case 4: {
      uvrun_future_t *f = to_future(b & ~1);
      if (f != nullptr)
        check_code(uvrun_future_set_result(f, reinterpret_cast<void *>(uintptr_t(b)), nullptr), "set_result");
      break;
    }
    case 5: {
      uvrun_future_t *f = to_future(b);  // a task too: INVALID_STATE
      if (f != nullptr) check_code(uvrun_future_set_error_code(f, kCodes[b % 8], "boom"), "set_error_code");
      break;
    }
    case 6: {
      uvrun_future_t *f = to_future(b);
      if (f != nullptr) uvrun_future_cancel(f, (b & 2) ? "why" : nullptr);
      break;
    }
    case 7: {
      uvrun_future_t *f = to_future(b & ~1);
      if (f != nullptr) return await_kept(task, uvrun_future_ref(f));
      break;
    }
    case 8: return await_kept(task, uvrun_sleep(task, (b % 4) * kTick));
    case 9:
      rc = uvrun_task_yield(task);
      check_code(rc, "yield");
      return rc < 0 ? 0 : rc;
    case 10: {
      uvrun_handle_t *h = nullptr;
      if (b & 1) rc = uvrun_loop_call_soon(loop, noop_cb, nullptr, (b & 2) ? &h : nullptr);
      else rc = uvrun_loop_call_later(loop, (b % 3) * kTick, noop_cb, nullptr, (b & 2) ? &h : nullptr);
      check_code(rc, "call_soon/later");
      if (h != nullptr) S->handles.push_back(h);
      break;
    }
    case 11: {
      uvrun_handle_t *h = S->pick(S->handles);
      if (h != nullptr) uvrun_handle_cancel(h);
      break;
    }
    case 12: {
      uvrun_token_t *tok = nullptr;
      rc = uvrun_contextvar_set(S->vars[b & 1], reinterpret_cast<void *>(uintptr_t(b)), (b & 2) ? &tok : nullptr);
      check_code(rc, "contextvar_set");
      if (tok != nullptr) S->tokens.push_back(tok);
      break;
    }
    case 13: {
      if (S->tokens.empty()) break;
      size_t i = b % S->tokens.size();
      uvrun_token_t *tok = S->tokens[i];
      S->tokens.erase(S->tokens.begin() + (long)i);
      // Another task's token, or the other variable: TOKEN_MISMATCH; freed either way.
      check_code(uvrun_contextvar_reset(S->vars[(b >> 3) & 1], tok), "contextvar_reset");
      break;
    }
    case 14: {
      void *v;
      check_code(uvrun_contextvar_get(S->vars[b & 1], &v), "contextvar_get");
      break;
    }
    case 15:
      // No worker of this input has started before its first job.
      if (S->threads_before < 0) S->threads_before = thread_count();
      return await_kept(task, uvrun_run_in_executor(loop, job, reinterpret_cast<void *>(uintptr_t(b))));
    case 16: {
      // Nested runs and closes from inside a running loop are refused; the
      // shutdown steps may be awaited instead (the executor's with a
      // timeout of 0-2 ticks, which often expires and abandons the workers).
      uvrun_runner_t *r = nullptr;
      switch (b % 8) {
      case 0:
        expect(uvrun_run(fuzz_step, nullptr, nullptr, nullptr) == UVRUN_E_LOOP_RUNNING, "nested uvrun_run");
        break;
      case 1:
        expect(uvrun_runner_new(nullptr, &r) == 0 || r == nullptr, "runner_new");
        if (r != nullptr) {
          expect(uvrun_runner_run(r, fuzz_step, nullptr, nullptr, nullptr) == UVRUN_E_LOOP_RUNNING,
                 "nested runner_run");
          uvrun_runner_free(r);
        }
        break;
      case 2:
        if (S->runner != nullptr)
          expect(uvrun_runner_close(S->runner) == UVRUN_E_LOOP_RUNNING, "runner_close from inside");
        break;
      case 3: expect(uvrun_loop_close(loop) == UVRUN_E_LOOP_RUNNING, "loop_close from inside"); break;
      case 4: {
        uvrun_future_t *f = to_future(b);
        if (f != nullptr)
          expect(uvrun_loop_run_until_complete(loop, f, nullptr) == UVRUN_E_LOOP_ALREADY_RUNNING,
                 "run_until_complete from inside");
        break;
      }
      case 5:
        expect(uvrun_loop_shutdown_default_executor(loop, 10 * kTick) == UVRUN_E_LOOP_ALREADY_RUNNING,
               "shutdown_default_executor from inside");
        break;
      case 6: return await_kept(task, uvrun_shutdown_default_executor(loop, (b >> 3) % 3 * kTick));
      default: return await_kept(task, uvrun_shutdown_asyncgens(loop));
      }
      break;
    }
    case 17: {
      uvrun_future_t *kids[4];
      size_t n = 0;
      for (size_t i = 0; i < (size_t)(b % 5); i++) {
        uvrun_future_t *f = to_future(S->next());
        if (f != nullptr && f != uvrun_task_future(task)) kids[n++] = f;
      }
      return await_kept(task, uvrun_gather(loop, kids, n, b & 1));
    }
    case 18: {
      uvrun_future_t *f = to_future(b);
      if (f == nullptr || f == uvrun_task_future(task)) break;
      return await_kept(task, uvrun_wait_for(uvrun_future_ref(f), (b % 4) * kTick));
    }
    case 19: {
      uvrun_future_t *kids[3];
      size_t n = 0;
      for (size_t i = 0; i < (size_t)(b % 4); i++) {
        uvrun_future_t *f = to_future(S->next());
        if (f != nullptr && f != uvrun_task_future(task)) kids[n++] = f;
      }
      uvrun_future_t *any = uvrun_wait_any(loop, kids, n);
      if (n == 0) {
        expect(any == nullptr, "wait_any of nothing fails");
        break;
      }
      return await_kept(task, any);
    }
    case 20: check_code(uvrun_task_return(task, reinterpret_cast<void *>(uintptr_t(b))), "task_return"); return 0;
    case 21: return (b & 1) && resumed < 0 ? resumed : kCodes[b % 8];
    case 22: uvrun_task_uncancel(task); break;
    case 23:
      if (b > 240) uvrun_loop_stop(loop);  // rare: the run ends LOOP_STOPPED
      break;
    case 24: {
      uvrun_asyncgen_t *gen = nullptr;
      check_code(uvrun_asyncgen_register(loop, S, "gen", aclose_sleep, &gen), "asyncgen_register");
      if (gen != nullptr && (b & 1)) uvrun_asyncgen_unregister(gen);
      break;
    }
    case 25: {
      uvrun_context_t *ctx = nullptr;
      rc = (b & 1) ? uvrun_context_copy_current(&ctx) : uvrun_context_new(&ctx);
      check_code(rc, "context_copy");
      if (rc == 0) {
        check_code(uvrun_context_run(ctx, read_var, S->vars[(b >> 1) & 1]), "context_run");
        uvrun_context_free(ctx);
      }
      break;
    }
    case 26: check_code(uvrun_loop_call_soon_threadsafe(loop, noop_cb, nullptr), "call_soon_threadsafe"); break;
    case 27: {
      uvrun_future_t *f = to_future(b);
      if (f == nullptr) break;
      if (b & 2) uvrun_future_remove_done_callback(f, done_cb, nullptr);
      else check_code(uvrun_future_add_done_callback(f, done_cb, nullptr), "add_done_callback");
      break;
    }
    case 28: {
      uvrun_task_t *t = S->pick(S->tasks);
      if (t != nullptr) {
        uvrun_task_cancelling(t);
        check_code(uvrun_task_set_name(t, "renamed"), "task_set_name");
      }
      break;
    }
    default: {
      uvrun_error_t *err = uvrun_error_new(kCodes[b % 8], "raised", nullptr, nullptr);
      rc = uvrun_task_raise(task, err);
      check_code(rc, "task_raise");
      return rc;
    }
    }
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  State st;
  st.data = data;
  st.size = size;
  st.pos = 1;
  S = &st;
  uint8_t mode = data[0];
  check_code(uvrun_contextvar_new("a", 0, nullptr, &st.vars[0]), "contextvar_new");
  check_code(uvrun_contextvar_new("b", 1, nullptr, &st.vars[1]), "contextvar_new");
  if (st.vars[0] == nullptr || st.vars[1] == nullptr) abort();

  uvrun_options_t opts;
  uvrun_options_init(&opts);
  opts.debug = (mode & 2) ? UVRUN_DEBUG_ON : UVRUN_DEBUG_OFF;
  opts.cancel_timeout = (mode & 4) ? 50 * kTick : 500 * kTick;
  opts.executor_shutdown_timeout = 5;
  opts.executor_max_workers = 2;  // queues form; fewer threads to create per input
  opts.handle_sigint = 0;
  auto quiet = [](int, const char *, void *) {};
  uvrun_set_log_sink(quiet, nullptr);

  if (!(mode & 1)) {
    void *result = nullptr;
    int rc = uvrun_run(fuzz_step, nullptr, &opts, &result);
    check_code(rc, "uvrun_run");
  } else {
    expect(uvrun_runner_new(&opts, &st.runner) == 0, "runner_new");
    int runs = 1 + (mode >> 3) % 3;
    for (int i = 0; i < runs; i++) {
      st.reaping = false;
      int rc = uvrun_runner_run(st.runner, fuzz_step, nullptr, nullptr, nullptr);
      check_code(rc, "runner_run");
      if (i == 0 && (mode & 0x40)) {  // close early: later runs are refused
        check_code(uvrun_runner_close(st.runner), "runner_close");
        expect(uvrun_runner_run(st.runner, fuzz_step, nullptr, nullptr, nullptr) == UVRUN_E_CLOSED, "run after close");
        break;
      }
    }
    check_code(uvrun_runner_close(st.runner), "runner_close");
    uvrun_runner_free(st.runner);
    st.runner = nullptr;
  }
  expect(uvrun_get_running_loop() == nullptr, "no running loop after the run");

  for (auto *t : st.tasks) {
    expect(uvrun_future_done(uvrun_task_future(t)) || uvrun_loop_is_closed(uvrun_task_loop(t)), "task state");
    uvrun_task_unref(t);
  }
  for (auto *f : st.futs) uvrun_future_unref(f);
  for (auto *h : st.handles) uvrun_handle_unref(h);
  for (auto *tok : st.tokens) uvrun_token_free(tok);
  uvrun_error_unref(uvrun_take_error());
  uvrun_contextvar_free(st.vars[0]);
  uvrun_contextvar_free(st.vars[1]);
  uvrun_set_log_sink(nullptr, nullptr);
  S = nullptr;
  if (st.threads_before >= 0) wait_for_workers(st.threads_before);
  return 0;
}
