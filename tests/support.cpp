#include "support.h"

#include <doctest/doctest.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace t {

uvrun_task_t *spawn(uvrun_loop_t *loop, std::function<int(uvrun_task_t *, int)> fn, const char *name,
                    const char *site) {
  uvrun_task_opts_t opts;
  uvrun_task_opts_init(&opts);
  opts.name = name;
  opts.site = site;
  opts.arg_free = Lambda::destroy;
  uvrun_task_t *task = nullptr;
  if (uvrun_task_new(loop, Lambda::run, new Lambda{std::move(fn)}, &opts, &task) < 0) return nullptr;
  return task;
}

int run(std::function<int(uvrun_task_t *, int)> fn, const uvrun_options_t *opts, void **result) {
  Lambda main{std::move(fn)};
  return uvrun_run(Lambda::run, &main, opts, result);
}

uvrun_loop_t *new_loop() {
  uvrun_loop_t *loop = nullptr;
  REQUIRE(uvrun_loop_new(&loop) == 0);
  return loop;
}

uvrun_future_t *new_future(uvrun_loop_t *loop) {
  uvrun_future_t *fut = nullptr;
  REQUIRE(uvrun_future_new(loop, &fut) == 0);
  return fut;
}

TakenError take_error() {
  uvrun_error_t *err = uvrun_take_error();
  REQUIRE(err != nullptr);
  TakenError out{uvrun_error_code(err), uvrun_error_message(err)};
  uvrun_error_unref(err);
  return out;
}

int main_loop_debug(const uvrun_options_t *opts) {
  int seen = -1;
  CHECK(run(
            [&](uvrun_task_t *task, int) {
              seen = uvrun_loop_get_debug(uvrun_task_loop(task));
              return 0;
            },
            opts) == 0);
  return seen;
}

void run_with_child(const uvrun_options_t *opts, std::function<uvrun_task_t *(uvrun_loop_t *)> start,
                    std::function<void()> after) {
  CHECK(run(
            [&](uvrun_task_t *task, int step) -> int {
              if (step == 0) {
                uvrun_task_t *child = start(uvrun_task_loop(task));
                REQUIRE(child != nullptr);
                uvrun_task_unref(child);
                return uvrun_task_await(task, uvrun_sleep(task, 0.01));
              }
              if (after) after();
              return 0;
            },
            opts) == 0);
}

void busy_wait(double seconds) {
  auto t0 = std::chrono::steady_clock::now();
  while (since(t0) < seconds) {
  }
}

static void capture_sink(int level, const char *message, void *ud) {
  static_cast<LogCapture *>(ud)->lines.emplace_back(level, message);
}
LogCapture::LogCapture() { uvrun_set_log_sink(capture_sink, this); }
LogCapture::~LogCapture() { uvrun_set_log_sink(nullptr, nullptr); }
bool LogCapture::contains(const std::string &needle) const { return count(needle) > 0; }
size_t LogCapture::count(const std::string &needle) const {
  size_t n = 0;
  for (auto &l : lines)
    if (l.second.find(needle) != std::string::npos) n++;
  return n;
}
std::string LogCapture::all() const {
  std::string s;
  for (auto &l : lines) s += l.second + "\n";
  return s;
}
std::vector<std::string> LogCapture::at(int level) const {
  std::vector<std::string> out;
  for (auto &l : lines)
    if (l.first == level) out.push_back(l.second);
  return out;
}

void Reports::handler(uvrun_loop_t *, const uvrun_exception_context_t *ctx, void *ud) {
  Report r;
  r.message = ctx->message ? ctx->message : "";
  if (ctx->error) {
    r.code = uvrun_error_code(ctx->error);
    r.error_message = uvrun_error_message(ctx->error);
  }
  if (ctx->task) r.task_name = uvrun_task_name(ctx->task);
  r.has_future = ctx->future != nullptr;
  if (ctx->asyncgen) r.asyncgen = uvrun_asyncgen_name(ctx->asyncgen);
  static_cast<Reports *>(ud)->list.push_back(r);
}

void Reports::check_one(const std::string &message, const std::string &task_name) const {
  REQUIRE(list.size() == 1);
  CHECK(list[0].message == message);
  CHECK(list[0].task_name == task_name);
}

void check_child(const ChildResult &res) {
  INFO("child output:\n" << res.output);
  CHECK_FALSE(res.timed_out);
  CHECK(res.exited);
  CHECK(res.code == 0);
}

void child_ready() {
  fputs("ready\n", stdout);
  fflush(stdout);
}

namespace {
int thread_count() {
  int n = 0;
  if (DIR *dir = opendir("/proc/self/task")) {
    while (struct dirent *e = readdir(dir))
      if (e->d_name[0] != '.') n++;
    closedir(dir);
  }
  return n;
}

// A thread of an earlier test (an executor worker on its way out) may still be alive; a child forked
// beside it inherits whatever lock it held, and TSan refuses to start threads in such a child at all.
void wait_until_single_threaded() {
#if defined(__SANITIZE_THREAD__)
  const int own = 2;  // TSan's background thread, started with the first pthread_create
#else
  const int own = 1;
#endif
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (thread_count() > own && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
}  // namespace

ChildResult in_child(std::function<int()> fn, std::function<void(int)> on_ready, double timeout_s) {
  ChildResult res;
  wait_until_single_threaded();
  int fds[2];
  if (pipe(fds) != 0) return res;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[1]);
    setvbuf(stdout, nullptr, _IONBF, 0);
    int code = fn();
    fflush(stdout);
    _exit(code);
  }
  close(fds[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool ready_seen = false;
  std::string buf;
  char chunk[4096];
  for (;;) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    if (poll(&pfd, 1, (int)left) <= 0) break;
    ssize_t n = read(fds[0], chunk, sizeof chunk);  // 0 once the child has exited
    if (n <= 0) break;
    buf.append(chunk, (size_t)n);
    if (!ready_seen && buf.find("ready\n") != std::string::npos) {
      ready_seen = true;
      if (on_ready) on_ready(pid);
    }
  }
  close(fds[0]);
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      res.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  res.output = buf;
  if (WIFEXITED(status)) {
    res.exited = true;
    res.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    res.signaled = true;
    res.signo = WTERMSIG(status);
  }
  return res;
}

}  // namespace t
