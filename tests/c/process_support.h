// Process test support: children spawned with a few options, the
// children this process has (from /proc, zombies included), and a future
// run to its end.
#pragma once
#include <doctest/doctest.h>
#include <dirent.h>
#include <unistd.h>
#include <uvrun.h>
#include <uvrun_uv.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace pr {

// libuv opens a pipe for its signal handling (SIGCHLD included) the first
// time a process uses it, and keeps it for the process's life: a test that
// counts descriptors around its first spawn makes sure it is there first.
inline void open_libuv_signal_pipe() {
  uv_loop_t loop;
  uv_signal_t sig;
  REQUIRE(uv_loop_init(&loop) == 0);
  REQUIRE(uv_signal_init(&loop, &sig) == 0);
  uv_close(reinterpret_cast<uv_handle_t *>(&sig), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  REQUIRE(uv_loop_close(&loop) == 0);
}

// A child of this process and its state letter ('S', 'R', 'Z' ...).
struct Child {
  int pid;
  char state;
};

// This process's children, read from /proc/<pid>/stat (ppid field).
inline std::vector<Child> children() {
  std::vector<Child> out;
  DIR *d = opendir("/proc");
  REQUIRE(d != nullptr);
  while (struct dirent *e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    char path[64], comm[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == nullptr) continue;
    char state = 0;
    int ppid = 0;
    // comm may hold spaces; ours never do.
    if (fscanf(f, "%*d %255s %c %d", comm, &state, &ppid) == 3 && ppid == getpid()) out.push_back({pid, state});
    fclose(f);
  }
  closedir(d);
  return out;
}

inline bool has_child(int pid) {
  for (const Child &c : children())
    if (c.pid == pid) return true;
  return false;
}

// A child with stdin, stdout and stderr as given (UVRUN_STDIO_*).
inline uvrun_process_t *spawn(uvrun_loop_t *loop, std::vector<const char *> argv, int in = UVRUN_STDIO_INHERIT,
                              int out = UVRUN_STDIO_INHERIT, int err = UVRUN_STDIO_INHERIT) {
  uvrun_process_opts_t o;
  uvrun_process_opts_init(&o);
  o.stdio[0] = in;
  o.stdio[1] = out;
  o.stdio[2] = err;
  argv.push_back(nullptr);
  uvrun_process_t *proc = nullptr;
  int rc = uvrun_process_spawn(loop, argv.data(), &o, &proc);
  INFO(uvrun_errmsg());
  REQUIRE(rc == 0);
  return proc;
}

// `sh -c script` with the stdio given.
inline uvrun_process_t *sh(uvrun_loop_t *loop, const char *script, int in = UVRUN_STDIO_INHERIT,
                           int out = UVRUN_STDIO_INHERIT, int err = UVRUN_STDIO_INHERIT) {
  return spawn(loop, {"sh", "-c", script}, in, out, err);
}

// A future (reference taken over) run to its end: its code and value.
inline int await(uvrun_loop_t *loop, uvrun_future_t *fut, intptr_t *value = nullptr) {
  REQUIRE(fut != nullptr);
  void *v = nullptr;
  int rc = uvrun_loop_run_until_complete(loop, fut, &v);
  uvrun_future_unref(fut);
  if (value != nullptr) *value = reinterpret_cast<intptr_t>(v);
  return rc;
}

// The child's returncode, waited for.
inline intptr_t wait(uvrun_loop_t *loop, uvrun_process_t *proc) {
  intptr_t rc = 1000;
  REQUIRE(await(loop, uvrun_process_wait(proc), &rc) == 0);
  return rc;
}

// What communicate gave: the outputs (as strings; "<none>" when not a
// pipe) and the returncode, or the code it failed with.
struct Output {
  int rc = 1;
  std::string message;
  std::string out, err;
  int returncode = 1000;
};
inline Output communicate(uvrun_loop_t *loop, uvrun_process_t *proc, const std::string &input = "",
                          uint64_t out_limit = 0, uint64_t err_limit = 0) {
  uvrun_communicate_opts_t o;
  uvrun_communicate_opts_init(&o);
  o.stdout_limit = out_limit;
  o.stderr_limit = err_limit;
  uvrun_future_t *fut = uvrun_process_communicate(proc, input.data(), input.size(), &o);
  REQUIRE(fut != nullptr);
  Output res;
  void *value = nullptr;
  res.rc = uvrun_loop_run_until_complete(loop, fut, &value);
  if (res.rc == 0) {
    auto *r = static_cast<uvrun_process_result_t *>(value);
    size_t n = 0;
    const char *p = uvrun_process_result_stdout(r, &n);
    res.out = p != nullptr ? std::string(p, n) : "<none>";
    p = uvrun_process_result_stderr(r, &n);
    res.err = p != nullptr ? std::string(p, n) : "<none>";
    res.returncode = uvrun_process_result_returncode(r);
  } else {
    res.message = uvrun_errmsg();
  }
  uvrun_future_unref(fut);
  return res;
}

}  // namespace pr
