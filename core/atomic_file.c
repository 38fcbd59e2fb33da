/* Atomic file replacement (atomic_file.h): mkstemp, fsync, rename. */
#include "atomic_file.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *dam_atomic_open(const char *path, char **tmp) {
  *tmp = NULL;
  char *name = NULL;
  if (asprintf(&name, "%s.tmp.XXXXXX", path) < 0) {
    dam_fail(DAM_EIO, "%s: cannot write: out of memory", path);
    return NULL;
  }
  int fd = mkstemp(name);
  if (fd < 0) {
    dam_fail(DAM_EIO, "%s: cannot write: %s", path, strerror(errno));
    free(name);
    return NULL;
  }
  mode_t mask = umask(0); /* mkstemp's 0600 -> what a plain create gives */
  umask(mask);
  FILE *f = fchmod(fd, 0666 & ~mask) == 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    int err = errno;
    close(fd);
    unlink(name);
    free(name);
    dam_fail(DAM_EIO, "%s: cannot write: %s", path, strerror(err));
    return NULL;
  }
  *tmp = name;
  return f;
}

/* fsync the directory holding path, so the rename is durable (best effort:
 * some file systems refuse it, and the new content is in place anyway). */
static void sync_dir(const char *path) {
  char *dir = strdup(path);
  if (!dir)
    return;
  char *slash = strrchr(dir, '/');
  if (slash)
    slash[slash == dir] = '\0';
  int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(dir);
}

int dam_atomic_close(FILE *f, char *tmp, const char *path, bool ok) {
  int err = 0;
  errno = 0;
  if (ok && ferror(f))
    err = EIO;
  else if (ok && (fflush(f) != 0 || fsync(fileno(f)) != 0))
    err = errno ? errno : EIO;
  if (fclose(f) != 0 && ok && !err)
    err = errno ? errno : EIO;
  if (ok && !err && rename(tmp, path) != 0)
    err = errno;
  if (!ok || err)
    unlink(tmp);
  free(tmp);
  if (!ok)
    return DAM_EIO;
  if (err)
    return dam_fail(DAM_EIO, "%s: cannot write: %s", path, strerror(err));
  sync_dir(path);
  return 0;
}
