/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The templates are a small subset of Mustache, enough for answer files:
 *   {{name}}            a value, escaped for the file's format
 *   {{#name}}...{{/name}}  a list: once per item, {{.}} the item and {{,}}
 *                       a comma except after the last; a value: when set
 *   {{^name}}...{{/name}}  when the list or value is empty
 *   {{sh:name}}, {{sh:.}}  the same as one single-quoted shell word
 *   {{@index}}          in a list: the item's number, from 1
 *   {{! comment }}
 * A line holding only a section tag or a comment leaves no trace, so the
 * templates can be laid out readably.  No value may contain a line break
 * (vars_assign refuses them), so no value can add a directive to a
 * line-oriented format; XML and JSON values are escaped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm-install.h"
#include "xalloc.h"

enum token_kind { T_TEXT, T_VALUE, T_SECTION, T_INVERTED, T_CLOSE, T_ITEM, T_COMMA, T_INDEX };

struct token {
	enum token_kind kind;
	const char *text;	/* T_TEXT: the text; else the name */
	size_t len;
	bool shell;		/* {{sh:...}} */
	unsigned line;
};

struct tokens {
	struct token *v;
	size_t count, alloc;
};

static void push(struct tokens *t, enum token_kind kind, const char *text, size_t len, unsigned line)
{
	if (t->count == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 64;
		t->v = xrealloc(t->v, t->alloc * sizeof(*t->v));
	}
	bool shell = kind != T_TEXT && len > 3 && memcmp(text, "sh:", 3) == 0;

	if (shell) {
		text += 3;
		len -= 3;
		if (kind == T_VALUE && len == 1 && *text == '.')
			kind = T_ITEM;
	}
	t->v[t->count++] = (struct token){ kind, text, len, shell, line };
}

static unsigned line_of(const char *start, const char *p)
{
	unsigned line = 1;

	for (; start < p; start++)
		line += *start == '\n';
	return line;
}

/* Whether the tag at [open, close) stands alone on its line; if so, sets
 * the start and end of that line (the end past its newline). */
static bool standalone(const char *text, const char *open, const char *close,
		       const char **line_start, const char **line_end)
{
	const char *s = open, *e = close;

	while (s > text && (s[-1] == ' ' || s[-1] == '\t'))
		s--;
	if (s > text && s[-1] != '\n')
		return false;
	while (*e == ' ' || *e == '\t')
		e++;
	if (*e == '\n')
		e++;
	else if (*e)
		return false;
	*line_start = s;
	*line_end = e;
	return true;
}

static int tokenize(const char *text, const char *name, struct tokens *t, struct kvm_error *err)
{
	const char *p = text;

	while (*p) {
		const char *open = strstr(p, "{{"), *close, *inner, *ls, *le;
		size_t inner_len;
		char sigil;

		if (!open) {
			push(t, T_TEXT, p, strlen(p), 0);
			break;
		}
		close = strstr(open + 2, "}}");
		if (!close)
			return kvm_error_set(err, -EINVAL, "%s:%u: {{ without }}", name, line_of(text, open));
		close += 2;
		inner = open + 2;
		inner_len = (size_t)(close - 2 - inner);
		sigil = *inner;
		if ((sigil == '#' || sigil == '^' || sigil == '/' || sigil == '!') &&
		    standalone(text, open, close, &ls, &le)) {
			if (ls > p)
				push(t, T_TEXT, p, (size_t)(ls - p), 0);
			p = le;
		} else {
			if (open > p)
				push(t, T_TEXT, p, (size_t)(open - p), 0);
			p = close;
		}
		switch (sigil) {
		case '!':
			break;
		case '#':
			push(t, T_SECTION, inner + 1, inner_len - 1, line_of(text, open));
			break;
		case '^':
			push(t, T_INVERTED, inner + 1, inner_len - 1, line_of(text, open));
			break;
		case '/':
			push(t, T_CLOSE, inner + 1, inner_len - 1, line_of(text, open));
			break;
		case '.':
			push(t, T_ITEM, inner, inner_len, line_of(text, open));
			break;
		case ',':
			push(t, T_COMMA, inner, inner_len, line_of(text, open));
			break;
		case '@':
			if (inner_len != 6 || memcmp(inner, "@index", 6) != 0)
				return kvm_error_set(err, -EINVAL, "%s:%u: {{%.*s}} is not {{@index}}",
						     name, line_of(text, open), (int)inner_len, inner);
			push(t, T_INDEX, inner, inner_len, line_of(text, open));
			break;
		default:
			push(t, T_VALUE, inner, inner_len, line_of(text, open));
		}
	}
	return 0;
}

static void escape(struct strbuf *out, const char *value, enum answer_format format);

/* One shell word, 'single-quoted', then escaped for the file. */
static void escape_value(struct strbuf *out, const char *value, enum answer_format format,
			 bool shell)
{
	struct strbuf word = STRBUF_INIT;

	if (!shell) {
		escape(out, value, format);
		return;
	}
	strbuf_addch(&word, '\'');
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			strbuf_addstr(&word, "'\\''");
		else
			strbuf_addch(&word, *p);
	}
	strbuf_addch(&word, '\'');
	escape(out, word.buf, format);
	strbuf_release(&word);
}

static void escape(struct strbuf *out, const char *value, enum answer_format format)
{
	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;

		switch (format) {
		case FORMAT_AUTOYAST:
		case FORMAT_AUTOUNATTEND:
			if (c == '&')
				strbuf_addstr(out, "&amp;");
			else if (c == '<')
				strbuf_addstr(out, "&lt;");
			else if (c == '>')
				strbuf_addstr(out, "&gt;");
			else if (c == '"')
				strbuf_addstr(out, "&quot;");
			else if (c == '\'')
				strbuf_addstr(out, "&apos;");
			else
				strbuf_addch(out, (char)c);
			break;
		case FORMAT_AGAMA:
		case FORMAT_AUTOINSTALL:
			/* A JSON string body, which is a YAML double-quoted one too. */
			if (c == '"' || c == '\\')
				strbuf_addf(out, "\\%c", c);
			else if (c < 0x20)
				strbuf_addf(out, "\\u%04x", c);
			else
				strbuf_addch(out, (char)c);
			break;
		default:
			strbuf_addch(out, (char)c);
		}
	}
}

