#include "config.h"

#include "chain.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "be.h"
#include "describe.h"
#include "lock.h"
#include "sort.h"
#include "verdict.h"

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

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
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

	if (len >= 8 && be32_at(buf) == Q2_MAGIC)
		/* QEMU's qcow2 probe wants version 2 or above; 1 is qcow */
		return be32_at(buf + 4) >= 2 ? "qcow2" : "qcow";
	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++)
		if (len >= magics[i].len && memcmp(buf, magics[i].magic, magics[i].len) == 0)
			return magics[i].format;
	if (len >= 68 && le32_at(buf + 64) == 0xbeda107fu)
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
static const struct q2_ext *backing_format_ext(const struct q2_image *img)
{
	for (size_t i = img->n_exts; i-- > 0;)
		if (img->exts[i].kind == Q2_EXTK_BACKING_FORMAT)
			return &img->exts[i];
	return NULL;
}

/* Opens, decodes and probes layer l once its path is set. */
static bool open_layer(struct q2_layer *l, enum q2_code *code, int *sys_errno)
{
	struct stat st;

	if (!q2_reader_open(&l->reader, l->path, code, sys_errno))
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
	l->img.lock = q2_lock_probe(l->reader.fd);
}

/* The size a layer gives its overlay: a qcow2 layer's virtual size, a
 * raw one's file. */
static bool layer_size(const struct q2_layer *l, uint64_t *size)
{
	if (l->format == Q2_LAYER_RAW) {
		*size = l->reader.size;
		return true;
	}
	*size = l->img.header.size;
	return l->img.header_decoded;
}

/* Follows the backing file of the last layer; false when the chain ends
 * there (or out of memory: *nomem). */
static bool follow(struct q2_chain *c, const struct q2_decode_opts *opts,
		   bool *nomem)
{
	struct q2_layer *l = &c->layers[c->n - 1], *b;
	const struct q2_header *h = &l->img.header;
	const struct q2_ext *fx;
	char format[Q2_MAX_BACKING_NAME + 1] = "";
	const char *name, *probed;
	uint64_t name_at = h->backing_file_offset, bsize, size;
	uint8_t magic[128];
	size_t magic_len;
	enum q2_code code;
	int sys_errno = 0;
	char *path;

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
	name = l->img.backing_file;
	if (!name[0])
		return false;
	if (q2_backing_is_protocol(name)) {
		stop(c, l, Q2_C_BACKING_NAME_UNSUPPORTED, name_at, "%s", name);
		return false;
	}
	if (c->n >= Q2_CHAIN_MAX_LAYERS) {
		stop(c, l, Q2_C_BACKING_CHAIN_TOO_DEEP, name_at,
		     "%s is not followed", name);
		return false;
	}
	fx = backing_format_ext(&l->img);
	if (fx) {
		snprintf(format, sizeof format, "%.*s", (int)fx->length,
			 (const char *)fx->data);
		if (strcmp(format, "qcow2") != 0 && strcmp(format, "raw") != 0) {
			stop(c, l, Q2_C_BACKING_FORMAT_UNSUPPORTED, fx->offset,
			     "%s is '%s' by the backing format extension", name, format);
			return false;
		}
	}
	path = q2_backing_join(l->path, name);
	if (!path) {
		*nomem = true;
		return false;
	}
	b = add_layer(c, path);
	if (!b) {
		*nomem = true;
		return false;
	}
	l = &c->layers[c->n - 2];
	if (!open_layer(b, &code, &sys_errno)) {
		c->n--;
		stop(c, l, Q2_C_BACKING_FILE_MISSING, name_at, "%s%s%s: %s", name,
		     strcmp(name, b->path) ? " as " : "",
		     strcmp(name, b->path) ? b->path : "",
		     code == Q2_C_NOT_A_FILE && !sys_errno
		     ? q2_codes[code].message : strerror(sys_errno));
		free(b->path);
		return false;
	}
	for (size_t k = 0; k + 1 < c->n; k++) {
		if (c->layers[k].opened && c->layers[k].dev == b->dev &&
		    c->layers[k].ino == b->ino) {
			q2_reader_close(&b->reader);
			c->n--;
			stop(c, l, Q2_C_BACKING_CHAIN_LOOP, name_at,
			     "%s is layer %zu, %s", name, k, c->layers[k].path);
			free(b->path);
			return false;
		}
	}
	magic_len = b->reader.size < sizeof magic ? (size_t)b->reader.size : sizeof magic;
	if (!q2_read(&b->reader, 0, magic, magic_len, &code, &sys_errno))
		magic_len = 0;
	probed = q2_probe_format(magic, magic_len);
	if (!strcmp(format, "qcow2") && !(probed && !strcmp(probed, "qcow2"))) {
		q2_reader_close(&b->reader);
		c->n--;
		stop(c, l, Q2_C_BACKING_FORMAT_MISMATCH, fx->offset,
		     "%s is %s", b->path, probed ? probed : "not of a format QEMU probes (raw)");
		free(b->path);
		return false;
	}
	if (!format[0] && probed && strcmp(probed, "qcow2") != 0) {
		q2_reader_close(&b->reader);
		c->n--;
		stop(c, l, Q2_C_BACKING_FORMAT_UNSUPPORTED, name_at,
		     "%s is probed as %s", b->path, probed);
		free(b->path);
		return false;
	}
	b->format = !strcmp(format, "raw") || (!format[0] && !probed)
		    ? Q2_LAYER_RAW : Q2_LAYER_QCOW2;
	if (b->format == Q2_LAYER_RAW && probed && !strcmp(probed, "qcow2"))
		q2_problems_addf(&l->img.problems, Q2_FROM_CHECK,
				 Q2_C_BACKING_FORMAT_RAW_OVER_QCOW2, fx->offset, Q2_NO_INDEX,
				 "%s", b->path);
	decode_layer(b, opts);
	if (layer_size(b, &bsize) && layer_size(l, &size) && bsize > size)
		q2_problems_addf(&l->img.problems, Q2_FROM_CHECK, Q2_C_BACKING_FILE_LARGER,
				 q2_header_at(Q2_HF_SIZE), Q2_NO_INDEX,
				 "%s has %llu bytes, this image %llu", b->path,
				 (unsigned long long)bsize, (unsigned long long)size);
	return true;
}

