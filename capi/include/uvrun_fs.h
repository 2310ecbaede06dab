/* uvrun_fs.h -- files: whole-file reads and writes, open files, and paths
 * (included by uvrun.h).
 *
 * Every operation is one job on the loop's own executor (never libuv's
 * shared pool), however many system calls it takes, and returns a new
 * uvrun_future_t * to await (or NULL, the reason in uvrun_errmsg()).
 * Failures keep the system's code as libuv gives it (-ENOENT, -EISDIR,
 * -EACCES...) with a message naming the operation and the path:
 * `read_file("/tmp/nope"): no such file or directory`.
 *
 * Cancelling the future of an operation whose job has not started yet means
 * it never runs: a write_file never creates its file. A job already running
 * is left to finish; its result is dropped and freed. At a runner's close,
 * file jobs still queued are cancelled the same way. A future merely
 * dropped is not cancelled: its job runs.
 *
 * Values a future gives (bytes, a stat, a directory's entries, a file) are
 * owned by the future: they stay valid while the caller holds it, and go
 * with it. */
#ifndef UVRUN_FS_H
#define UVRUN_FS_H

#include "uvrun.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvrun_file_s uvrun_file_t;

/* Bytes read: data[0 .. len), followed by a '\0' not counted in len (text
 * can be used as a C string). */
typedef struct uvrun_bytes_s {
  const char *data;
  size_t len;
} uvrun_bytes_t;

/* What stat() says of a file. Times are seconds since the epoch. */
typedef struct uvrun_file_stat_s {
  uint64_t size; /* bytes */
  uint32_t mode; /* st_mode: the type (S_ISDIR...) and permission bits */
  uint32_t nlink;
  uint32_t uid, gid;
  uint64_t dev, ino;
  double atime, mtime, ctime;
} uvrun_file_stat_t;

/* ---- Whole files ------------------------------------------------------------
 * open, read to the end (or write everything), close: one job. */

/* The value is a const uvrun_bytes_t * owned by the future. More than
 * `limit` bytes (0: no limit) fail with UVRUN_E_LIMIT_OVERRUN and nothing
 * is kept; a directory fails with -EISDIR. */
UVRUN_EXTERN uvrun_future_t *uvrun_read_file(uvrun_loop_t *loop,
                                             const char *path, size_t limit);

/* write_file's flags; 0 creates the file or replaces what it held. */
#define UVRUN_FS_APPEND 1    /* add to the end of what it holds */
#define UVRUN_FS_EXCLUSIVE 2 /* fail with -EEXIST if it exists */
#define UVRUN_FS_SYNC 4      /* fsync before closing: durable once done */
/* `data` is copied: the caller's buffer may go once this returns. A new
 * file gets mode 0666 less the umask. The value is n, as uintptr_t. */
UVRUN_EXTERN uvrun_future_t *uvrun_write_file(uvrun_loop_t *loop,
                                              const char *path,
                                              const void *data, size_t n,
                                              int flags);

/* ---- Open files -------------------------------------------------------------
 * A file is reference-counted and belongs to its loop's thread. Dropping
 * the last reference to an open file closes its descriptor (once the jobs
 * using it have ended). After uvrun_file_close() every operation fails
 * with -EBADF ("the file is closed"). */

/* `flags` and `mode` are open(2)'s (O_RDONLY, O_WRONLY | O_CREAT, ...;
 * O_CLOEXEC is added). The value is the uvrun_file_t *, owned by the
 * future: uvrun_file_ref() it to keep it. */
UVRUN_EXTERN uvrun_future_t *uvrun_file_open(uvrun_loop_t *loop,
                                             const char *path, int flags,
                                             int mode);
UVRUN_EXTERN uvrun_file_t *uvrun_file_ref(uvrun_file_t *file);
UVRUN_EXTERN void uvrun_file_unref(uvrun_file_t *file);
/* The path it was opened with. */
UVRUN_EXTERN const char *uvrun_file_path(const uvrun_file_t *file);

/* Up to n bytes at `offset` (-1: at the file's position, which moves);
 * fewer only at the end of the file, none past it. The value is a
 * const uvrun_bytes_t * owned by the future: a read never writes into the
 * caller's memory, so a cancelled read still running harms nothing. */
UVRUN_EXTERN uvrun_future_t *uvrun_file_read(uvrun_file_t *file, size_t n,
                                             int64_t offset);
/* All n bytes at `offset` (-1: at the file's position, or the end with
 * O_APPEND). `data` is copied. The value is n, as uintptr_t. */
UVRUN_EXTERN uvrun_future_t *uvrun_file_write(uvrun_file_t *file,
                                              const void *data, size_t n,
                                              int64_t offset);
/* Done when what was written is on the disk. */
UVRUN_EXTERN uvrun_future_t *uvrun_file_fsync(uvrun_file_t *file);
/* The value is a const uvrun_file_stat_t * owned by the future. */
UVRUN_EXTERN uvrun_future_t *uvrun_file_stat(uvrun_file_t *file);
/* Closes once the operations already started have ended; done with
 * close(2)'s outcome. Later operations fail with -EBADF; a second close
 * too. */
UVRUN_EXTERN uvrun_future_t *uvrun_file_close(uvrun_file_t *file);

/* ---- Paths --------------------------------------------------------------- */

/* Follows symbolic links. The value is a const uvrun_file_stat_t * owned
 * by the future. */
UVRUN_EXTERN uvrun_future_t *uvrun_fs_stat(uvrun_loop_t *loop,
                                           const char *path);
/* Replaces `to` if it exists (rename(2)). Value NULL. */
UVRUN_EXTERN uvrun_future_t *uvrun_fs_rename(uvrun_loop_t *loop,
                                             const char *from, const char *to);
UVRUN_EXTERN uvrun_future_t *uvrun_fs_unlink(uvrun_loop_t *loop,
                                             const char *path);
/* mode 0: 0777, less the umask. Value NULL. */
UVRUN_EXTERN uvrun_future_t *uvrun_fs_mkdir(uvrun_loop_t *loop,
                                            const char *path, int mode);

/* One entry of a directory. */
#define UVRUN_DIRENT_UNKNOWN 0
#define UVRUN_DIRENT_FILE 1
#define UVRUN_DIRENT_DIR 2
#define UVRUN_DIRENT_LINK 3
#define UVRUN_DIRENT_OTHER 4 /* a FIFO, a socket, a device */
typedef struct uvrun_dirent_s {
  const char *name;
  int32_t type; /* UVRUN_DIRENT_* */
  const struct uvrun_dirent_s *next;
} uvrun_dirent_t;
/* The entries but "." and "..", sorted by name (byte order). The value is
 * the first uvrun_dirent_t of a list in one block owned by the future;
 * NULL for an empty directory. */
UVRUN_EXTERN uvrun_future_t *uvrun_fs_scandir(uvrun_loop_t *loop,
                                              const char *path);

#ifdef __cplusplus
}
#endif
#endif /* UVRUN_FS_H */
