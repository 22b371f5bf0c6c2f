#include "config.h"

#include "chain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "be.h"
#include "util.h"

const char *q2_layer_format_name(enum q2_layer_format f)
{
	return f == Q2_LAYER_RAW ? "raw" : "qcow2";
}

bool q2_backing_is_protocol(const char *name)
{
	return name[strcspn(name, ":/")] == ':';
}

/* QEMU's path_combine(): the overlay's path up to its last '/', then
 * the name; an absolute name as it is. */
char *q2_backing_join(const char *overlay_path, const char *name)
{
	const char *slash = strrchr(overlay_path, '/');
	size_t dir = name[0] == '/' || !slash ? 0 : (size_t)(slash - overlay_path) + 1;
	size_t len = strlen(name);
	char *p = malloc(dir + len + 1);

	if (!p)
		return NULL;
	memcpy(p, overlay_path, dir);
	memcpy(p + dir, name, len + 1);
	return p;
}

const char *q2_probe_format(const uint8_t *buf, size_t len)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *format;
	} magics[] = {
		{ "QED\0", 4, "qed" },
		{ "KDMV", 4, "vmdk" },
		{ "COWD", 4, "vmdk" },
		{ "# Disk DescriptorFile", 21, "vmdk" },
		{ "conectix", 8, "vpc" },
		{ "vhdxfile", 8, "vhdx" },
		{ "LUKS\xba\xbe", 6, "luks" },
		{ "WithoutFreeSpace", 16, "parallels" },
		{ "WithouFreSpacExt", 16, "parallels" },
	};

	if (len >= 8 && get_be32(buf) == Q2_MAGIC)
		/* QEMU's qcow2 probe wants version 2 or above; 1 is qcow */
		return get_be32(buf + 4) >= 2 ? "qcow2" : "qcow";
	for (size_t i = 0; i < Q2_ARRAY_SIZE(magics); i++)
		if (len >= magics[i].len && memcmp(buf, magics[i].magic, magics[i].len) == 0)
			return magics[i].format;
	if (len >= 68 && get_le32(buf + 64) == 0xbeda107fu)
		return "vdi";
	return NULL;
}

/* ---- opening the chain ---- */

static struct q2_layer *add_layer(struct q2_chain *c, char *path)
{
	struct q2_layer *grown = realloc(c->layers, (c->n + 1) * sizeof *grown);
	struct q2_layer *l;

	if (!grown) {
		free(path);
		return NULL;
	}
	c->layers = grown;
	l = &c->layers[c->n];
	memset(l, 0, sizeof *l);
	l->path = path;
	l->depth = (uint32_t)c->n;
	l->reader.fd = -1;
	c->n++;
	return l;
}

/* What stops the chain at layer l (a problem of l, as decoding ones go:
 * stderr and exit status 2). */
__attribute__((format(printf, 5, 6)))
static void stop(struct q2_chain *c, struct q2_layer *l, enum q2_code code,
		 uint64_t offset, const char *fmt, ...)
{
	char *detail = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) < 0)
		detail = NULL;
	va_end(ap);
	q2_problems_addf(&l->img.problems, Q2_FROM_DECODE, code, offset,
			 Q2_NO_INDEX, "%s", detail ? detail : "");
	free(detail);
	c->broken = true;
	c->broken_code = code;
}

/* The last backing format extension (QEMU keeps the last one read), up
 * to a NUL; NULL when there is none. */
const struct q2_ext *q2_backing_format_ext(const struct q2_image *img)
{
	for (size_t i = img->n_exts; i-- > 0;)
		if (img->exts[i].kind == Q2_EXTK_BACKING_FORMAT)
			return &img->exts[i];
	return NULL;
}

/* Opens layer l once its path is set. */
static bool open_layer(const struct q2_chain *c, struct q2_layer *l,
		       enum q2_code *code, int *sys_errno)
{
	struct stat st;

	if (!q2_reader_open_mode(&l->reader, l->path, c->direct_io, code, sys_errno))
		return false;
	if (fstat(l->reader.fd, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	l->opened = true;
	return true;
}

bool q2_layer_bitmaps_known(const struct q2_image *img)
{
	const struct q2_problems *p = &img->problems;

	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].origin == Q2_FROM_DECODE &&
		    q2_problem_severity(&p->v[i]) == Q2_SEV_ERROR &&
		    p->v[i].scope != Q2_SCOPE_CHECK)
			return false;
	return true;
}