bool q2_chain_open(struct q2_chain *c, const char *image,
		   const struct q2_decode_opts *opts)
{
	struct q2_layer *top;
	char *path = strdup(image);
	enum q2_code code;
	int sys_errno = 0;
	bool nomem = false;

	memset(c, 0, sizeof *c);
	if (!path || !(top = add_layer(c, path)))
		return false;
	if (!open_layer(top, &code, &sys_errno)) {
		q2_image_unopened(&top->img, code, sys_errno);
		return true;
	}
	decode_layer(top, opts);
	while (follow(c, opts, &nomem))
		;
	return !nomem;
}

void q2_chain_free(struct q2_chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		q2_reader_close(&c->layers[i].reader);
		q2_image_free(&c->layers[i].img);
		free(c->layers[i].path);
	}
	free(c->layers);
	q2_problems_free(&c->problems);
	memset(c, 0, sizeof *c);
}

/* ---- checkpoints ---- */

static const struct q2_bitmap *layer_bitmap(const struct q2_chain *c,
					    size_t layer, uint32_t i)
{
	return q2_image_bitmap(&c->layers[layer].img, i);
}

static int cmp_names(const char *a, size_t na, const char *b, size_t nb)
{
	int d = memcmp(a, b, na < nb ? na : nb);

	return d ? d : (na > nb) - (na < nb);
}

/* by QEMU's name, then by directory order */
static int cmp_index(const void *a, const void *b, void *arg)
{
	const struct q2_bitmap *v = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int d = cmp_names(v[x].name, q2_bitmap_qemu_name_len(&v[x]),
			  v[y].name, q2_bitmap_qemu_name_len(&v[y]));

	return d ? d : (x > y) - (x < y);
}

