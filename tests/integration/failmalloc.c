/* LD_PRELOAD shim for nomem.sh: lets the first FAIL_AFTER allocations
 * (malloc, calloc, realloc, posix_memalign, aligned_alloc) succeed and
 * fails every later one, so that each allocation of a run can be made the
 * first to fail.  FAIL_AFTER unset: nothing fails; the count of
 * allocations made is written to the file FAIL_COUNT at exit, if set.
 * FAIL_PREAD_AT=OFFSET: a pread of a range holding that offset fails
 * with EIO, as a bad sector would. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long limit = -2;            /* -2: not read yet, -1: none */
static long made;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);

/* dlsym may itself call calloc before real_calloc is known */
static char early[4096];
static size_t early_used;

static void setup(void)
{
	const char *s;

	if (limit != -2)
		return;
	limit = -1;
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_free = dlsym(RTLD_NEXT, "free");
	s = getenv("FAIL_AFTER");
	if (s)
		limit = atol(s);
}

static int refuse(void)
{
	setup();
	if (limit >= 0 && made >= limit) {
		errno = ENOMEM;
		return 1;
	}
	made++;
	return 0;
}

void *malloc(size_t n)
{
	if (refuse())
		return NULL;
	return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (!real_calloc) {
		size_t want = n * size;
		void *p;

		if (limit == -2 && early_used + want <= sizeof early) {
			p = early + early_used;
			early_used += (want + 15) & ~(size_t)15;
			return p;
		}
	}
	if (refuse())
		return NULL;
	return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (refuse())
		return NULL;
	return real_realloc(p, n);
}

void free(void *p)
{
	if (!p || ((char *)p >= early && (char *)p < early + sizeof early))
		return;
	setup();
	real_free(p);
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("FAIL_COUNT");
	FILE *f;

	if (!path || !(f = fopen(path, "w")))
		return;
	fprintf(f, "%ld\n", made);
	fclose(f);
}

static ssize_t (*real_pread)(int, void *, size_t, off_t);

ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	const char *s = getenv("FAIL_PREAD_AT");

	if (!real_pread)
		real_pread = dlsym(RTLD_NEXT, "pread");
	if (s && len && atoll(s) >= off && (size_t)(atoll(s) - off) < len) {
		errno = EIO;
		return -1;
	}
	return real_pread(fd, buf, len, off);
}

ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}
