/* fs_io.c -- the system calls under the file operations, on a worker:
 * whole reads and writes out of the partial ones the kernel may do, a
 * signal's interruption restarted. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

int uvr_fs_write_all(int fd, const char *data, size_t n, int64_t offset) {
  while (n > 0) {
    ssize_t k = offset < 0 ? write(fd, data, n) : pwrite(fd, data, n, (off_t)offset);
    if (k < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    data += k;
    n -= (size_t)k;
    if (offset >= 0) offset += k;
  }
  return 0;
}

ssize_t uvr_fs_read_full(int fd, char *buf, size_t n, int64_t offset) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = offset < 0 ? read(fd, buf + got, n - got) : pread(fd, buf + got, n - got, (off_t)(offset + got));
    if (k < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (k == 0) break; /* the end of the file */
    got += (size_t)k;
  }
  return (ssize_t)got;
}

static double timespec_seconds(struct timespec ts) { return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9; }

void uvr_fs_stat_fill(uvrun_file_stat_t *out, const struct stat *st) {
  out->size = (uint64_t)st->st_size;
  out->mode = (uint32_t)st->st_mode;
  out->nlink = (uint32_t)st->st_nlink;
  out->uid = (uint32_t)st->st_uid;
  out->gid = (uint32_t)st->st_gid;
  out->dev = (uint64_t)st->st_dev;
  out->ino = (uint64_t)st->st_ino;
  out->atime = timespec_seconds(st->st_atim);
  out->mtime = timespec_seconds(st->st_mtim);
  out->ctime = timespec_seconds(st->st_ctim);
}
