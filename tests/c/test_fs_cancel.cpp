// Cancelled file operations (F3) and file jobs at runner close (L1): a job
// not started never runs; one running finishes and its result is dropped,
// freed (ASan's leak check sees it) and its descriptor closed.
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "fs_support.h"
#include "socket_support.h"
#include "support.h"

TEST_SUITE_BEGIN("files");

using fsk::TempDir;

namespace {

// Runs the loop in short sleeps until done() holds (at most 5 s).
template <class Done>
void spin_until(uvrun_loop_t *loop, Done done) {
  auto t0 = std::chrono::steady_clock::now();
  while (!done() && t::since(t0) < 5) sk::wait(loop, uvrun_sleep_value(loop, 0.001, nullptr));
  REQUIRE(done());
}

}  // namespace

TEST_CASE("F3: a write_file cancelled before its job started never runs: its file is not created") {
  TempDir dir;
  std::atomic<bool> gate{false};
  uvrun_options_t opts = fsk::one_worker();
  std::string path = dir.at("never"), later = dir.at("later");
  int cancelled = -1;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          // The one worker is busy, so the write waits in the queue.
          uvrun_future_t *busy = uvrun_run_in_executor(loop, fsk::wait_for_gate, &gate);
          uvrun_future_t *write = uvrun_write_file(loop, path.c_str(), "x", 1, 0);
          REQUIRE(write != nullptr);
          CHECK(uvrun_future_cancel(write, nullptr) == 1);
          cancelled = uvrun_future_cancelled(write);
          uvrun_future_unref(write);
          gate = true;
          return uvrun_task_await(task, busy);
        }
        // Queued after it, so it runs after the cancelled job was taken.
        if (step == 1) return uvrun_task_await(task, uvrun_write_file(loop, later.c_str(), "y", 1, 0));
        CHECK(uvrun_task_resume(task, nullptr) == 0);
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(cancelled == 1);
  CHECK(fsk::exists(later));
  CHECK(!fsk::exists(path));
}

TEST_CASE("F3: a write to an open file cancelled before its job started writes nothing") {
  TempDir dir;
  std::atomic<bool> gate{false};
  uvrun_options_t opts = fsk::one_worker();
  std::string path = dir.at("f");
  uvrun_file_t *file = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        void *value = nullptr;
        switch (step) {
        case 0: return uvrun_task_await(task, uvrun_file_open(loop, path.c_str(), O_WRONLY | O_CREAT, 0600));
        case 1: {
          REQUIRE(uvrun_task_resume(task, &value) == 0);
          file = uvrun_file_ref(static_cast<uvrun_file_t *>(value));
          uvrun_future_t *busy = uvrun_run_in_executor(loop, fsk::wait_for_gate, &gate);
          uvrun_future_t *write = uvrun_file_write(file, "lost", 4, 0);
          CHECK(uvrun_future_cancel(write, nullptr) == 1);
          uvrun_future_unref(write);
          gate = true;
          return uvrun_task_await(task, busy);
        }
        // The close waits for every job on the file submitted before it.
        case 2: return uvrun_task_await(task, uvrun_file_close(file));
        default: CHECK(uvrun_task_resume(task, nullptr) == 0); return uvrun_task_return(task, nullptr);
        }
      },
      &opts);
  CHECK(rc == 0);
  CHECK(fsk::exists(path));
  CHECK(fsk::get(path).empty());
  uvrun_file_unref(file);
}

namespace {

// A read_file of a FIFO whose job is in open() or read(), waiting for the
// writer.
struct RunningRead {
  TempDir dir;
  fsk::Fifo fifo{dir.at("fifo")};
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *read = uvrun_read_file(loop, fifo.path.c_str(), 0);
  RunningRead() {
    REQUIRE(read != nullptr);
    spin_until(loop, [&] { return fifo.reader_waiting(); });
  }
};

}  // namespace

TEST_CASE("F3: a read_file cancelled while it runs is left to finish; its bytes are dropped and freed") {
  RunningRead r;
  CHECK(uvrun_future_cancel(r.read, "no longer needed") == 1);
  r.fifo.finish(std::string(1000, 'x'));
  // The job read, closed its descriptor and returned; its completion comes
  // and goes, and the future stays cancelled.
  spin_until(r.loop, [&] { return fsk::fds_on(r.fifo.path) == 0; });
  sk::wait(r.loop, uvrun_sleep_value(r.loop, 0.01, nullptr));
  CHECK(uvrun_future_cancelled(r.read));
  uvrun_future_unref(r.read);
  CHECK(uvrun_loop_free(r.loop) == 0);
}

