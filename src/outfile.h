/* --output-file=FILE: the output is complete or not there at all.  It
 * goes to a temporary file beside FILE (beside the target of a symbolic
 * link), renamed over it once written and on disk; an existing FILE's
 * mode and owner carry over.  FILE must be a regular file or a new path,
 * never one of the IMAGEs; "-" is standard output.  On SIGINT, SIGTERM or
 * SIGHUP the temporary file is removed before the signal ends the
 * program. */
#ifndef QCOW2DUMP_OUTFILE_H
#define QCOW2DUMP_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>

struct q2_outfile {
	int fd;            /* where to write */
	char *target;      /* the path renamed over, or NULL for stdout */
	char *tmp;         /* the temporary file, or NULL */
	bool have_mode;    /* an existing file's mode and owner to keep */
};

/* Opens path for the run, refusing any of images[0..n_images).  On
 * failure returns false and sets *why to a static explanation (errno set
 * when it comes from a system call, else 0). */
bool q2_outfile_open(struct q2_outfile *f, const char *path,
		     char *const *images, size_t n_images, const char **why);
/* ok: the output is complete; renames it into place (false, errno set,
 * when that fails).  !ok: removes the temporary file. */
bool q2_outfile_close(struct q2_outfile *f, bool ok);

#endif
