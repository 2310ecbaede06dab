// uvrun/fs.hpp -- files from coroutines: whole-file reads and writes, File
// (an open file, RAII), and operations on paths. Each operation is one job
// on the loop's own executor; a cancelled one that has not started never
// runs. Failures throw OSError subclasses as Python names them:
// FileNotFoundError, IsADirectoryError, PermissionError, FileExistsError...
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <uvrun.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "errors.hpp"
#include "future.hpp"
#include "stream.hpp"

namespace uvrun::fs {

// What stat() says: size, mode (S_ISDIR(mode)...), times in seconds.
using Stat = uvrun_file_stat_t;

struct DirEntry {
  std::string name;
  int type = UVRUN_DIRENT_UNKNOWN;  // UVRUN_DIRENT_*
  bool is_file() const noexcept { return type == UVRUN_DIRENT_FILE; }
  bool is_dir() const noexcept { return type == UVRUN_DIRENT_DIR; }
};

// write_file's flags; 0 creates the file or replaces what it held.
inline constexpr int append = UVRUN_FS_APPEND;        // add to the end
inline constexpr int exclusive = UVRUN_FS_EXCLUSIVE;  // FileExistsError if it exists
inline constexpr int sync = UVRUN_FS_SYNC;            // fsync before closing

class File;

namespace detail {

// A file operation's future: its value (which belongs to the future:
// convert it here), or the system's error as an OSError subclass.
struct FsAwaiter : uvrun::detail::IoAwaiter {
  using IoAwaiter::IoAwaiter;
  void *value() { return IoAwaiter::await_resume(); }
};

struct VoidAwaiter : FsAwaiter {
  using FsAwaiter::FsAwaiter;
  void await_resume() { value(); }
};

struct BytesAwaiter : FsAwaiter {
  using FsAwaiter::FsAwaiter;
  std::string await_resume() {
    auto *b = static_cast<const uvrun_bytes_t *>(value());
    return std::string(b->data, b->len);
  }
};

struct CountAwaiter : FsAwaiter {
  using FsAwaiter::FsAwaiter;
  std::size_t await_resume() { return reinterpret_cast<std::uintptr_t>(value()); }
};

struct StatAwaiter : FsAwaiter {
  using FsAwaiter::FsAwaiter;
  Stat await_resume() { return *static_cast<const Stat *>(value()); }
};

struct EntriesAwaiter : FsAwaiter {
  using FsAwaiter::FsAwaiter;
  std::vector<DirEntry> await_resume() {
    std::vector<DirEntry> out;
    for (auto *e = static_cast<const uvrun_dirent_t *>(value()); e != nullptr; e = e->next)
      out.push_back({e->name, e->type});
    return out;
  }
};

struct FileAwaiter : FsAwaiter {
  using FsAwaiter::FsAwaiter;
  File await_resume();
};

}  // namespace detail

// An open file. Dropping it closes the descriptor (once the operations
// already started are done); close() does so and reports close(2)'s error.
// After close() every operation throws OSError (EBADF).
class File {
 public:
  File() noexcept = default;
  // Adopts a reference.
  explicit File(uvrun_file_t *adopted) noexcept : f_(adopted) {}
  File(File &&o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  File &operator=(File o) noexcept {
    std::swap(f_, o.f_);
    return *this;
  }
  ~File() { uvrun_file_unref(f_); }

  // Up to n bytes at offset (-1: at the file's position); fewer only at
  // the end of the file.
  detail::BytesAwaiter read(std::size_t n, std::int64_t offset = -1) {
    return detail::BytesAwaiter(uvrun_file_read(checked(), n, offset));
  }
  // All of bytes at offset (-1: at the file's position); their count.
  detail::CountAwaiter write(std::string_view bytes, std::int64_t offset = -1) {
    return detail::CountAwaiter(uvrun_file_write(checked(), bytes.data(), bytes.size(), offset));
  }
  detail::VoidAwaiter fsync() { return detail::VoidAwaiter(uvrun_file_fsync(checked())); }
  detail::StatAwaiter stat() { return detail::StatAwaiter(uvrun_file_stat(checked())); }
  detail::VoidAwaiter close() { return detail::VoidAwaiter(uvrun_file_close(checked())); }
  std::string path() const { return uvrun_file_path(checked()); }

  uvrun_file_t *capi() const noexcept { return f_; }
  explicit operator bool() const noexcept { return f_ != nullptr; }

 private:
  uvrun_file_t *checked() const {
    if (f_ == nullptr) uvrun::detail::throw_empty("uvrun::fs::File");
    return f_;
  }
  uvrun_file_t *f_ = nullptr;
};

// The future owns the file: the File takes a reference of its own.
inline File detail::FileAwaiter::await_resume() { return File(uvrun_file_ref(static_cast<uvrun_file_t *>(value()))); }

// Paths are views, copied before the call (see tcp::connect on GCC 12 and
// default-argument temporaries).

// flags and mode are open(2)'s: O_RDONLY, O_WRONLY | O_CREAT | O_TRUNC...
inline detail::FileAwaiter open(std::string_view path, int flags = O_RDONLY, int mode = 0666) {
  std::string p(path);
  return detail::FileAwaiter(uvrun_file_open(running_loop(), p.c_str(), flags, mode));
}

// The whole file; LimitOverrunError past `limit` bytes (0: no limit).
inline detail::BytesAwaiter read_file(std::string_view path, std::size_t limit = 0) {
  std::string p(path);
  return detail::BytesAwaiter(uvrun_read_file(running_loop(), p.c_str(), limit));
}

// Creates or replaces the file (flags: append, exclusive, sync); the count
// written.
inline detail::CountAwaiter write_file(std::string_view path, std::string_view bytes, int flags = 0) {
  std::string p(path);
  return detail::CountAwaiter(uvrun_write_file(running_loop(), p.c_str(), bytes.data(), bytes.size(), flags));
}

// Follows symbolic links.
inline detail::StatAwaiter stat(std::string_view path) {
  std::string p(path);
  return detail::StatAwaiter(uvrun_fs_stat(running_loop(), p.c_str()));
}

inline detail::VoidAwaiter rename(std::string_view from, std::string_view to) {
  std::string f(from), t(to);
  return detail::VoidAwaiter(uvrun_fs_rename(running_loop(), f.c_str(), t.c_str()));
}

inline detail::VoidAwaiter unlink(std::string_view path) {
  std::string p(path);
  return detail::VoidAwaiter(uvrun_fs_unlink(running_loop(), p.c_str()));
}

// mode 0: 0777, less the umask.
inline detail::VoidAwaiter mkdir(std::string_view path, int mode = 0) {
  std::string p(path);
  return detail::VoidAwaiter(uvrun_fs_mkdir(running_loop(), p.c_str(), mode));
}

// The entries but "." and "..", sorted by name.
inline detail::EntriesAwaiter scandir(std::string_view path) {
  std::string p(path);
  return detail::EntriesAwaiter(uvrun_fs_scandir(running_loop(), p.c_str()));
}

}  // namespace uvrun::fs
