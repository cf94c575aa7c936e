/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The VMDK text descriptor: "key = value" lines, extent lines
 * ("RW 4192256 SPARSE "disk-s001.vmdk"") and the disk database
 * ("ddb.adapterType = "lsilogic"").  Real descriptors come from many
 * tools, so this is liberal in what it reads (any case, CRLF, quoted or
 * bare values, comments, unknown keys) and strict only where a wrong
 * reading would be unsafe: extent lines, numbers and counts.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vmdk.h"
#include "xalloc.h"

struct cursor {
	const char *p;
	const char *end;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void skip_blanks(struct cursor *c)
{
	while (c->p < c->end && is_blank(*c->p))
		c->p++;
}

/* The next blank-separated word, or a "quoted string" without quotes. */
static bool next_token(struct cursor *c, const char **start, size_t *len, bool *quoted)
{
	skip_blanks(c);
	if (c->p == c->end)
		return false;
	*quoted = *c->p == '"';
	if (*quoted) {
		const char *close = memchr(c->p + 1, '"', (size_t)(c->end - c->p - 1));

		if (!close)
			return false;
		*start = c->p + 1;
		*len = (size_t)(close - *start);
		c->p = close + 1;
		return true;
	}
	*start = c->p;
	while (c->p < c->end && !is_blank(*c->p))
		c->p++;
	*len = (size_t)(c->p - *start);
	return true;
}

static bool token_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(tok, word, len) == 0;
}

