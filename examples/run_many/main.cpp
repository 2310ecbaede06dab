// uvrun-run-many -- runs the shell commands read from stdin, one per line,
// at most N at once, each with a timeout; prefixes every line a command
// writes with its number, and ends with a summary.
//
//   uvrun-run-many [-j N] [-t SECONDS] < commands
//
// -j: commands at once (default: the number of CPUs); -t: a command still
// running after SECONDS gets SIGTERM, then SIGKILL 1 s later (default: no
// limit). A command starts as soon as its line arrives and a slot is free.
// Its stdout lines go to stdout as "[3] line", its stderr lines to stderr
// the same way; a last line without a newline is printed too. The summary
// goes to stderr: a line per command (exit status, signal or timeout, and
// seconds), then the totals. Exit status: 0 when every command exited 0,
// else 1; 2 for bad usage. Ctrl-C (SIGINT) stops reading commands,
// terminates those running (their last output is still printed), prints
// the summary and dies of SIGINT (the shell sees 130).
//
// Each command runs as `setsid sh -c COMMAND`: a process group of its own,
// so a signal reaches the whole pipeline, not the shell alone.
#include <signal.h>
#include <unistd.h>

#include <uvrun/uvrun.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

constexpr auto kGrace = 1s;            // from SIGTERM to SIGKILL
constexpr std::size_t kChunk = 65536;  // read from a child at once; a longer line is split

struct Config {
  int jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::optional<double> timeout;
};

struct Job {
  int number = 0;
  std::string command;
  int pid = 0;
  bool running = false;
  bool timed_out = false;
  int returncode = 0;
  double seconds = 0;
};

// The whole process group of a job still running (its shell not reaped).
void signal_job(const Job &job, int sig) {
  if (job.running && job.pid > 0) ::kill(-job.pid, sig);
}

// Writes text to out unless out failed before (its reader is gone: `| head`);
// the child's pipe is still read to its end, so the child never blocks.
uvrun::Task<void> emit(uvrun::Stream &out, std::string text, bool &open) {
  if (!open || text.empty()) co_return;
  try {
    co_await out.write(text);
  } catch (const uvrun::OSError &) {
    open = false;
  }
}

// Copies a child's pipe to out, each line prefixed "[n] "; the lines of one
// read go out in one write, so lines of different commands never mix.
uvrun::Task<void> relay(uvrun::Stream from, int number, uvrun::Stream &out) {
  const std::string prefix = "[" + std::to_string(number) + "] ";
  std::string pending;
  bool open = true;
  for (;;) {
    std::string chunk = co_await from.read(kChunk);
    if (chunk.empty()) {
      if (!pending.empty()) co_await emit(out, prefix + pending + "\n", open);
      co_return;
    }
    pending += chunk;
    std::string lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      lines += prefix + pending.substr(start, nl + 1 - start);
    pending.erase(0, start);
    if (pending.size() >= kChunk) lines += prefix + std::exchange(pending, {}) + "\n";
    co_await emit(out, std::move(lines), open);
  }
}

// Waits for the job's end, enforcing the timeout: SIGTERM, then SIGKILL.
uvrun::Task<int> wait_job(uvrun::Process &proc, Job &job, const Config &config) {
  if (!config.timeout) co_return co_await proc.wait();
  try {
    co_return co_await uvrun::wait_for(proc.wait(), std::chrono::duration<double>(*config.timeout));
  } catch (const uvrun::TimeoutError &) {
  }
  job.timed_out = true;
  signal_job(job, SIGTERM);
  try {
    co_return co_await uvrun::wait_for(proc.wait(), kGrace);
  } catch (const uvrun::TimeoutError &) {
  }
  signal_job(job, SIGKILL);
  co_return co_await proc.wait();
}

uvrun::Task<void> run_job(Job &job, const Config &config, uvrun::Semaphore &slots, uvrun::Stream &out,
                          uvrun::Stream &err) {
  auto t0 = std::chrono::steady_clock::now();
  std::string failure;
  uvrun::ProcessOptions options;
  options.std_in = uvrun::Stdio::devnull();
  options.std_out = uvrun::Stdio::pipe();
  options.std_err = uvrun::Stdio::pipe();
  std::optional<uvrun::Process> proc;
  try {
    proc = uvrun::process::spawn({"setsid", "sh", "-c", job.command}, options);
  } catch (const uvrun::OSError &e) {
    job.returncode = 127;
    failure = e.what();
  }
  if (proc) {
    job.pid = proc->pid();
    job.running = true;
    auto relay_out = uvrun::create_task(relay(std::move(proc->std_out()), job.number, out));
    auto relay_err = uvrun::create_task(relay(std::move(proc->std_err()), job.number, err));
    job.returncode = co_await wait_job(*proc, job, config);
    job.running = false;
    co_await relay_out;
    co_await relay_err;
  } else {
    bool open = true;
    co_await emit(err, "[" + std::to_string(job.number) + "] cannot start: " + failure + "\n", open);
  }
  job.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  slots.release();
}