bool q2_checkpoints_begin(struct q2_checkpoints *it, const struct q2_chain *c)
{
	memset(it, 0, sizeof *it);
	it->chain = c;
	it->sorted = calloc(c->n ? c->n : 1, sizeof *it->sorted);
	it->n_sorted = calloc(c->n ? c->n : 1, sizeof *it->n_sorted);
	it->cp.index = calloc(c->n ? c->n : 1, sizeof *it->cp.index);
	it->cp.depths = calloc(c->n ? c->n : 1, sizeof *it->cp.depths);
	if (!it->sorted || !it->n_sorted || !it->cp.index || !it->cp.depths)
		return false;
	for (size_t l = 0; l < c->n; l++) {
		const struct q2_bitmaps_ext *bx = q2_image_bitmaps(&c->layers[l].img);
		uint32_t n = 0;

		if (!bx || !bx->n_bitmaps)
			continue;
		it->sorted[l] = malloc(bx->n_bitmaps * sizeof **it->sorted);
		if (!it->sorted[l])
			return false;
		/* entries that did not decode have no name */
		for (uint32_t i = 0; i < bx->n_bitmaps; i++)
			if (bx->bitmaps[i].name)
				it->sorted[l][n++] = i;
		q2_sort(it->sorted[l], n, sizeof **it->sorted, cmp_index,
			(void *)bx->bitmaps);
		it->n_sorted[l] = n;
	}
	return true;
}