static void decode_layer(struct q2_layer *l, const struct q2_decode_opts *opts)
{
	if (l->format == Q2_LAYER_QCOW2) {
		q2_decode(&l->reader, opts, &l->img);
		l->bitmaps_known = q2_layer_bitmaps_known(&l->img);
	} else {
		memset(&l->img, 0, sizeof l->img);
		l->img.file_size = l->reader.size;
		l->bitmaps_known = true;
	}
	l->lock = q2_lock_probe(l->reader.fd);
}

bool q2_layer_size(const struct q2_layer *l, uint64_t *size)
{
	if (l->format == Q2_LAYER_RAW) {
		*size = l->reader.size;
		return true;
	}
	*size = l->img.header.size;
	return l->img.header_decoded;
}

/* Where the backing file of layer l lies and what format its overlay
 * says it has, as QEMU resolves them. */
struct backing {
	const char *name;        /* as the overlay gives it */
	uint64_t name_at;        /* its offset in the overlay */
	const struct q2_ext *fx; /* the backing format extension, or NULL */
	char format[Q2_MAX_BACKING_NAME + 1]; /* what it says, or "" */
	char *path;              /* the name joined to the overlay's path */
};

/* Step 1: the backing file's name and format; false when the chain ends
 * at l (the reason, if any, is a problem of l), or out of memory. */
static bool resolve(struct q2_chain *c, struct q2_layer *l, struct backing *b,
		    bool *nomem)
{
	const struct q2_header *h = &l->img.header;

	if (l->format != Q2_LAYER_QCOW2 || !l->opened)
		return false;
	if (!l->img.header_decoded) {
		/* the decoder said why; what lies below is unknown */
		c->broken = true;
		c->broken_code = l->img.problems.n ? l->img.problems.v[0].code : Q2_C_MAGIC;
		return false;
	}
	if (!h->backing_file_offset)
		return false;
	if (!l->img.backing_file) {
		c->broken = true;
		c->broken_code = l->img.problems.n ? l->img.problems.v[0].code
						   : Q2_C_BACKING_NAME_SIZE;
		return false;
	}
	/* QEMU reads the name as a C string: an empty one is no backing file */
	b->name = l->img.backing_file;
	b->name_at = h->backing_file_offset;
	if (!b->name[0])
		return false;
	if (q2_backing_is_protocol(b->name)) {
		stop(c, l, Q2_C_BACKING_NAME_UNSUPPORTED, b->name_at, "%s", b->name);
		return false;
	}
	if (c->n >= Q2_CHAIN_MAX_LAYERS) {
		stop(c, l, Q2_C_BACKING_CHAIN_TOO_DEEP, b->name_at,
		     "%s is not followed", b->name);
		return false;
	}
	b->fx = q2_backing_format_ext(&l->img);
	if (b->fx) {
		snprintf(b->format, sizeof b->format, "%.*s", (int)b->fx->length,
			 (const char *)b->fx->data);
		if (strcmp(b->format, "qcow2") != 0 && strcmp(b->format, "raw") != 0) {
			stop(c, l, Q2_C_BACKING_FORMAT_UNSUPPORTED, b->fx->offset,
			     "%s is '%s' by the backing format extension", b->name,
			     b->format);
			return false;
		}
	}
	b->path = q2_backing_join(l->path, b->name);
	*nomem = !b->path;
	return b->path != NULL;
}

/* Step 2: opens the backing file as layer nb of the chain; false with
 * the reason a problem of the overlay ol. */
static bool open_backing(struct q2_chain *c, size_t ol, struct backing *b)
{
	struct q2_layer *l = &c->layers[ol], *nb = &c->layers[ol + 1];
	enum q2_code code;
	int sys_errno = 0;

	if (!open_layer(c, nb, &code, &sys_errno)) {
		stop(c, l, Q2_C_BACKING_FILE_MISSING, b->name_at, "%s%s%s: %s", b->name,
		     strcmp(b->name, nb->path) ? " as " : "",
		     strcmp(b->name, nb->path) ? nb->path : "",
		     code == Q2_C_NOT_A_FILE && !sys_errno
		     ? q2_codes[code].message : strerror(sys_errno));
		return false;
	}
	for (size_t k = 0; k <= ol; k++)
		if (c->layers[k].opened && c->layers[k].dev == nb->dev &&
		    c->layers[k].ino == nb->ino) {
			stop(c, l, Q2_C_BACKING_CHAIN_LOOP, b->name_at,
			     "%s is layer %zu, %s", b->name, k, c->layers[k].path);
			return false;
		}
	return true;
}

