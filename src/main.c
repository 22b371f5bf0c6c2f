/* qcow2dump: show what is inside a qcow2 image, read-only and lock-free.
 * This file alone talks to the user: it parses options, runs the decoder
 * and one emitter per image, reports errors and picks the exit status. */
#include "config.h"

#include <argp.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "emit.h"
#include "judge.h"
#include "out.h"
#include "outfile.h"
#include "problem.h"
#include "qcow2.h"
#include "utf8.h"
#include "util.h"
#include "walk.h"

#define EXIT_OK Q2_EXIT_OK
#define EXIT_UNREADABLE Q2_EXIT_UNREADABLE
#define EXIT_USAGE Q2_EXIT_USAGE

enum { OPT_COMPACT = 0x100, OPT_LIST_CHECKS, OPT_OUTPUT, OPT_USAGE,
       OPT_BACKING_CHAIN, OPT_START_OFFSET, OPT_MAX_LENGTH, OPT_AT, OPT_LAYOUT };

struct cli {
	struct q2_run_opts run;
	bool view_set;
	bool list_checks;
	bool compact_set, table_set;
	bool map, range_set;   /* --map; --start-offset or --max-length */
	const struct q2_format *format;
	const char *format_name;
	const char *output_file;
	char **names;
	uint64_t *at;          /* --at OFFSET..., room for every argument */
	char **images;
	size_t n_images;
	/* --backing-chain: an -O FILE that exists, and whether it turned
	 * out to be a layer of a chain (then it is not replaced) */
	bool output_exists;
	struct stat output_st;
	bool output_is_layer;
};

static const char doc[] =
	"Show the header, header extensions and persistent dirty bitmaps of "
	"QCOW2 images, read-only and without taking the image lock.\n\n"
	"With no option the output is that of QEMU's qcow2.py dump-header."
	"\v"
	"Exit status: 0 every image decoded (with --check: and no error found); "
	"1 --check found an error (a corruption qemu-img check counts among "
	"them), -x showed a bitmap that is not usable, --map read a table "
	"qemu-img check calls corrupt, or --at asked past the end of the file; "
	"2 an image could not be read or decoded, a NAME is missing, a map "
	"could not be made, or the output could not be written (the other "
	"images are still shown); "
	"64 usage error.\n\n"
	"Examples:\n"
	"  qcow2dump disk.qcow2              header and extensions\n"
	"  qcow2dump -e -t disk.qcow2        extensions, bitmaps with their tables\n"
	"  qcow2dump --output=json -b disk.qcow2   the bitmaps as JSON, for jq\n"
	"  qcow2dump -c *.qcow2              problems against the spec and QEMU\n"
	"  qcow2dump -x -n b0 disk.qcow2     the ranges bitmap b0 marks dirty\n"
	"  qcow2dump --map disk.qcow2        where guest data lives, as qemu-img map\n"
	"  qcow2dump -x --map -n b0 disk.qcow2   b0's ranges: what to read, what to zero\n"
	"  qcow2dump -s -f csv disk.qcow2    the internal snapshots, one row each";

