#include "config.h"

#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The one piece of global state: a signal handler can reach nothing
 * else.  It holds the temporary file's name while one exists. */
static char pending[PATH_MAX + 16];
static volatile sig_atomic_t armed;

static void on_signal(int sig)
{
	if (armed)
		unlink(pending);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void arm(const char *tmp)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;

	snprintf(pending, sizeof pending, "%s", tmp);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < Q2_ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	armed = 1;
}

static void disarm(void)
{
	armed = 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static bool fail(const char **why, const char *what, int err)
{
	*why = what;
	errno = err;
	return false;
}

static bool open_file(struct q2_outfile *f, const char *path,
		      char *const *images, size_t n_images, const char **why)
{
	struct stat st, ist, lst;
	bool exists;
	mode_t mask;

	memset(f, 0, sizeof *f);
	f->fd = STDOUT_FILENO;
	if (strcmp(path, "-") == 0)
		return true;
	/* a symbolic link is written through: its target is replaced */
	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		f->target = realpath(path, NULL);
		if (!f->target)
			return fail(why, "cannot follow the symbolic link", errno);
	} else {
		f->target = strdup(path);
		if (!f->target)
			return fail(why, "out of memory", ENOMEM);
	}
	exists = stat(f->target, &st) == 0;
	if (!exists && errno != ENOENT)
		return fail(why, "cannot examine it", errno);
	if (exists && !S_ISREG(st.st_mode))
		return fail(why, "not a regular file: only a regular file or a new path is replaced", 0);
	for (size_t i = 0; exists && i < n_images; i++)
		if (stat(images[i], &ist) == 0 && same_file(&st, &ist))
			return fail(why, "it is one of the IMAGEs: qcow2dump never writes an image", 0);
	if (asprintf(&f->tmp, "%s.XXXXXX", f->target) < 0) {
		f->tmp = NULL;
		return fail(why, "out of memory", ENOMEM);
	}
	f->fd = mkostemp(f->tmp, O_CLOEXEC);
	if (f->fd < 0) {
		int e = errno;

		free(f->tmp);
		f->tmp = NULL;
		return fail(why, "cannot create", e);
	}
	arm(f->tmp);
	if (exists) {
		/* as the file it replaces: its owner (where we may) and mode */
		if (fchown(f->fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) {
			int e = errno;

			q2_outfile_close(f, false);
			return fail(why, "cannot give it the file's owner", e);
		}
		if (fchmod(f->fd, st.st_mode & 07777) != 0) {
			int e = errno;

			q2_outfile_close(f, false);
			return fail(why, "cannot give it the file's mode", e);
		}
		return true;
	}
	/* mkostemp makes it 0600; give it the mode a new file would get */
	mask = umask(0);
	umask(mask);
	if (fchmod(f->fd, 0666 & ~mask) != 0) {
		int e = errno;

		q2_outfile_close(f, false);
		return fail(why, "cannot set its mode", e);
	}
	return true;
}

bool q2_outfile_open(struct q2_outfile *f, const char *path,
		     char *const *images, size_t n_images, const char **why)
{
	int e;

	if (open_file(f, path, images, n_images, why))
		return true;
	/* nothing is left behind: no temporary file (the failures after
	 * mkostemp close it), and no name */
	e = errno;
	free(f->target);
	f->target = NULL;
	errno = e;
	return false;
}

bool q2_outfile_close(struct q2_outfile *f, bool ok)
{
	int e = 0;

	if (!f->tmp) {
		free(f->target);
		f->target = NULL;
		return ok;
	}
	if (ok && fsync(f->fd) != 0)
		ok = false, e = errno;
	if (close(f->fd) != 0 && ok)
		ok = false, e = errno;
	if (ok && rename(f->tmp, f->target) != 0)
		ok = false, e = errno;
	if (!ok)
		unlink(f->tmp);
	disarm();
	free(f->tmp);
	free(f->target);
	f->tmp = f->target = NULL;
	if (!ok && e)
		errno = e;
	return ok;
}