struct render {
	const struct tokens *t;
	const struct vars *vars;
	enum answer_format format;
	const char *name;
	struct strbuf *out;
	struct kvm_error *err;
};

static const struct var *lookup(const struct render *r, const struct token *tok)
{
	struct strbuf name = STRBUF_INIT;
	const struct var *var;

	strbuf_add(&name, tok->text, tok->len);
	var = vars_get(r->vars, name.buf);
	strbuf_release(&name);
	return var;
}

/* The index of the T_CLOSE that ends the section opened at i. */
static int find_close(const struct render *r, size_t i, size_t end, size_t *close)
{
	unsigned depth = 0;

	for (size_t j = i + 1; j < end; j++) {
		const struct token *tok = &r->t->v[j];

		if (tok->kind == T_SECTION || tok->kind == T_INVERTED) {
			depth++;
		} else if (tok->kind == T_CLOSE) {
			if (depth) {
				depth--;
				continue;
			}
			if (tok->len != r->t->v[i].len || memcmp(tok->text, r->t->v[i].text, tok->len))
				return kvm_error_set(r->err, -EINVAL, "%s:%u: {{/%.*s}} closes {{#%.*s}}",
						     r->name, tok->line, (int)tok->len, tok->text,
						     (int)r->t->v[i].len, r->t->v[i].text);
			*close = j;
			return 0;
		}
	}
	return kvm_error_set(r->err, -EINVAL, "%s:%u: {{#%.*s}} is never closed", r->name,
			     r->t->v[i].line, (int)r->t->v[i].len, r->t->v[i].text);
}