static const struct argp_option options[] = {
	{ NULL, 0, NULL, 0, "What to show:", 1 },
	{ "extensions", 'e', NULL, 0,
	  "Only the header extensions (qcow2.py dump-header-exts)", 1 },
	{ "bitmaps", 'b', NULL, 0, "Only the bitmap directory entries", 1 },
	{ "check", 'c', NULL, 0,
	  "Only the problems found against the spec and QEMU's limits", 1 },
	{ "extents", 'x', NULL, 0,
	  "The dirty ranges of each bitmap, read from its data clusters", 1 },
	{ "snapshots", 's', NULL, 0,
	  "The internal snapshot table, every field of every entry", 1 },
	{ "map", 'm', NULL, 0,
	  "The allocation map over the backing chain, as qemu-img map; with -x, "
	  "each dirty range split by it into data to read and zeroes", 1 },
	{ "start-offset", OPT_START_OFFSET, "OFFSET", 0,
	  "--map: begin at guest offset OFFSET (suffixes k, M, G, T, P, E)", 1 },
	{ "max-length", OPT_MAX_LENGTH, "LENGTH", 0,
	  "--map: map at most LENGTH bytes", 1 },
	{ "at", OPT_AT, "OFFSET", 0,
	  "What owns byte OFFSET of the file (repeatable; hex with 0x, or a "
	  "size as --start-offset's)", 1 },
	{ "layout", OPT_LAYOUT, NULL, 0,
	  "Every structure of the file in file order, and the leaked and free "
	  "clusters between them", 1 },
	{ "bitmap-table", 't', NULL, 0,
	  "Also each bitmap's table entries", 1 },
	{ "name", 'n', "NAME", 0,
	  "Only the bitmap NAME (repeatable); a missing NAME is an error", 1 },
	{ "backing-chain", OPT_BACKING_CHAIN, NULL, 0,
	  "Every layer of each IMAGE's backing chain; with -x, each bitmap "
	  "merged over the chain as libvirt backs up a checkpoint", 1 },
	{ NULL, 0, NULL, 0, "How to show it:", 2 },
	{ "format", 'f', "FMT", 0, "text (default; also human), json or csv", 2 },
	{ "output", OPT_OUTPUT, "FMT", 0, "The same as --format (qemu-img's spelling)", 2 },
	{ "compact", OPT_COMPACT, NULL, 0,
	  "JSON: each document on one line (JSON Lines)", 2 },
	{ "output-file", 'O', "FILE", 0,
	  "Write to FILE (a regular file or a new path; - is standard output), "
	  "replaced only once the output is complete", 2 },
	{ NULL, 0, NULL, 0, "Other:", -1 },
	{ "force-share", 'U', NULL, 0,
	  "Accepted for qemu-img's users: qcow2dump never takes the image lock", -1 },
	{ "list-checks", OPT_LIST_CHECKS, NULL, 0,
	  "List every problem code --check can report (in the format of -f), "
	  "and exit", -1 },
	{ "help", 'h', NULL, 0, "Give this help list", -1 },
	{ NULL, '?', NULL, OPTION_ALIAS, NULL, -1 },
	{ "usage", OPT_USAGE, NULL, 0, "Give a short usage message", -1 },
	{ "version", 'V', NULL, 0, "Print the program version", -1 },
	{ 0 }
};

static void set_view(struct argp_state *state, enum q2_view_id view)
{
	struct cli *cli = state->input;

	if (cli->view_set && cli->run.view != view)
		argp_error(state, "-e, -b, -c, -x, -s, --at and --layout exclude each other");
	cli->run.view = view;
	cli->view_set = true;
}

/* Image formats a qemu-img user may give to -f by habit. */
static bool image_format_name(const char *s)
{
	static const char *const names[] = {
		"qcow2", "qcow", "raw", "vmdk", "vdi", "vhdx", "vpc", "qed",
		"luks", "parallels", "dmg", "cloop", "bochs",
	};

	for (size_t i = 0; i < Q2_ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return true;
	return false;
}

static void set_format(struct argp_state *state, const char *arg)
{
	struct cli *cli = state->input;
	char names[64];

	cli->format = q2_format_find(strcmp(arg, "human") == 0 ? "text" : arg);
	cli->format_name = arg;
	if (cli->format)
		return;
	q2_format_names(names, sizeof names);
	if (image_format_name(arg))
		argp_error(state, "unknown output format '%s': -f and --output name "
			   "the output format here (%s, or human), the image format "
			   "is always qcow2", arg, names);
	argp_error(state, "unknown format '%s' (formats: %s)", arg, names);
}

/* --help, --usage, --version write to stdout, and say when they could
 * not. */
static void help_and_exit(struct argp_state *state, unsigned flags)
{
	argp_state_help(state, stdout, flags);
	exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_UNREADABLE);
}

/* A size as qemu-img's cvtnum reads one: digits, then maybe one of
 * b, k, M, G, T, P, E (any case; powers of 1024). */
static uint64_t parse_size(struct argp_state *state, const char *opt,
			   const char *arg)
{
	static const char units[] = "bkmgtpe";
	unsigned long long v;
	const char *u;
	char *end;

	errno = 0;
	if (!isdigit((unsigned char)arg[0]))
		argp_error(state, "%s: '%s' is not a size", opt, arg);
	v = strtoull(arg, &end, 10);
	if (errno == ERANGE)
		argp_error(state, "%s: '%s' is too large", opt, arg);
	if (*end) {
		u = strchr(units, tolower((unsigned char)*end));
		if (!u || end[1])
			argp_error(state, "%s: '%s' is not a size", opt, arg);
		for (ptrdiff_t i = 0; i < u - units; i++) {
			if (v > (unsigned long long)INT64_MAX / 1024)
				argp_error(state, "%s: '%s' is too large", opt, arg);
			v *= 1024;
		}
	}
	if (v > (unsigned long long)INT64_MAX)
		argp_error(state, "%s: '%s' is too large", opt, arg);
	return v;
}

