// Files (F1, F2) through the C API: whole-file reads and writes, an open
// file, operations on paths, and their bad input (E).
#include <doctest/doctest.h>
#include <uvrun.h>

#include <atomic>
#include <functional>
#include <string>

#include "fs_support.h"
#include "socket_support.h"
#include "support.h"

TEST_SUITE_BEGIN("files");

using fsk::TempDir;

TEST_CASE("F1: read_file gives a whole file, its bytes followed by a NUL; write_file creates, replaces and appends") {
  TempDir dir;
  std::string path = dir.at("a.bin"), data("one\0two", 7);
  uvrun_loop_t *loop = t::new_loop();
  {
    sk::Waited w = sk::wait(loop, uvrun_write_file(loop, path.c_str(), data.data(), data.size(), 0));
    REQUIRE(w.rc == 0);
    CHECK(t::vi(w.value) == 7);
    CHECK(fsk::get(path) == data);
  }
  CHECK(sk::wait(loop, uvrun_write_file(loop, path.c_str(), "+3", 2, UVRUN_FS_APPEND)).rc == 0);
  {
    sk::Waited w = sk::wait(loop, uvrun_read_file(loop, path.c_str(), 0));
    REQUIRE(w.rc == 0);
    auto *b = static_cast<const uvrun_bytes_t *>(w.value);
    CHECK(std::string(b->data, b->len) == data + "+3");
    CHECK(b->data[b->len] == '\0');
  }
  CHECK(sk::wait(loop, uvrun_write_file(loop, path.c_str(), "new", 3, UVRUN_FS_SYNC)).rc == 0);
  CHECK(fsk::get(path) == "new");
  // An empty file, and an empty write.
  CHECK(sk::wait(loop, uvrun_write_file(loop, path.c_str(), nullptr, 0, 0)).rc == 0);
  {
    sk::Waited w = sk::wait(loop, uvrun_read_file(loop, path.c_str(), 0));
    REQUIRE(w.rc == 0);
    CHECK(fsk::bytes(w.value).empty());
  }
  // EXCLUSIVE refuses a file that exists, and leaves it alone.
  sk::Waited w = sk::wait(loop, uvrun_write_file(loop, path.c_str(), "x", 1, UVRUN_FS_EXCLUSIVE));
  CHECK(w.rc == -EEXIST);
  CHECK(w.message == "write_file(\"" + path + "\"): file already exists");
  CHECK(sk::wait(loop, uvrun_write_file(loop, dir.at("b").c_str(), "x", 1, UVRUN_FS_EXCLUSIVE)).rc == 0);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("F1: a file larger than the first chunk and one whose size stat does not give are read whole") {
  TempDir dir;
  std::string big(300 * 1024 + 7, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i / 4096 % 26);
  fsk::put(dir.at("big"), big);
  uvrun_loop_t *loop = t::new_loop();
  {
    sk::Waited w = sk::wait(loop, uvrun_read_file(loop, dir.at("big").c_str(), big.size()));
    REQUIRE(w.rc == 0);
    CHECK(fsk::bytes(w.value) == big);
  }
  // /proc files say size 0: read until the end.
  sk::Waited w = sk::wait(loop, uvrun_read_file(loop, "/proc/self/status", 0));
  REQUIRE(w.rc == 0);
  CHECK(fsk::bytes(w.value).find("Name:") == 0);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("F1: read_file and write_file run on the loop's own executor, behind its busy worker") {
  TempDir dir;
  std::atomic<bool> gate{false};
  uvrun_options_t opts = fsk::one_worker();
  std::string path = dir.at("f"), read;
  bool waited = false;
  uvrun_future_t *write = nullptr;
  int rc = t::run(
      [&](uvrun_task_t *task, int step) -> int {
        uvrun_loop_t *loop = uvrun_task_loop(task);
        void *value = nullptr;
        switch (step) {
        case 0:
          uvrun_future_unref(uvrun_run_in_executor(loop, fsk::wait_for_gate, &gate));
          write = uvrun_write_file(loop, path.c_str(), "queued", 6, 0);
          return uvrun_task_await(task, uvrun_sleep_value(loop, 0.05, nullptr));
        case 1:
          // libuv's own pool would have written it by now.
          waited = !fsk::exists(path) && !uvrun_future_done(write);
          gate = true;
          return uvrun_task_await(task, write);
        case 2: return uvrun_task_await(task, uvrun_read_file(loop, path.c_str(), 0));
        default:
          REQUIRE(uvrun_task_resume(task, &value) == 0);
          read = fsk::bytes(value);
          return uvrun_task_return(task, nullptr);
        }
      },
      &opts);
  CHECK(rc == 0);
  CHECK(waited);
  CHECK(read == "queued");
}

TEST_CASE("F1 E: a file past read_file's limit fails with UVRUN_E_LIMIT_OVERRUN naming the path and the limit") {
  TempDir dir;
  fsk::put(dir.at("ten"), "0123456789");
  uvrun_loop_t *loop = t::new_loop();
  CHECK(sk::wait(loop, uvrun_read_file(loop, dir.at("ten").c_str(), 10)).rc == 0);
  sk::Waited w = sk::wait(loop, uvrun_read_file(loop, dir.at("ten").c_str(), 9));
  CHECK(w.rc == UVRUN_E_LIMIT_OVERRUN);
  CHECK(w.message == "read_file(\"" + dir.at("ten") + "\"): the file is longer than the limit of 9 bytes");
  // A file whose size is known only at its end is cut off at the limit.
  sk::Waited proc = sk::wait(loop, uvrun_read_file(loop, "/proc/self/status", 16));
  CHECK(proc.rc == UVRUN_E_LIMIT_OVERRUN);
  CHECK(proc.message.find("limit of 16 bytes") != std::string::npos);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: reading a directory as a file fails with -EISDIR naming the path") {
  TempDir dir;
  uvrun_loop_t *loop = t::new_loop();
  sk::Waited w = sk::wait(loop, uvrun_read_file(loop, dir.path.c_str(), 0));
  CHECK(w.rc == -EISDIR);
  CHECK(w.message == "read_file(\"" + dir.path + "\"): illegal operation on a directory");
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: a path that does not exist fails with -ENOENT and a message naming it, for every operation") {
  TempDir dir;
  std::string nope = dir.at("nope");
  const char *p = nope.c_str();
  uvrun_loop_t *loop = t::new_loop();
  struct Case {
    const char *what;
    uvrun_future_t *fut;
  } cases[] = {
      {"read_file", uvrun_read_file(loop, p, 0)},
      {"open", uvrun_file_open(loop, p, O_RDONLY, 0)},
      {"stat", uvrun_fs_stat(loop, p)},
      {"unlink", uvrun_fs_unlink(loop, p)},
      {"scandir", uvrun_fs_scandir(loop, p)},
      {"mkdir", uvrun_fs_mkdir(loop, dir.at("nope/sub").c_str(), 0)},
      {"write_file", uvrun_write_file(loop, dir.at("nope/f").c_str(), "x", 1, 0)},
  };
  for (auto &c : cases) {
    sk::Waited w = sk::wait(loop, c.fut);
    CAPTURE(c.what);
    CHECK(w.rc == -ENOENT);
    CHECK(w.message.rfind(std::string(c.what) + "(\"" + nope, 0) == 0);
    CHECK(w.message.find("\"): no such file or directory") != std::string::npos);
  }
  sk::Waited w = sk::wait(loop, uvrun_fs_rename(loop, p, dir.at("to").c_str()));
  CHECK(w.rc == -ENOENT);
  CHECK(w.message == "rename(\"" + nope + "\", \"" + dir.at("to") + "\"): no such file or directory");
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("F2: an open file reads and writes at offsets and at its position, fsyncs, stats and closes") {
  TempDir dir;
  std::string path = dir.at("f");
  uvrun_loop_t *loop = t::new_loop();
  sk::Waited opened = sk::wait(loop, uvrun_file_open(loop, path.c_str(), O_RDWR | O_CREAT, 0600));
  INFO(opened.message);
  REQUIRE(opened.rc == 0);
  uvrun_file_t *f = uvrun_file_ref(static_cast<uvrun_file_t *>(opened.value));
  CHECK(uvrun_file_path(f) == path);
  CHECK(t::vi(sk::wait(loop, uvrun_file_write(f, "hello world", 11, -1)).value) == 11);
  CHECK(sk::wait(loop, uvrun_file_write(f, "W", 1, 6)).rc == 0);
  CHECK(sk::wait(loop, uvrun_file_fsync(f)).rc == 0);
  CHECK(fsk::get(path) == "hello World");
  CHECK(fsk::bytes(sk::wait(loop, uvrun_file_read(f, 5, 6)).value) == "World");
  // Short only at the end; nothing past it.
  CHECK(fsk::bytes(sk::wait(loop, uvrun_file_read(f, 100, 9)).value) == "ld");
  CHECK(fsk::bytes(sk::wait(loop, uvrun_file_read(f, 4, 50)).value).empty());
  {
    sk::Waited st = sk::wait(loop, uvrun_file_stat(f));
    REQUIRE(st.rc == 0);
    auto *s = static_cast<const uvrun_file_stat_t *>(st.value);
    CHECK(s->size == 11);
    CHECK(S_ISREG(s->mode));
    CHECK((s->mode & 0777) == 0600);
    CHECK(s->mtime > 1.6e9);
  }
  CHECK(sk::wait(loop, uvrun_file_close(f)).rc == 0);
  uvrun_file_unref(f);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("F2 E: after close every operation on the file fails with -EBADF naming the path") {
  TempDir dir;
  std::string path = dir.at("f");
  fsk::put(path, "abc");
  uvrun_loop_t *loop = t::new_loop();
  sk::Waited opened = sk::wait(loop, uvrun_file_open(loop, path.c_str(), O_RDONLY, 0));
  REQUIRE(opened.rc == 0);
  auto *f = static_cast<uvrun_file_t *>(opened.value);
  // A read submitted before the close still reads: close waits for it.
  uvrun_future_t *read = uvrun_file_read(f, 3, 0);
  CHECK(sk::wait(loop, uvrun_file_close(f)).rc == 0);
  CHECK(fsk::bytes(sk::wait(loop, read).value) == "abc");
  sk::Waited w = sk::wait(loop, uvrun_file_read(f, 1, 0));
  CHECK(w.rc == -EBADF);
  CHECK(w.message == "read(\"" + path + "\"): the file is closed");
  CHECK(sk::wait(loop, uvrun_file_write(f, "x", 1, 0)).rc == -EBADF);
  CHECK(sk::wait(loop, uvrun_file_fsync(f)).rc == -EBADF);
  CHECK(sk::wait(loop, uvrun_file_stat(f)).rc == -EBADF);
  CHECK(sk::wait(loop, uvrun_file_close(f)).rc == -EBADF);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("F2: dropping an open file closes its descriptor; a failed open leaves none") {
  TempDir dir;
  fsk::put(dir.at("f"), "abc");
  uvrun_loop_t *loop = t::new_loop();
  int before = sk::count_fds();
  {
    sk::Waited opened = sk::wait(loop, uvrun_file_open(loop, dir.at("f").c_str(), O_RDONLY, 0));
    REQUIRE(opened.rc == 0);
    CHECK(sk::count_fds() == before + 1);
  }
  CHECK(sk::count_fds() == before);
  CHECK(sk::wait(loop, uvrun_file_open(loop, dir.at("f").c_str(), O_RDWR | O_CREAT | O_EXCL, 0600)).rc == -EEXIST);
  CHECK(sk::count_fds() == before);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("L1: in debug mode a file dropped unclosed or left open at loop close is closed and reported") {
  TempDir dir;
  fsk::put(dir.at("a"), "a");
  fsk::put(dir.at("b"), "b");
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 1);
  int before = sk::count_fds();
  uvrun_future_t *open_a = nullptr, *open_b = nullptr;
  uvrun_task_t *opener = t::spawn(
      loop,
      [&](uvrun_task_t *, int) {
        open_a = uvrun_file_open(loop, dir.at("a").c_str(), O_RDONLY, 0);
        open_b = uvrun_file_open(loop, dir.at("b").c_str(), O_RDONLY, 0);
        return 0;
      },
      "opener", "opener.c:7");
  REQUIRE(sk::wait(loop, uvrun_task_future(opener)).rc == 0);  // takes over the task
  uvrun_file_t *b = nullptr;
  {
    sk::Waited a = sk::wait(loop, open_a);
    sk::Waited opened_b = sk::wait(loop, open_b);
    REQUIRE(a.rc == 0);
    REQUIRE(opened_b.rc == 0);
    b = uvrun_file_ref(static_cast<uvrun_file_t *>(opened_b.value));
    CHECK(sk::count_fds() == before + 2);
  }  // a's last reference goes with its future
  CHECK(log.count("unclosed file <File fd=") == 1);
  CHECK(log.contains("path='" + dir.at("a") + "'> created by task 'opener' at opener.c:7, closed when dropped"));
  CHECK(sk::count_fds() == before + 1);
  // b, still held, is closed by the loop's close and reported once.
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(log.contains("path='" + dir.at("b") + "'> created by task 'opener' at opener.c:7, closed at loop close"));
  CHECK(sk::count_fds() == before);
  uvrun_file_unref(b);
  CHECK(log.count("unclosed file") == 2);
}

TEST_CASE("L1 L2: out of debug mode a file left open is closed at loop close without a report") {
  TempDir dir;
  fsk::put(dir.at("f"), "f");
  t::LogCapture log;
  uvrun_loop_t *loop = t::new_loop();
  uvrun_loop_set_debug(loop, 0);
  int before = sk::count_fds();
  uvrun_file_t *file = nullptr;
  {
    sk::Waited opened = sk::wait(loop, uvrun_file_open(loop, dir.at("f").c_str(), O_RDONLY, 0));
    REQUIRE(opened.rc == 0);
    file = uvrun_file_ref(static_cast<uvrun_file_t *>(opened.value));
  }
  CHECK(sk::count_fds() == before + 1);
  CHECK(uvrun_loop_free(loop) == 0);
  CHECK(sk::count_fds() == before);
  uvrun_file_unref(file);
  CHECK_FALSE(log.contains("unclosed file"));
}

TEST_CASE("F2: stat, rename, unlink, mkdir and scandir on paths") {
  TempDir dir;
  uvrun_loop_t *loop = t::new_loop();
  CHECK(sk::wait(loop, uvrun_fs_mkdir(loop, dir.at("sub").c_str(), 0700)).rc == 0);
  fsk::put(dir.at("b"), "12345");
  REQUIRE(symlink("b", dir.at("link").c_str()) == 0);
  {
    sk::Waited st = sk::wait(loop, uvrun_fs_stat(loop, dir.at("sub").c_str()));
    REQUIRE(st.rc == 0);
    auto *s = static_cast<const uvrun_file_stat_t *>(st.value);
    CHECK(S_ISDIR(s->mode));
    CHECK((s->mode & 0777) == 0700);
  }
  {
    sk::Waited st = sk::wait(loop, uvrun_fs_stat(loop, dir.at("link").c_str()));
    REQUIRE(st.rc == 0);
    CHECK(static_cast<const uvrun_file_stat_t *>(st.value)->size == 5);  // followed
  }
  CHECK(sk::wait(loop, uvrun_fs_mkdir(loop, dir.at("sub").c_str(), 0)).rc == -EEXIST);
  {
    sk::Waited ls = sk::wait(loop, uvrun_fs_scandir(loop, dir.path.c_str()));
    REQUIRE(ls.rc == 0);
    std::string seen;
    for (auto *e = static_cast<const uvrun_dirent_t *>(ls.value); e != nullptr; e = e->next)
      seen += std::string(e->name) + ":" + std::to_string(e->type) + " ";
    CHECK(seen == "b:1 link:3 sub:2 ");
  }
  CHECK(sk::wait(loop, uvrun_fs_rename(loop, dir.at("b").c_str(), dir.at("c").c_str())).rc == 0);
  CHECK(!fsk::exists(dir.at("b")));
  CHECK(fsk::get(dir.at("c")) == "12345");
  CHECK(sk::wait(loop, uvrun_fs_unlink(loop, dir.at("c").c_str())).rc == 0);
  CHECK(sk::wait(loop, uvrun_fs_unlink(loop, dir.at("link").c_str())).rc == 0);
  CHECK(!fsk::exists(dir.at("c")));
  {
    sk::Waited ls = sk::wait(loop, uvrun_fs_scandir(loop, dir.at("sub").c_str()));
    CHECK(ls.rc == 0);
    CHECK(ls.value == nullptr);  // empty
  }
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: every file operation on a closed loop fails with UVRUN_E_LOOP_CLOSED") {
  TempDir dir;
  fsk::put(dir.at("f"), "abc");
  uvrun_loop_t *loop = t::new_loop();
  uvrun_file_t *f = nullptr;
  {
    sk::Waited opened = sk::wait(loop, uvrun_file_open(loop, dir.at("f").c_str(), O_RDONLY, 0));
    REQUIRE(opened.rc == 0);
    f = uvrun_file_ref(static_cast<uvrun_file_t *>(opened.value));
  }
  int before = sk::count_fds();
  REQUIRE(uvrun_loop_close(loop) == 0);
  CHECK(sk::count_fds() == before - 1);  // L2: the close closed it
  std::string path = dir.at("f");
  const char *p = path.c_str();
  std::function<uvrun_future_t *()> calls[] = {
      [&] { return uvrun_read_file(loop, p, 0); },
      [&] { return uvrun_write_file(loop, p, "x", 1, 0); },
      [&] { return uvrun_file_open(loop, p, O_RDONLY, 0); },
      [&] { return uvrun_fs_stat(loop, p); },
      [&] { return uvrun_fs_rename(loop, p, p); },
      [&] { return uvrun_fs_unlink(loop, p); },
      [&] { return uvrun_fs_mkdir(loop, p, 0); },
      [&] { return uvrun_fs_scandir(loop, p); },
      [&] { return uvrun_file_read(f, 1, 0); },
      [&] { return uvrun_file_write(f, "x", 1, 0); },
      [&] { return uvrun_file_fsync(f); },
      [&] { return uvrun_file_stat(f); },
      [&] { return uvrun_file_close(f); },
  };
  for (auto &call : calls) {
    CHECK(call() == nullptr);
    t::TakenError e = t::take_error();
    CHECK(e.code == UVRUN_E_LOOP_CLOSED);
    CHECK(e.message == "Event loop is closed");
  }
  CHECK(fsk::get(path) == "abc");
  uvrun_file_unref(f);
  CHECK(sk::count_fds() == before - 1);
  CHECK(uvrun_loop_free(loop) == 0);
}

TEST_CASE("E: bad file arguments fail at once with UVRUN_E_INVAL and say which") {
  uvrun_loop_t *loop = t::new_loop();
  auto refused = [](uvrun_future_t *fut, const std::string &message) {
    CHECK(fut == nullptr);
    t::TakenError e = t::take_error();
    CHECK(e.code == UVRUN_E_INVAL);
    CHECK(e.message == message);
  };
  refused(uvrun_read_file(nullptr, "x", 0), "read_file: loop must not be NULL");
  refused(uvrun_read_file(loop, nullptr, 0), "read_file: path must not be NULL");
  refused(uvrun_write_file(loop, "x", nullptr, 1, 0), "write_file: data must not be NULL");
  refused(uvrun_write_file(loop, "x", "x", 1, 64), "write_file: unknown flags 0x40");
  refused(uvrun_file_open(loop, nullptr, O_RDONLY, 0), "open: path must not be NULL");
  refused(uvrun_fs_rename(loop, "x", nullptr), "rename: the new path must not be NULL");
  refused(uvrun_fs_scandir(loop, nullptr), "scandir: path must not be NULL");
  refused(uvrun_file_read(nullptr, 1, 0), "read: file must not be NULL");
  refused(uvrun_file_read(nullptr, 1, -2), "read: offset must be -1 (the file's position) or more, not -2");
  refused(uvrun_file_close(nullptr), "close: file must not be NULL");
  CHECK(uvrun_file_path(nullptr) == nullptr);
  uvrun_file_unref(nullptr);
  CHECK(uvrun_file_ref(nullptr) == nullptr);
  CHECK(uvrun_loop_free(loop) == 0);
}