static int render_range(const struct render *r, size_t begin, size_t end, const char *item,
			size_t index, bool last)
{
	for (size_t i = begin; i < end; i++) {
		const struct token *tok = &r->t->v[i];
		const struct var *var;
		size_t close = 0;
		int ret;

		switch (tok->kind) {
		case T_TEXT:
			strbuf_add(r->out, tok->text, tok->len);
			continue;
		case T_ITEM:
		case T_COMMA:
		case T_INDEX:
			if (!item)
				return kvm_error_set(r->err, -EINVAL, "%s:%u: {{%.*s}} outside a list",
						     r->name, tok->line, (int)tok->len, tok->text);
			if (tok->kind == T_ITEM)
				escape_value(r->out, item, r->format, tok->shell);
			else if (tok->kind == T_INDEX)
				strbuf_addf(r->out, "%zu", index);
			else if (!last)
				strbuf_addch(r->out, ',');
			continue;
		case T_CLOSE:
			return kvm_error_set(r->err, -EINVAL, "%s:%u: {{/%.*s}} closes nothing",
					     r->name, tok->line, (int)tok->len, tok->text);
		default:
			break;
		}
		var = lookup(r, tok);
		if (!var)
			return kvm_error_set(r->err, -EINVAL, "%s:%u: '%.*s' is not a variable",
					     r->name, tok->line, (int)tok->len, tok->text);
		if (tok->kind == T_VALUE) {
			if (var->list)
				return kvm_error_set(r->err, -EINVAL, "%s:%u: %s is a list: use {{#%s}}",
						     r->name, tok->line, var->name, var->name);
			escape_value(r->out, var->count ? var->values[0] : "", r->format, tok->shell);
			continue;
		}
		ret = find_close(r, i, end, &close);
		if (ret < 0)
			return ret;
		bool empty = !var->count || (!var->list && !*var->values[0]);

		if (tok->kind == T_INVERTED) {
			ret = empty ? render_range(r, i + 1, close, item, index, last) : 0;
		} else if (var->list) {
			ret = 0;
			for (size_t k = 0; k < var->count && !ret; k++)
				ret = render_range(r, i + 1, close, var->values[k], k + 1,
						   k + 1 == var->count);
		} else {
			ret = empty ? 0 : render_range(r, i + 1, close, item, index, last);
		}
		if (ret < 0)
			return ret;
		i = close;
	}
	return 0;
}

int template_render(const char *text, const char *name, const struct vars *vars,
		    enum answer_format format, struct strbuf *out, struct kvm_error *err)
{
	struct tokens t = { 0 };
	struct render r = { &t, vars, format, name, out, err };
	int ret;

	ret = tokenize(text, name, &t, err);
	if (ret == 0)
		ret = render_range(&r, 0, t.count, NULL, 0, true);
	free(t.v);
	return ret;
}

int render_answer(const struct profile *profile, const struct vars *vars,
		  struct strbuf *out, struct kvm_error *err)
{
	struct strbuf path = STRBUF_INIT, text = STRBUF_INIT;
	char chunk[8192];
	size_t n;
	FILE *f;
	int ret;

	templates_dir(&path);
	strbuf_addf(&path, "/%s", profile->template_name);
	f = fopen(path.buf, "r");
	if (!f) {
		ret = kvm_error_errno(err, -errno, "%s", path.buf);
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_add(&text, chunk, n);
	if (ferror(f)) {
		ret = kvm_error_errno(err, -EIO, "%s", path.buf);
		fclose(f);
		goto out;
	}
	fclose(f);
	ret = template_render(text.buf, path.buf, vars, profile->format, out, err);
out:
	strbuf_release(&text);
	strbuf_release(&path);
	return ret;
}