/* A file offset: 0x and hex digits (as qemu-img check's messages and
 * qcow2dump's own show offsets), or a size as parse_size reads one. */
static uint64_t parse_offset(struct argp_state *state, const char *opt,
			     const char *arg)
{
	unsigned long long v;
	char *end;

	if (arg[0] != '0' || (arg[1] != 'x' && arg[1] != 'X'))
		return parse_size(state, opt, arg);
	errno = 0;
	if (!isxdigit((unsigned char)arg[2]))
		argp_error(state, "%s: '%s' is not an offset", opt, arg);
	v = strtoull(arg + 2, &end, 16);
	if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
		argp_error(state, "%s: '%s' is too large", opt, arg);
	if (*end)
		argp_error(state, "%s: '%s' is not an offset", opt, arg);
	return v;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct cli *cli = state->input;

	switch (key) {
	case 'e':
		set_view(state, Q2_VIEW_EXTENSIONS);
		break;
	case 'b':
		set_view(state, Q2_VIEW_BITMAPS);
		break;
	case 'c':
		set_view(state, Q2_VIEW_CHECK);
		break;
	case 'x':
		set_view(state, Q2_VIEW_EXTENTS);
		break;
	case 's':
		set_view(state, Q2_VIEW_SNAPSHOTS);
		break;
	case 'm':
		cli->map = true;
		break;
	case OPT_START_OFFSET:
		cli->run.start_offset = parse_size(state, "--start-offset", arg);
		cli->range_set = true;
		break;
	case OPT_MAX_LENGTH:
		cli->run.max_length = parse_size(state, "--max-length", arg);
		cli->run.has_max_length = true;
		cli->range_set = true;
		break;
	case OPT_AT:
		set_view(state, Q2_VIEW_AT);
		cli->at[cli->run.n_at++] = parse_offset(state, "--at", arg);
		break;
	case OPT_LAYOUT:
		set_view(state, Q2_VIEW_LAYOUT);
		break;
	case OPT_LIST_CHECKS:
		cli->list_checks = true;
		break;
	case OPT_BACKING_CHAIN:
		cli->run.backing_chain = true;
		break;
	case 't':
		cli->run.bitmap_table = true;
		break;
	case 'n':
		/* argv outlives the parse; the array has room for every
		 * argument */
		cli->names[cli->run.n_names++] = arg;
		break;
	case 'f':
	case OPT_OUTPUT:
		set_format(state, arg);
		break;
	case OPT_COMPACT:
		cli->run.compact = true;
		break;
	case 'O':
		cli->output_file = arg;
		break;
	case 'U':
		break;
	case 'h':
		help_and_exit(state, ARGP_HELP_STD_HELP & ~ARGP_HELP_EXIT_OK);
		break;
	case OPT_USAGE:
		help_and_exit(state, ARGP_HELP_USAGE);
		break;
	case 'V':
		printf("%s\n", PACKAGE_STRING);
		exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_OK : EXIT_UNREADABLE);
		break;
	case ARGP_KEY_ARG:
		cli->images = &state->argv[state->next - 1];
		cli->n_images = (size_t)(state->argc - state->next + 1);
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		/* what would be silently ignored is a usage error instead */
		if (cli->list_checks && (cli->n_images || cli->view_set ||
					 cli->run.n_names || cli->run.bitmap_table ||
					 cli->run.backing_chain))
			argp_error(state, "--list-checks takes no IMAGE and no -e, -b, "
				   "-c, -x, -t, -n or --backing-chain");
		if (!cli->list_checks && !cli->n_images)
			argp_error(state, "no IMAGE given");
		if (cli->run.compact && cli->format != &q2_format_json)
			argp_error(state, "--compact needs -f json (--output=json)");
		/* --map is a view, or with -x a way to split -x's ranges */
		if (cli->map && cli->view_set && cli->run.view != Q2_VIEW_EXTENTS)
			argp_error(state, "--map goes alone or with -x, not with "
				   "-e, -b, -c, -s, --at or --layout");
		if ((cli->run.view == Q2_VIEW_AT || cli->run.view == Q2_VIEW_LAYOUT) &&
		    (cli->run.n_names || cli->run.bitmap_table || cli->run.backing_chain))
			argp_error(state, "--at and --layout take no -n, -t or "
				   "--backing-chain: they are about one file");
		if (cli->map && cli->run.bitmap_table)
			argp_error(state, "-t (--bitmap-table) shows nothing with --map");
		if (cli->range_set && (!cli->map || cli->view_set))
			argp_error(state, "--start-offset and --max-length need "
				   "--map (without -x)");
		if (cli->map && cli->list_checks)
			argp_error(state, "--list-checks takes no --map");
		if (cli->map && !cli->view_set && cli->run.n_names)
			argp_error(state, "-n (--name) needs -x with --map: the map "
				   "alone shows no bitmap");
		if (cli->run.bitmap_table && (cli->run.view == Q2_VIEW_CHECK ||
					      cli->run.view == Q2_VIEW_EXTENTS))
			argp_error(state, "-t (--bitmap-table) shows nothing with %s",
				   cli->run.view == Q2_VIEW_CHECK ? "-c" : "-x");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = { options, parse_opt, "IMAGE...", doc,
				  NULL, NULL, NULL };

static int max_status(int a, int b)
{
	return a > b ? a : b;
}

/* One problem for stderr, unless it is what --check found (its output
 * in -c, and not asked for otherwise). */
static void report_problem(const struct cli *cli, const char *path,
			   const struct q2_image *img, const struct q2_problem *pb)
{
	bool checking = cli->run.view == Q2_VIEW_CHECK;
	const struct q2_bitmap *bm = q2_image_bitmap(img, pb->bitmap);
	const char *msg = q2_problem_message(pb);
	bool error = q2_problem_severity(pb) == Q2_SEV_ERROR;

	if (pb->origin == Q2_FROM_CHECK || (pb->origin == Q2_FROM_RUN && checking))
		return;
	fprintf(stderr, "%s: ", program_invocation_short_name);
	fput_terminal_safe(stderr, (const uint8_t *)path, strlen(path));
	fputs(": ", stderr);
	if (bm && (!error || pb->origin == Q2_FROM_RUN)) {
		fputs(error ? "bitmap '" : "warning: bitmap '", stderr);
		fput_terminal_safe(stderr, (const uint8_t *)bm->name, bm->name_size);
		fputs("': ", stderr);
	}
	fput_terminal_safe(stderr, (const uint8_t *)msg, strlen(msg));
	fputc('\n', stderr);
}

/* Problems for stderr, the list's own and (lost) those it could not
 * hold, warnings with their bitmap. */
static void report_list(const struct cli *cli, const char *path,
			const struct q2_image *img, const struct q2_problems *p)
{
	for (size_t i = 0; i < p->n; i++)
		report_problem(cli, path, img, &p->v[i]);
	if (p->lost)
		fprintf(stderr, "%s: %s: out of memory: problems were lost\n",
			program_invocation_short_name, path);
}

/* Every problem of one layer: the decoder's, the judge's, the walk's. */
static void report_image(const struct cli *cli, const char *path,
			 const struct q2_image *img, const struct q2_findings *f)
{
	const struct q2_problems *lists[] = { &img->problems, &f->problems, &f->faults };

	for (size_t i = 0; i < Q2_ARRAY_SIZE(lists); i++)
		report_list(cli, path, img, lists[i]);
}

/* -O refuses an IMAGE; a backing file of a chain is refused once known */
static void refuse_layer_output(struct cli *cli, const struct q2_chain *c,
				const char *path)
{
	for (size_t l = 0; cli->output_exists && l < c->n; l++)
		if (c->layers[l].opened &&
		    c->layers[l].dev == cli->output_st.st_dev &&
		    c->layers[l].ino == cli->output_st.st_ino &&
		    !cli->output_is_layer) {
			cli->output_is_layer = true;
			fprintf(stderr, "%s: ", program_invocation_short_name);
			fput_terminal_safe(stderr, (const uint8_t *)cli->output_file,
					   strlen(cli->output_file));
			fputs(": is a layer of the backing chain of ", stderr);
			fput_terminal_safe(stderr, (const uint8_t *)path, strlen(path));
			fputs(": not written\n", stderr);
		}
}

/* IMAGE, and with --backing-chain its backing files: decoded, judged,
 * shown, then what went wrong on stderr; returns the exit status. */
static int dump(struct cli *cli, struct q2_run *run, struct q2_out *out,
		size_t index)
{
	const char *path = cli->images[index];
	struct q2_decode_opts dopts = q2_run_decode_opts(run);
	struct q2_judgement j;
	struct q2_chain chain;
	int status;

	/* the map reads every layer, as qemu-img map does */
	if (!q2_chain_open(&chain, path, &dopts,
			   cli->run.backing_chain || q2_views[cli->run.view].map)) {
		fprintf(stderr, "%s: %s: out of memory\n",
			program_invocation_short_name, path);
		q2_chain_free(&chain);
		return EXIT_UNREADABLE;
	}
	refuse_layer_output(cli, &chain, path);
	status = q2_run_chain(run, &chain, &j);
	/* What decoded is out before the errors about the rest. */
	q2_out_flush(out);
	if (!j.n)
		fprintf(stderr, "%s: %s: out of memory\n",
			program_invocation_short_name, path);
	for (size_t l = 0; l < j.n; l++)
		report_image(cli, chain.layers[l].path, &chain.layers[l].img,
			     &j.layers[l]);
	report_list(cli, path, &chain.layers[0].img, &j.chain);
	report_list(cli, path, &chain.layers[0].img, &j.chain_faults);
	q2_judgement_free(&j);
	q2_chain_free(&chain);
	return status;
}

int main(int argc, char **argv)
{
	static struct q2_out out;
	struct cli cli = { .format = &q2_format_text };
	struct q2_outfile file;
	struct q2_run run;
	const char *why;
	int status = EXIT_OK;

	/* one program name in every message, argp's included */
	program_invocation_name = program_invocation_short_name;
	/* messages go out a line at a time, not a word at a time: an image
	 * may have 65535 of them */
	setvbuf(stderr, NULL, _IOLBF, 0);
	cli.names = calloc((size_t)argc + 1, sizeof *cli.names);
	cli.at = calloc((size_t)argc + 1, sizeof *cli.at);
	if (!cli.names || !cli.at) {
		free(cli.names);
		free(cli.at);
		return EXIT_UNREADABLE;
	}
	argp_err_exit_status = EXIT_USAGE;
	argp_parse(&argp, argc, argv, ARGP_NO_HELP, NULL, &cli);
	cli.run.n_images = cli.n_images;
	cli.run.names = cli.names;
	cli.run.at = cli.at;
	if (cli.list_checks)
		cli.run.view = Q2_VIEW_CODES;
	/* -x over a chain merges each bitmap over its layers */
	if (cli.run.backing_chain && cli.run.view == Q2_VIEW_EXTENTS)
		cli.run.view = cli.map ? Q2_VIEW_CHAIN_EXTENTS_MAP
				       : Q2_VIEW_CHAIN_EXTENTS;
	else if (cli.map)
		cli.run.view = cli.view_set ? Q2_VIEW_EXTENTS_MAP : Q2_VIEW_MAP;

	if (!q2_outfile_open(&file, cli.output_file ? cli.output_file : "-",
			     cli.images, cli.n_images, &why)) {
		fprintf(stderr, "%s: ", program_invocation_short_name);
		fput_terminal_safe(stderr, (const uint8_t *)cli.output_file,
				   strlen(cli.output_file));
		fprintf(stderr, ": %s%s%s\n", why, errno ? ": " : "",
			errno ? strerror(errno) : "");
		free(cli.names);
		free(cli.at);
		return EXIT_UNREADABLE;
	}
	q2_out_init_fd(&out, file.fd);
	cli.output_exists = (cli.run.backing_chain || cli.map) && cli.output_file &&
			    strcmp(cli.output_file, "-") != 0 &&
			    stat(cli.output_file, &cli.output_st) == 0;
	if (!q2_run_begin(&run, cli.format, &cli.run, &out)) {
		fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
		q2_outfile_close(&file, false);
		free(cli.names);
		free(cli.at);
		return EXIT_UNREADABLE;
	}
	if (cli.list_checks)
		q2_run_codes(&run);
	for (size_t i = 0; i < cli.n_images; i++)
		status = max_status(status, dump(&cli, &run, &out, i));
	q2_run_end(&run);
	if (cli.output_is_layer) {
		q2_out_flush(&out);
		q2_outfile_close(&file, false);
		status = EXIT_UNREADABLE;
	} else if (!q2_out_flush(&out)) {
		errno = out.err;
		q2_outfile_close(&file, false);
		fprintf(stderr, "%s: write error: %s\n",
			program_invocation_short_name, strerror(out.err));
		status = EXIT_UNREADABLE;
	} else if (!q2_outfile_close(&file, true)) {
		fprintf(stderr, "%s: ", program_invocation_short_name);
		fput_terminal_safe(stderr, (const uint8_t *)cli.output_file,
				   strlen(cli.output_file));
		fprintf(stderr, ": cannot write: %s\n", strerror(errno));
		status = EXIT_UNREADABLE;
	}
	free(cli.names);
	free(cli.at);
	return status;
}