TEST_CASE("F3: a read_file whose loop closes while it runs frees its bytes itself") {
  RunningRead r;
  uvrun_future_unref(r.read);
  CHECK(uvrun_loop_free(r.loop) == 0);
  r.fifo.finish("late");
  auto t0 = std::chrono::steady_clock::now();
  // The job read to the end and closed its descriptor on its own.
  while (fsk::fds_on(r.fifo.path) != 0 && t::since(t0) < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(fsk::fds_on(r.fifo.path) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the worker lets go of it
}

TEST_CASE("F3: an open cancelled while it runs closes the descriptor it got") {
  TempDir dir;
  fsk::Fifo fifo(dir.at("fifo"));
  uvrun_loop_t *loop = t::new_loop();
  uvrun_future_t *open = uvrun_file_open(loop, fifo.path.c_str(), O_RDONLY, 0);
  REQUIRE(open != nullptr);
  // The job is in open(), which our writer lets return; its completion is
  // still to come when the cancel does.
  spin_until(loop, [&] { return fifo.reader_waiting(); });
  CHECK(uvrun_future_cancel(open, nullptr) == 1);
  uvrun_future_unref(open);
  // Only the writer's end is left on the FIFO once the job is done.
  spin_until(loop, [&] { return fsk::fds_on(fifo.path) == 1; });
  CHECK(uvrun_loop_free(loop) == 0);
}

namespace {

struct CloseScene {
  fsk::Fifo *fifo;
  bool finished = false;
  static void hook(const uvrun_shutdown_event_t *ev, void *ud) {
    auto *self = static_cast<CloseScene *>(ud);
    // The executor's step begins: the running job may now finish.
    if (ev->step == UVRUN_SHUTDOWN_EXECUTOR && !ev->end && !self->finished) {
      self->fifo->finish("done");
      self->finished = true;
    }
  }
};

int note_ran(void *ud, void **) {
  *static_cast<std::atomic<bool> *>(ud) = true;
  return 0;
}

}  // namespace

TEST_CASE("L1: at runner close file jobs still queued are cancelled and never run; a running one finishes") {
  TempDir dir;
  fsk::Fifo fifo(dir.at("fifo"));
  CloseScene scene{&fifo};
  uvrun_options_t opts = fsk::one_worker();
  opts.shutdown_hook = CloseScene::hook;
  opts.shutdown_hook_data = &scene;
  std::string path = dir.at("never");
  std::atomic<bool> plain_ran{false};
  uvrun_future_t *running = nullptr, *queued = nullptr, *plain = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        if (step == 0) {
          running = uvrun_read_file(loop, fifo.path.c_str(), 0);
          queued = uvrun_write_file(loop, path.c_str(), "x", 1, 0);
          plain = uvrun_run_in_executor(loop, note_ran, &plain_ran);
        }
        // The main task ends with the read running and the rest queued,
        // their futures held by nobody who waits.
        if (!fifo.reader_waiting()) return uvrun_task_await(task, uvrun_sleep_value(loop, 0.001, nullptr));
        return uvrun_task_return(task, nullptr);
      },
      &opts);
  CHECK(rc == 0);
  CHECK(scene.finished);
  void *value = nullptr;
  CHECK(uvrun_future_result(running, &value) == 0);
  CHECK(fsk::bytes(value) == "done");
  CHECK(uvrun_future_cancelled(queued));
  CHECK(!fsk::exists(path));
  CHECK(plain_ran);  // R59: a plain job still runs
  uvrun_future_unref(running);
  uvrun_future_unref(queued);
  uvrun_future_unref(plain);
}

TEST_CASE("F3: a close cancelled before it started leaves the descriptor to the file's last reference") {
  TempDir dir;
  fsk::put(dir.at("f"), "abc");
  std::atomic<bool> gate{false};
  uvrun_options_t opts = fsk::one_worker();
  uvrun_file_t *file = nullptr;
  int before = sk::count_fds(), while_held = -1;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        void *value = nullptr;
        switch (step) {
        case 0: return uvrun_task_await(task, uvrun_file_open(loop, dir.at("f").c_str(), O_RDONLY, 0));
        case 1: {
          REQUIRE(uvrun_task_resume(task, &value) == 0);
          file = uvrun_file_ref(static_cast<uvrun_file_t *>(value));
          uvrun_future_t *busy = uvrun_run_in_executor(loop, fsk::wait_for_gate, &gate);
          uvrun_future_t *close = uvrun_file_close(file);
          CHECK(uvrun_future_cancel(close, nullptr) == 1);
          uvrun_future_unref(close);
          gate = true;
          return uvrun_task_await(task, busy);
        }
        // Queued behind the cancelled close: it has been skipped by now.
        case 2: return uvrun_task_await(task, uvrun_fs_stat(loop, dir.at("f").c_str()));
        default:
          CHECK(uvrun_task_resume(task, nullptr) == 0);
          while_held = sk::count_fds();
          CHECK(uvrun_file_read(file, 1, 0) == nullptr);  // closed all the same
          CHECK(t::take_error().code == -EBADF);
          return uvrun_task_return(task, nullptr);
        }
      },
      &opts);
  CHECK(rc == 0);
  int held = sk::count_fds();
  uvrun_file_unref(file);
  CHECK(sk::count_fds() == held - 1);
  CHECK(while_held > before);
}
