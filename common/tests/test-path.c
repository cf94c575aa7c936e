// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "strbuf.h"
#include "tap.h"

static char root[64];
static char top[128];	/* root/top: the folder images live in */

static void make_file(const char *rel, const char *text)
{
	struct strbuf p = STRBUF_INIT;
	FILE *f;

	strbuf_addf(&p, "%s/%s", root, rel);
	f = fopen(p.buf, "w");
	fputs(text, f);
	fclose(f);
	strbuf_release(&p);
}

static void make_link(const char *target, const char *rel)
{
	struct strbuf p = STRBUF_INIT;

	strbuf_addf(&p, "%s/%s", root, rel);
	if (symlink(target, p.buf) < 0)
		perror(p.buf);
	strbuf_release(&p);
}

/*
 * root/top/a.vmdk, root/top/sub/b.vmdk, root/secret,
 * links in top: etc -> /etc, up -> ../secret, inner -> sub/b.vmdk,
 * subdir -> sub, abs_inside -> root/top/a.vmdk.
 */
static void setup(void)
{
	struct strbuf p = STRBUF_INIT;

	snprintf(root, sizeof(root), "/tmp/test-path-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(top, sizeof(top), "%s/top", root);
	mkdir(top, 0755);
	strbuf_addf(&p, "%s/sub", top);
	mkdir(p.buf, 0755);
	make_file("top/a.vmdk", "a");
	make_file("top/sub/b.vmdk", "b");
	make_file("top/..c.vmdk", "c");
	make_file("secret", "s");
	make_link("/etc", "top/etc");
	make_link("../secret", "top/up");
	make_link("sub/b.vmdk", "top/inner");
	make_link("sub", "top/subdir");
	make_link("/nonexistent-target", "top/dangling");
	strbuf_release(&p);
}

static void teardown(void)
{
	struct strbuf cmd = STRBUF_INIT;
	const char *argv[] = { "top/etc", "top/up", "top/inner", "top/subdir",
			       "top/dangling", "top/a.vmdk", "top/..c.vmdk", "top/sub/b.vmdk",
			       "secret" };

	for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++) {
		strbuf_reset(&cmd);
		strbuf_addf(&cmd, "%s/%s", root, argv[i]);
		unlink(cmd.buf);
	}
	strbuf_reset(&cmd);
	strbuf_addf(&cmd, "%s/sub", top);
	rmdir(cmd.buf);
	rmdir(top);
	rmdir(root);
	strbuf_release(&cmd);
}

static void test_protocol(void)
{
	CHECK(path_has_protocol("nbd:localhost:10809"));
	CHECK(path_has_protocol("http://example.com/a.vmdk"));
	CHECK(path_has_protocol("json:{\"file\":1}"));
	CHECK(path_has_protocol("gluster+tcp://h/v"));
	CHECK(!path_has_protocol("a.vmdk"));
	CHECK(!path_has_protocol("dir/x:y.vmdk"));
	CHECK(!path_has_protocol("./nbd:x"));
	CHECK(!path_has_protocol("1nbd:x"));
	CHECK(!path_has_protocol(":x"));
	CHECK(!path_has_protocol("a b:c"));
	CHECK(!path_has_protocol(""));
}

/* Resolving NAME fails with CODE and a message that is exactly WANT. */
static void check_refused(const char *name, int code, const char *want)
{
	struct strbuf resolved = STRBUF_INIT;
	struct kvm_error err = { 0 };
	int r;

	r = path_resolve_beneath(top, name, &resolved, &err);
	if (!tap_check(r == code, name, __FILE__, __LINE__))
		printf("#   resolve got %d (%s), want %d\n", r, err.message, code);
	CHECK_INT(resolved.len, 0);
	if (want)
		CHECK_STR(err.message, want);

	kvm_error_clear(&err);
	r = path_open_beneath(top, name, O_RDONLY, &err);
	if (r >= 0)
		close(r);
	if (!tap_check(r == code, name, __FILE__, __LINE__))
		printf("#   open got %d (%s), want %d\n", r, err.message, code);
	if (want)
		CHECK_STR(err.message, want);
	strbuf_release(&resolved);
}

