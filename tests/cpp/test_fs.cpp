// Files from C++ (F1, F2, F3): uvrun::fs's whole-file helpers, File, path
// operations, and the OSError subclasses their failures throw (E).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uvrun/fs.hpp>
#include <uvrun/uvrun.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace fs = uvrun::fs;

TEST_SUITE_BEGIN("cpp");

namespace {

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/uvrun-cppfs-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  std::string operator/(const std::string &name) const { return path + "/" + name; }
  ~Dir() { std::filesystem::remove_all(path); }
};

// What `co_await op` throws, as "Type: message" (or "none").
template <class Op>
uvrun::Task<std::string> thrown(Op op) {
  try {
    co_await op();
  } catch (const uvrun::FileNotFoundError &e) {  // before OSError, its base
    co_return std::string("FileNotFoundError: ") + e.what();
  } catch (const uvrun::IsADirectoryError &e) {
    co_return std::string("IsADirectoryError: ") + e.what();
  } catch (const uvrun::FileExistsError &e) {
    co_return std::string("FileExistsError: ") + e.what();
  } catch (const uvrun::PermissionError &e) {
    co_return std::string("PermissionError: ") + e.what();
  } catch (const uvrun::LimitOverrunError &e) {
    co_return std::string("LimitOverrunError: ") + e.what();
  } catch (const uvrun::OSError &e) {
    co_return "OSError " + std::to_string(e.code()) + ": " + e.what();
  }
  co_return "none";
}

}  // namespace

TEST_CASE("F1: uvrun::fs::write_file and read_file from a coroutine") {
  Dir dir;
  std::string path = dir / "a.txt";
  auto got = uvrun::run([&]() -> uvrun::Task<std::string> {
    CHECK(co_await fs::write_file(path, std::string("bin\0ary", 7)) == 7);
    co_await fs::write_file(path, "+tail", fs::append);
    co_return co_await fs::read_file(path);
  }());
  CHECK(got == std::string("bin\0ary+tail", 12));
}

TEST_CASE("F2: a File reads and writes at offsets, fsyncs, stats and closes; then throws EBADF") {
  Dir dir;
  std::string path = dir / "f";
  auto got = uvrun::run([&]() -> uvrun::Task<std::string> {
    fs::File f = co_await fs::open(path, O_RDWR | O_CREAT, 0640);
    CHECK(f.path() == path);
    co_await f.write("hello world");
    co_await f.write("W", 6);
    co_await f.fsync();
    fs::Stat st = co_await f.stat();
    CHECK(st.size == 11);
    CHECK((st.mode & 0777) == 0640);
    std::string out = co_await f.read(5, 6);
    out += "|" + co_await f.read(100, 9);
    co_await f.close();
    out += "|" + co_await thrown([&] { return f.read(1, 0); });
    co_return out;
  }());
  CHECK(got == "World|ld|OSError " + std::to_string(-EBADF) + ": read(\"" + path + "\"): the file is closed");
}

TEST_CASE("F2: stat, rename, unlink, mkdir and scandir on paths from C++") {
  Dir dir;
  auto got = uvrun::run([&]() -> uvrun::Task<std::string> {
    co_await fs::mkdir(dir / "sub");
    co_await fs::write_file(dir / "x", "12345");
    co_await fs::rename(dir / "x", dir / "y");
    std::string out;
    for (const fs::DirEntry &e : co_await fs::scandir(dir.path))
      out += e.name + (e.is_dir() ? "/ " : e.is_file() ? " " : "? ");
    fs::Stat st = co_await fs::stat(dir / "y");
    out += std::to_string(st.size) + (S_ISREG(st.mode) ? " file" : " other");
    co_await fs::unlink(dir / "y");
    out += (co_await fs::scandir(dir.path)).size() == 1 ? " gone" : " still there";
    co_return out;
  }());
  CHECK(got == "sub/ y 5 file gone");
}

TEST_CASE("E: file failures throw Python's OSError subclasses, with messages naming the path") {
  Dir dir;
  auto got = uvrun::run([&]() -> uvrun::Task<std::string> {
    co_await fs::write_file(dir / "ten", "0123456789");
    co_await fs::write_file(dir / "locked", "x");
    chmod((dir / "locked").c_str(), 0);
    std::string out;
    out += co_await thrown([&] { return fs::read_file(dir / "nope"); }) + "\n";
    out += co_await thrown([&] { return fs::read_file(dir.path); }) + "\n";
    out += co_await thrown([&] { return fs::read_file(dir / "ten", 4); }) + "\n";
    out += co_await thrown([&] { return fs::write_file(dir / "ten", "", fs::exclusive); }) + "\n";
    if (geteuid() != 0)  // root reads anything
      out += co_await thrown([&] { return fs::read_file(dir / "locked"); }) + "\n";
    co_return out;
  }());
  std::string expected = "FileNotFoundError: read_file(\"" + dir / "nope" +
                         "\"): no such file or directory\n"
                         "IsADirectoryError: read_file(\"" +
                         dir.path +
                         "\"): illegal operation on a directory\n"
                         "LimitOverrunError: read_file(\"" +
                         dir / "ten" +
                         "\"): the file is longer than the limit of 4 bytes\n"
                         "FileExistsError: write_file(\"" +
                         dir / "ten" + "\"): file already exists\n";
  if (geteuid() != 0) expected += "PermissionError: read_file(\"" + dir / "locked" + "\"): permission denied\n";
  CHECK(got == expected);
}

TEST_CASE("F3: a file operation cancelled by a timeout before it started never runs") {
  Dir dir;
  std::string path = dir / "never";
  uvrun::Options opts;
  opts.executor_max_workers = 1;
  bool timed_out = false;
  uvrun::run(
      [&]() -> uvrun::Task<void> {
        // The one worker is busy for 100 ms; the write waits behind it.
        auto busy = uvrun::to_thread([] { std::this_thread::sleep_for(100ms); });
        try {
          co_await uvrun::wait_for(fs::write_file(path, "x"), 10ms);
        } catch (const uvrun::TimeoutError &) {
          timed_out = true;
        }
        co_await busy;
        co_await fs::write_file(dir / "after", "y");  // queued behind the cancelled job
      }(),
      opts);
  CHECK(timed_out);
  CHECK(std::filesystem::exists(dir / "after"));
  CHECK(!std::filesystem::exists(path));
}

TEST_CASE("F2: dropping a File closes its descriptor") {
  Dir dir;
  auto got = uvrun::run([&]() -> uvrun::Task<bool> {
    co_await fs::write_file(dir / "f", "abc");
    int probe;
    {
      fs::File f = co_await fs::open(dir / "f");
      probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // the lowest free number
      ::close(probe);
    }
    // The task keeps the future it resumed from, which owns the file too,
    // until its next await.
    co_await fs::stat(dir / "f");
    int after = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::close(after);
    co_return after < probe;  // the file's number is free again
  }());
  CHECK(got);
}