// The next command line, without its newline; nullopt at the end of stdin.
uvrun::Task<std::optional<std::string>> next_line(uvrun::Stream &in) {
  std::string line;
  try {
    line = co_await in.read_until("\n");
    line.pop_back();
  } catch (const uvrun::IncompleteReadError &e) {
    if (e.partial.empty()) co_return std::nullopt;
    line = e.partial;
  }
  co_return line;
}

std::string outcome(const Job &job) {
  char buf[64];
  if (job.timed_out) std::snprintf(buf, sizeof buf, "timed out (signal %d)", -job.returncode);
  else if (job.returncode < 0) std::snprintf(buf, sizeof buf, "killed by signal %d", -job.returncode);
  else std::snprintf(buf, sizeof buf, "exit %d", job.returncode);
  return buf;
}

void print_summary(const std::vector<std::unique_ptr<Job>> &jobs, double seconds, bool interrupted) {
  int failed = 0;
  for (const auto &job : jobs) {
    failed += job->returncode != 0;
    std::fprintf(stderr, "[%d] %s in %.2f s: %s\n", job->number, outcome(*job).c_str(), job->seconds,
                 job->command.c_str());
  }
  std::fprintf(stderr, "%zu commands, %d failed, %.2f s%s\n", jobs.size(), failed, seconds,
               interrupted ? ", interrupted" : "");
}

// Reads commands and runs them; on cancellation (Ctrl-C) terminates those
// running, lets them end and their output out, then goes on cancelled.
uvrun::Task<bool> run_all(const Config &config, std::vector<std::unique_ptr<Job>> &jobs) {
  uvrun::Stream in = uvrun::stdio::in();
  uvrun::Stream out = uvrun::stdio::out();
  uvrun::Stream err = uvrun::stdio::err();
  uvrun::Semaphore slots(config.jobs);
  std::vector<uvrun::TaskHandle<void>> running;
  std::exception_ptr cancelled;
  try {
    while (std::optional<std::string> line = co_await next_line(in)) {
      if (line->find_first_not_of(" \t") == std::string::npos) continue;
      co_await slots.acquire();
      jobs.push_back(std::make_unique<Job>(Job{static_cast<int>(jobs.size()) + 1, *line}));
      running.push_back(uvrun::create_task(run_job(*jobs.back(), config, slots, out, err)));
    }
    for (auto &task : running) co_await uvrun::shield(task);
  } catch (const uvrun::CancelledError &) {
    cancelled = std::current_exception();
    for (const auto &job : jobs) signal_job(*job, SIGTERM);
  }
  // Shielded: a cancelled wait must not cancel the jobs, which end by
  // themselves once their commands do.
  if (cancelled)
    for (auto &task : running) co_await uvrun::shield(task);
  out.close();
  err.close();
  co_await out.wait_closed();
  co_await err.wait_closed();
  if (cancelled) std::rethrow_exception(cancelled);
  co_return true;
}

int usage(const char *why) {
  std::fprintf(stderr, "uvrun-run-many: %s\nusage: uvrun-run-many [-j N] [-t SECONDS] < commands\n", why);
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  Config config;
  for (int i = 1; i < argc; i++) {
    char *end = nullptr;
    if (std::strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
      long n = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || end == argv[i] || n < 1 || n > 100000)
        return usage("-j needs a number of commands, 1 or more");
      config.jobs = static_cast<int>(n);
    } else if (std::strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
      double t = std::strtod(argv[++i], &end);
      if (*end != '\0' || end == argv[i] || !(t > 0)) return usage("-t needs a number of seconds, more than 0");
      config.timeout = t;
    } else {
      return usage(("unknown argument: " + std::string(argv[i])).c_str());
    }
  }
  std::vector<std::unique_ptr<Job>> jobs;
  auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  try {
    uvrun::run(run_all(config, jobs));
  } catch (const uvrun::KeyboardInterrupt &) {
    print_summary(jobs, elapsed(), true);
    signal(SIGINT, SIG_DFL);
    raise(SIGINT);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "uvrun-run-many: %s\n", e.what());
    return 1;
  }
  print_summary(jobs, elapsed(), false);
  for (const auto &job : jobs)
    if (job->returncode != 0) return 1;
  return 0;
}