/* The first directory index of layer l named name, or Q2_NO_INDEX. */
static uint32_t lookup(const struct q2_checkpoints *it, size_t l,
		       const char *name, size_t len)
{
	const struct q2_bitmaps_ext *bx = q2_image_bitmaps(&it->chain->layers[l].img);
	const uint32_t *s = it->sorted[l];
	size_t lo = 0, hi = it->n_sorted[l];

	if (!s)
		return Q2_NO_INDEX;
	/* the leftmost entry not below name */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct q2_bitmap *bm = &bx->bitmaps[s[mid]];

		if (cmp_names(bm->name, q2_bitmap_qemu_name_len(bm), name, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < it->n_sorted[l]) {
		const struct q2_bitmap *bm = &bx->bitmaps[s[lo]];

		if (!cmp_names(bm->name, q2_bitmap_qemu_name_len(bm), name, len))
			return s[lo];
	}
	return Q2_NO_INDEX;
}

static void set_state(struct q2_checkpoint *cp, enum q2_state state,
		      bool has_reason, enum q2_code reason, uint32_t at)
{
	cp->state = state;
	cp->has_reason = has_reason;
	cp->reason = reason;
	cp->at = at;
}

/* An error that makes QEMU refuse the layer, as verdict.c counts them */
static const struct q2_problem *refused(const struct q2_layer *l)
{
	const struct q2_problems *p = &l->img.problems;

	for (size_t k = 0; k < p->n; k++)
		if (q2_problem_severity(&p->v[k]) == Q2_SEV_ERROR &&
		    p->v[k].origin != Q2_FROM_RUN && p->v[k].scope == Q2_SCOPE_OPEN)
			return &p->v[k];
	return NULL;
}

/* libvirt's qemuBlockBitmapChainIsValid, then what else stops a backup */
static void judge(const struct q2_chain *c, struct q2_checkpoint *cp)
{
	uint32_t end = cp->run_first + cp->run_n;

	set_state(cp, Q2_STATE_USABLE, false, Q2_C_CHECKPOINT_GAP, Q2_NO_INDEX);
	/* 1: it exists in the top layer */
	if (cp->run_first != 0) {
		set_state(cp, Q2_STATE_MISSING_IN_TOP, true,
			  Q2_C_CHECKPOINT_MISSING_IN_TOP, cp->run_first);
		return;
	}
	/* 3: each copy is recording, persistent and consistent */
	for (uint32_t l = 0; l < end; l++) {
		const struct q2_bitmap *bm = layer_bitmap(c, l, cp->index[l]);

		if (!q2_state_usable(bm->state)) {
			set_state(cp, bm->state, true, Q2_C_CHECKPOINT_COPY_NOT_USABLE, l);
			return;
		}
	}
	/* 2: no gap below the layers from the top */
	for (uint32_t l = end; l < c->n; l++)
		if (cp->index[l] != Q2_NO_INDEX) {
			set_state(cp, Q2_STATE_GAP, true, Q2_C_CHECKPOINT_GAP, l);
			return;
		}
	/* a layer that could not be read may hold it */
	for (uint32_t l = 0; l < c->n; l++)
		if (!c->layers[l].bitmaps_known) {
			const struct q2_problems *p = &c->layers[l].img.problems;

			set_state(cp, Q2_STATE_INCOMPLETE, p->n > 0,
				  p->n ? p->v[0].code : Q2_C_IO, l);
			return;
		}
	if (c->broken) {
		set_state(cp, Q2_STATE_INCOMPLETE, true, c->broken_code,
			  (uint32_t)c->n - 1);
		return;
	}
	/* QEMU refuses a layer: it opens no image of the chain */
	for (uint32_t l = 0; l < c->n; l++) {
		const struct q2_problem *pb = refused(&c->layers[l]);

		if (pb) {
			set_state(cp, Q2_STATE_INVALID, true, pb->code, l);
			return;
		}
	}
}

static void fill(struct q2_checkpoints *it, const char *name, size_t len)
{
	const struct q2_chain *c = it->chain;
	struct q2_checkpoint *cp = &it->cp;
	bool found = false;

	cp->name = name;
	cp->name_len = len;
	cp->n_depths = 0;
	cp->run_first = cp->run_n = 0;
	cp->granularity = 0;
	for (uint32_t l = 0; l < c->n; l++) {
		cp->index[l] = lookup(it, l, name, len);
		if (cp->index[l] == Q2_NO_INDEX)
			continue;
		cp->depths[cp->n_depths++] = l;
		if (!found) {
			found = true;
			cp->run_first = l;
		}
	}
	while (found && cp->run_first + cp->run_n < c->n &&
	       cp->index[cp->run_first + cp->run_n] != Q2_NO_INDEX) {
		uint32_t l = cp->run_first + cp->run_n++;
		const struct q2_bitmap *bm = layer_bitmap(c, l, cp->index[l]);
		uint64_t g;

		if (q2_bitmap_granularity(bm, &g) && (!cp->granularity || g < cp->granularity))
			cp->granularity = g;
	}
	judge(c, cp);
}

bool q2_checkpoints_next(struct q2_checkpoints *it)
{
	const struct q2_chain *c = it->chain;

	for (; it->layer < c->n; it->layer++, it->next = 0) {
		const struct q2_bitmaps_ext *bx =
			q2_image_bitmaps(&c->layers[it->layer].img);

		while (bx && it->next < bx->n_bitmaps) {
			uint32_t i = it->next++;
			const struct q2_bitmap *bm = &bx->bitmaps[i];
			size_t len = q2_bitmap_qemu_name_len(bm);
			bool seen = false;

			if (!bm->name || lookup(it, it->layer, bm->name, len) != i)
				continue;
			for (uint32_t l = 0; l < it->layer && !seen; l++)
				seen = lookup(it, l, bm->name, len) != Q2_NO_INDEX;
			if (seen)
				continue;
			fill(it, bm->name, len);
			return true;
		}
	}
	return false;
}

bool q2_checkpoints_find(struct q2_checkpoints *it, const char *name, size_t len)
{
	fill(it, name, len);
	return it->cp.n_depths > 0;
}

void q2_checkpoints_end(struct q2_checkpoints *it)
{
	for (size_t l = 0; it->sorted && l < it->chain->n; l++)
		free(it->sorted[l]);
	free(it->sorted);
	free(it->n_sorted);
	free(it->cp.index);
	free(it->cp.depths);
	memset(it, 0, sizeof *it);
}

#define report(c, l, code, bm, ...) \
	q2_problems_addf(&(c)->layers[l].img.problems, Q2_FROM_CHECK, (code), \
			 q2_dir_entry_at((bm), Q2_DF_FLAGS), cp->index[l], __VA_ARGS__)

void q2_checkpoint_report(const struct q2_chain *c,
			  const struct q2_checkpoint *cp)
{
	uint32_t end = cp->run_first + cp->run_n;

	if (!cp->n_depths)
		return;
	if (cp->run_first != 0)
		report(c, cp->run_first, Q2_C_CHECKPOINT_MISSING_IN_TOP,
		       layer_bitmap(c, cp->run_first, cp->index[cp->run_first]),
		       "%s has none", c->layers[0].path);
	for (uint32_t l = cp->run_first; l < end; l++) {
		const struct q2_bitmap *bm = layer_bitmap(c, l, cp->index[l]);

		if (!q2_state_usable(bm->state))
			report(c, l, Q2_C_CHECKPOINT_COPY_NOT_USABLE, bm, "%s: %s",
			       q2_state_name(bm->state), q2_state_meaning(bm->state));
	}
	for (uint32_t l = end; l < c->n; l++)
		if (cp->index[l] != Q2_NO_INDEX) {
			report(c, l, Q2_C_CHECKPOINT_GAP, layer_bitmap(c, l, cp->index[l]),
			       "layer %u, %s, has none", end, c->layers[end].path);
			break;
		}
}