static bool parse_decimal(const char *tok, size_t len, uint64_t *value)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)tok[i]))
			return false;
		if (v > (UINT64_MAX - (uint64_t)(tok[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(tok[i] - '0');
	}
	*value = v;
	return true;
}

static bool parse_cid(const char *tok, size_t len, uint32_t *cid)
{
	uint32_t v = 0;

	if (len > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) {
		tok += 2;
		len -= 2;
	}
	if (len == 0 || len > 8)
		return false;
	for (size_t i = 0; i < len; i++) {
		int c = tolower((unsigned char)tok[i]);

		if (isdigit(c))
			v = v << 4 | (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint32_t)(c - 'a' + 10);
		else
			return false;
	}
	*cid = v;
	return true;
}

static const struct {
	const char *name;
	enum vmdk_extent_type type;
} extent_types[] = {
	{ "FLAT", VMDK_EXTENT_FLAT },
	{ "SPARSE", VMDK_EXTENT_SPARSE },
	{ "ZERO", VMDK_EXTENT_ZERO },
	{ "VMFS", VMDK_EXTENT_VMFS },
	{ "VMFSSPARSE", VMDK_EXTENT_VMFSSPARSE },
	{ "VMFSRDM", VMDK_EXTENT_VMFSRDM },
	{ "VMFSRAW", VMDK_EXTENT_VMFSRAW },
	{ "SESPARSE", VMDK_EXTENT_SESPARSE },
};

static const char *const access_names[] = {
	[VMDK_ACCESS_RW] = "RW",
	[VMDK_ACCESS_RDONLY] = "RDONLY",
	[VMDK_ACCESS_NOACCESS] = "NOACCESS",
};

const char *vmdk_extent_type_name(enum vmdk_extent_type type)
{
	for (size_t i = 0; i < sizeof(extent_types) / sizeof(extent_types[0]); i++)
		if (extent_types[i].type == type)
			return extent_types[i].name;
	return "?";
}

const char *vmdk_access_name(enum vmdk_access access)
{
	return access_names[access];
}

/* Whether the line starts with an access word, i.e. is an extent line. */
static bool line_access(const char *line, const char *end, enum vmdk_access *access)
{
	struct cursor c = { line, end };
	const char *tok;
	size_t len;
	bool quoted;

	if (!next_token(&c, &tok, &len, &quoted) || quoted)
		return false;
	for (size_t i = 0; i < sizeof(access_names) / sizeof(access_names[0]); i++) {
		if (token_is(tok, len, access_names[i])) {
			*access = (enum vmdk_access)i;
			return true;
		}
	}
	return false;
}

static int parse_extent(const char *line, const char *end, enum vmdk_access access,
			unsigned lineno, const char *name, struct vmdk_desc_extent *ext,
			struct kvm_error *err)
{
	struct cursor c = { line, end };
	const char *tok;
	size_t len;
	bool quoted, known = false;

	memset(ext, 0, sizeof(*ext));
	ext->access = access;
	next_token(&c, &tok, &len, &quoted);
	if (!next_token(&c, &tok, &len, &quoted) || quoted || !parse_decimal(tok, len, &ext->sectors))
		return kvm_error_set(err, -EINVAL, "%s: line %u: extent size is not a number",
				     name, lineno);
	if (ext->sectors == 0)
		return kvm_error_set(err, -EINVAL, "%s: line %u: extent of 0 sectors", name, lineno);
	if (ext->sectors > IMAGE_MAX_VIRTUAL_SIZE / VMDK_SECTOR)
		return kvm_error_set(err, -EFBIG, "%s: line %u: extent of %llu sectors is too large",
				     name, lineno, (unsigned long long)ext->sectors);
	if (!next_token(&c, &tok, &len, &quoted))
		return kvm_error_set(err, -EINVAL, "%s: line %u: extent has no type", name, lineno);
	for (size_t i = 0; i < sizeof(extent_types) / sizeof(extent_types[0]); i++) {
		if (token_is(tok, len, extent_types[i].name)) {
			ext->type = extent_types[i].type;
			known = true;
		}
	}
	if (!known)
		return kvm_error_set(err, -ENOTSUP, "%s: line %u: unknown extent type '%.*s'",
				     name, lineno, (int)(len > 32 ? 32 : len), tok);
	if (ext->type == VMDK_EXTENT_ZERO)
		return 0;
	if (!next_token(&c, &tok, &len, &quoted) || len == 0)
		return kvm_error_set(err, -EINVAL, "%s: line %u: extent names no file", name, lineno);
	if (memchr(tok, '\0', len))
		return kvm_error_set(err, -EINVAL, "%s: line %u: extent file name holds a NUL",
				     name, lineno);
	ext->filename = xstrndup(tok, len);
	if (next_token(&c, &tok, &len, &quoted)) {
		if (quoted || !parse_decimal(tok, len, &ext->offset) ||
		    ext->offset > IMAGE_MAX_VIRTUAL_SIZE / VMDK_SECTOR) {
			free(ext->filename);
			ext->filename = NULL;
			return kvm_error_set(err, -EINVAL, "%s: line %u: extent offset is not a number",
					     name, lineno);
		}
	}
	return 0;
}

static void set_string(char **field, const char *value, size_t len)
{
	free(*field);
	*field = xstrndup(value, len);
}

static int parse_pair(const char *line, const char *end, unsigned lineno, const char *name,
		      struct vmdk_descriptor *desc, struct kvm_error *err)
{
	const char *eq = memchr(line, '=', (size_t)(end - line));
	const char *key_end, *value;
	size_t key_len, value_len;
	struct cursor c;
	bool quoted;

	if (!eq)
		return 0;
	key_end = eq;
	while (key_end > line && is_blank(key_end[-1]))
		key_end--;
	key_len = (size_t)(key_end - line);
	c = (struct cursor){ eq + 1, end };
	skip_blanks(&c);
	if (c.p < c.end && *c.p == '"') {
		if (!next_token(&c, &value, &value_len, &quoted)) {
			/* An unclosed quote: the rest of the line. */
			value = c.p + 1;
			value_len = (size_t)(end - value);
		}
	} else {
		value = c.p;
		value_len = (size_t)(end - value);
	}
	if (memchr(value, '\0', value_len))
		return 0;

	if (token_is(line, key_len, "CID") || token_is(line, key_len, "parentCID")) {
		uint32_t cid;

		if (!parse_cid(value, value_len, &cid))
			return kvm_error_set(err, -EINVAL, "%s: line %u: %.*s is not a hexadecimal number",
					     name, lineno, (int)key_len, line);
		if (key_len == 3) {
			desc->cid = cid;
			desc->has_cid = true;
		} else {
			desc->parent_cid = cid;
		}
	} else if (token_is(line, key_len, "createType")) {
		set_string(&desc->create_type, value, value_len);
	} else if (token_is(line, key_len, "parentFileNameHint")) {
		set_string(&desc->parent_hint, value, value_len);
	} else if (key_len > 4 && strncasecmp(line, "ddb.", 4) == 0 &&
		   !memchr(line, '\0', key_len)) {
		for (size_t i = 0; i < desc->n_ddb; i++) {
			if (token_is(line, key_len, desc->ddb[i].key)) {
				set_string(&desc->ddb[i].value, value, value_len);
				return 0;
			}
		}
		if (desc->n_ddb == VMDK_MAX_DDB_ENTRIES)
			return 0;
		desc->ddb = xrealloc(desc->ddb, (desc->n_ddb + 1) * sizeof(*desc->ddb));
		desc->ddb[desc->n_ddb].key = xstrndup(line, key_len);
		desc->ddb[desc->n_ddb].value = xstrndup(value, value_len);
		desc->n_ddb++;
	}
	return 0;
}

int vmdk_descriptor_parse(const char *text, size_t len, const char *name,
			  struct vmdk_descriptor *desc, struct kvm_error *err)
{
	const char *nul = memchr(text, '\0', len);
	const char *p = text, *end = nul ? nul : text + len;
	size_t extents_alloc = 0;
	unsigned lineno = 0;
	int r = 0;

	memset(desc, 0, sizeof(*desc));
	desc->parent_cid = VMDK_CID_NONE;
	if (len > IMAGE_MAX_DESCRIPTOR_BYTES)
		return kvm_error_set(err, -EFBIG, "%s: descriptor is larger than %u bytes", name,
				     IMAGE_MAX_DESCRIPTOR_BYTES);
	while (p < end && r == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *line_end = nl ? nl : end;
		enum vmdk_access access;

		p = nl ? nl + 1 : end;
		lineno++;
		while (line < line_end && is_blank(*line))
			line++;
		while (line_end > line && is_blank(line_end[-1]))
			line_end--;
		if (line == line_end || *line == '#')
			continue;
		if (line_access(line, line_end, &access)) {
			if (desc->n_extents == VMDK_MAX_EXTENTS) {
				r = kvm_error_set(err, -EFBIG, "%s: more than %d extents", name,
						  VMDK_MAX_EXTENTS);
				break;
			}
			if (desc->n_extents == extents_alloc) {
				extents_alloc = extents_alloc ? extents_alloc * 2 : 8;
				desc->extents = xrealloc(desc->extents,
							 extents_alloc * sizeof(*desc->extents));
			}
			r = parse_extent(line, line_end, access, lineno, name,
					 &desc->extents[desc->n_extents], err);
			if (r == 0)
				desc->n_extents++;
		} else {
			r = parse_pair(line, line_end, lineno, name, desc, err);
		}
	}
	if (r < 0)
		vmdk_descriptor_free(desc);
	return r;
}

void vmdk_descriptor_free(struct vmdk_descriptor *desc)
{
	if (!desc)
		return;
	for (size_t i = 0; i < desc->n_extents; i++)
		free(desc->extents[i].filename);
	for (size_t i = 0; i < desc->n_ddb; i++) {
		free(desc->ddb[i].key);
		free(desc->ddb[i].value);
	}
	free(desc->extents);
	free(desc->ddb);
	free(desc->create_type);
	free(desc->parent_hint);
	memset(desc, 0, sizeof(*desc));
	desc->parent_cid = VMDK_CID_NONE;
}

const char *vmdk_descriptor_ddb(const struct vmdk_descriptor *desc, const char *key)
{
	for (size_t i = 0; i < desc->n_ddb; i++)
		if (strcasecmp(desc->ddb[i].key, key) == 0)
			return desc->ddb[i].value;
	return NULL;
}