/* Step 3: the backing file's format, from the overlay's word and the
 * file's magic as QEMU probes it; false with the reason a problem of
 * the overlay ol. */
static bool probe_backing(struct q2_chain *c, size_t ol, const struct backing *b)
{
	struct q2_layer *l = &c->layers[ol], *nb = &c->layers[ol + 1];
	uint8_t magic[128];
	size_t magic_len = nb->reader.size < sizeof magic ? (size_t)nb->reader.size
							  : sizeof magic;
	const char *probed;
	enum q2_code code;
	int sys_errno = 0;

	if (!q2_read(&nb->reader, 0, magic, magic_len, &code, &sys_errno))
		magic_len = 0;
	probed = q2_probe_format(magic, magic_len);
	if (!strcmp(b->format, "qcow2") && !(probed && !strcmp(probed, "qcow2"))) {
		stop(c, l, Q2_C_BACKING_FORMAT_MISMATCH, b->fx->offset, "%s is %s",
		     nb->path, probed ? probed : "not of a format QEMU probes (raw)");
		return false;
	}
	if (!b->format[0] && probed && strcmp(probed, "qcow2") != 0) {
		stop(c, l, Q2_C_BACKING_FORMAT_UNSUPPORTED, b->name_at,
		     "%s is probed as %s", nb->path, probed);
		return false;
	}
	nb->format = !strcmp(b->format, "raw") || (!b->format[0] && !probed)
		     ? Q2_LAYER_RAW : Q2_LAYER_QCOW2;
	nb->raw_probed_qcow2 = nb->format == Q2_LAYER_RAW && probed &&
			       !strcmp(probed, "qcow2");
	return true;
}

/* Follows the backing file of the last layer; false when the chain ends
 * there (or out of memory: *nomem). */
static bool follow(struct q2_chain *c, const struct q2_decode_opts *opts,
		   bool *nomem)
{
	size_t ol = c->n - 1;
	struct backing b = { 0 };

	if (!resolve(c, &c->layers[ol], &b, nomem))
		return false;
	if (!add_layer(c, b.path)) {
		*nomem = true;
		return false;
	}
	/* the layer now owns the path; add_layer may have moved the array */
	if (!open_backing(c, ol, &b) || !probe_backing(c, ol, &b)) {
		struct q2_layer *nb = &c->layers[ol + 1];

		q2_reader_close(&nb->reader);
		free(nb->path);
		c->n--;
		return false;
	}
	decode_layer(&c->layers[ol + 1], opts);
	return true;
}

bool q2_chain_open(struct q2_chain *c, const char *image,
		   const struct q2_decode_opts *opts, bool follow_backing)
{
	struct q2_layer *top;
	char *path = strdup(image);
	enum q2_code code;
	int sys_errno = 0;
	bool nomem = false;

	memset(c, 0, sizeof *c);
	c->direct_io = opts->direct_io;
	if (!path || !(top = add_layer(c, path)))
		return false;
	if (!open_layer(c, top, &code, &sys_errno)) {
		q2_image_unopened(&top->img, code, sys_errno);
		return true;
	}
	decode_layer(top, opts);
	while (follow_backing && follow(c, opts, &nomem))
		;
	return !nomem;
}

bool q2_chain_of_memory(struct q2_chain *c, const char *path, const void *buf,
			size_t len, const struct q2_decode_opts *opts)
{
	char *p = strdup(path);
	struct q2_layer *l;

	memset(c, 0, sizeof *c);
	if (!p || !(l = add_layer(c, p)))
		return false;
	q2_reader_from_memory(&l->reader, buf, len);
	l->opened = true;
	decode_layer(l, opts);
	l->lock = Q2_LOCK_NONE;
	return true;
}

void q2_chain_free(struct q2_chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		q2_reader_close(&c->layers[i].reader);
		q2_image_free(&c->layers[i].img);
		free(c->layers[i].path);
	}
	free(c->layers);
	memset(c, 0, sizeof *c);
}