static void check_allowed(const char *name, const char *want_rel, const char *content)
{
	struct strbuf resolved = STRBUF_INIT, want = STRBUF_INIT;
	struct kvm_error err = { 0 };
	char real_top[4096], buf[16] = "";
	int r, fd;

	if (!realpath(top, real_top))
		perror(top);
	strbuf_addf(&want, "%s/%s", real_top, want_rel);
	r = path_resolve_beneath(top, name, &resolved, &err);
	if (!tap_check(r == 0, name, __FILE__, __LINE__))
		printf("#   resolve got %d (%s)\n", r, err.message);
	CHECK_STR(resolved.buf, want.buf);

	fd = path_open_beneath(top, name, O_RDONLY, &err);
	if (!tap_check(fd >= 0, name, __FILE__, __LINE__))
		printf("#   open got %d (%s)\n", fd, err.message);
	if (fd >= 0) {
		CHECK(read(fd, buf, sizeof(buf) - 1) == (ssize_t)strlen(content));
		CHECK_STR(buf, content);
		CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}
	strbuf_release(&resolved);
	strbuf_release(&want);
}

static void test_confinement(void)
{
	struct strbuf want = STRBUF_INIT;

	check_allowed("a.vmdk", "a.vmdk", "a");
	check_allowed("sub/b.vmdk", "sub/b.vmdk", "b");
	check_allowed("./sub//b.vmdk", "sub/b.vmdk", "b");
	check_allowed("inner", "sub/b.vmdk", "b");
	check_allowed("subdir/b.vmdk", "sub/b.vmdk", "b");
	/* Only a whole ".." component leads up. */
	check_allowed("..c.vmdk", "..c.vmdk", "c");

	strbuf_addf(&want, "../secret: '..' leads out of %s", top);
	check_refused("../secret", -EPERM, want.buf);
	strbuf_reset(&want);
	strbuf_addf(&want, "sub/../../secret: '..' leads out of %s", top);
	check_refused("sub/../../secret", -EPERM, want.buf);
	/* Even a ".." that would come back inside is refused. */
	check_refused("sub/../a.vmdk", -EPERM, NULL);
	check_refused("/etc/passwd", -EPERM, "/etc/passwd: absolute path not allowed");
	check_refused("nbd:localhost:10809", -EPERM,
		      "nbd:localhost:10809: protocol prefix not allowed");
	check_refused("http://example.com/a.vmdk", -EPERM,
		      "http://example.com/a.vmdk: protocol prefix not allowed");
	check_refused("json:{\"file.filename\":\"/etc/passwd\"}", -EPERM, NULL);
	check_refused("", -EPERM, NULL);

	strbuf_reset(&want);
	strbuf_addf(&want, "etc/passwd: symlink leads out of %s", top);
	check_refused("etc/passwd", -EPERM, want.buf);
	strbuf_reset(&want);
	strbuf_addf(&want, "up: symlink leads out of %s", top);
	check_refused("up", -EPERM, want.buf);

	check_refused("missing.vmdk", -ENOENT, NULL);
	check_refused("sub/missing.vmdk", -ENOENT, NULL);
	strbuf_release(&want);
}

static void test_messages(void)
{
	struct strbuf resolved = STRBUF_INIT;
	struct kvm_error err = { 0 };

	path_resolve_beneath(top, "missing.vmdk", &resolved, &err);
	CHECK(strstr(err.message, "missing.vmdk") != NULL);
	CHECK(strstr(err.message, "No such file") != NULL);
	printf("# %s\n", err.message);
	/* The kernel refuses an absolute link before knowing it dangles. */
	CHECK_INT(path_open_beneath(top, "dangling", O_RDONLY, &err), -EPERM);
	CHECK_INT(path_resolve_beneath(top, "../x", &resolved, NULL), -EPERM);
	CHECK_INT(path_open_beneath(top, "../x", O_RDONLY, NULL), -EPERM);
	strbuf_release(&resolved);
}

static void test_names(void)
{
	struct strbuf sb = STRBUF_INIT;
	static const char *const cases[][2] = {
		{ "a.vmdk", "." }, { "dir/a.vmdk", "dir" }, { "/a", "/" },
		{ "//a", "/" }, { "/x/y/z", "/x/y" }, { "x//y", "x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strbuf_reset(&sb);
		path_dirname(cases[i][0], &sb);
		CHECK_STR(sb.buf, cases[i][1]);
	}
	CHECK_STR(path_basename("a.vmdk"), "a.vmdk");
	CHECK_STR(path_basename("dir/sub/a.vmdk"), "a.vmdk");
	CHECK_STR(path_basename("/a"), "a");
	strbuf_release(&sb);
}

int main(void)
{
	setup();
	test_protocol();
	test_confinement();
	test_messages();
	test_names();
	teardown();
	return tap_done();
}
