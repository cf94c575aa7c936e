/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * kvm-install --netboot: the installer boots the way a PXE client does,
 * through QEMU's built-in DHCP and TFTP, from a kvm-netboot tree made for
 * this one install.  kvm-netboot itself makes the tree (its profile and
 * host entry are what a lab's server would hold), so this file only runs
 * it.  Its HTTP part is kvm-install's answer-file server: the guest's
 * kernel and initrd come over TFTP, and only the answer file over HTTP.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netinstall.h"
#include "path.h"
#include "run.h"

/* kvm-netboot beside this program (installed, or in the build tree's
 * netboot/ folder), else from PATH. */
static void find_kvm_netboot(struct strbuf *out)
{
	static const char *const beside[] = { "kvm-netboot", "../netboot/kvm-netboot" };
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct strbuf dir = STRBUF_INIT;

	if (len > 0) {
		self[len] = '\0';
		path_dirname(self, &dir);
		for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
			strbuf_reset(out);
			strbuf_addf(out, "%s/%s", dir.buf, beside[i]);
			if (access(out->buf, X_OK) == 0)
				goto out;
		}
	}
	strbuf_reset(out);
	strbuf_addstr(out, "kvm-netboot");
out:
	strbuf_release(&dir);
}

static int run_kvm_netboot(const char *const *argv, struct kvm_error *err)
{
	struct run_cmd cmd;
	int ret;

	run_cmd_init(&cmd, argv);
	cmd.capture_stdout = true;
	cmd.capture_stderr = true;
	ret = run_command_ok(&cmd, err);
	run_cmd_release(&cmd);
	return ret;
}

/* PATH: a symbolic link to FILE, by its absolute name. */
static int link_file(const char *file, const char *path, struct kvm_error *err)
{
	char *target = realpath(file, NULL);
	int ret = 0;

	if (!target)
		return kvm_error_errno(err, -errno, "%s", file);
	if (symlink(target, path) < 0)
		ret = kvm_error_errno(err, -errno, "%s", path);
	free(target);
	return ret;
}

int netinstall_prepare(struct netinstall *n, struct kvm_error *err)
{
	struct strbuf program = STRBUF_INIT, tree = STRBUF_INIT, files = STRBUF_INIT;
	struct strbuf path = STRBUF_INIT, port = STRBUF_INIT;
	int ret;

	find_kvm_netboot(&program);
	if (!run_program_exists(program.buf)) {
		ret = kvm_error_set(err, -ENOENT, "kvm-netboot is not installed: --netboot boots the installer from its tree");
		goto out;
	}
	strbuf_addf(&tree, "%s/netboot", n->workdir);
	strbuf_addf(&files, "%s/netboot-files", n->workdir);
	strbuf_addf(&port, "%u", n->http_port);
	/* The profile's folder holds the two files under the names kvm-netboot's
	 * linux profile takes; it copies them into the tree. */
	if (mkdir(files.buf, 0700) < 0) {
		ret = kvm_error_errno(err, -errno, "%s", files.buf);
		goto out;
	}
	strbuf_addf(&path, "%s/vmlinuz", files.buf);
	ret = link_file(n->kernel, path.buf, err);
	if (ret < 0)
		goto out;
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/initrd", files.buf);
	ret = link_file(n->initrd, path.buf, err);
	if (ret < 0)
		goto out;
	{
		/* QEMU's user network shows the host's 127.0.0.1 as 10.0.2.2. */
		const char *init[] = { program.buf, "init", tree.buf, "--server", "10.0.2.2",
				       "--http-port", port.buf, "--timeout", "1", "--quiet", NULL };
		const char *add[] = { program.buf, "add", "linux", "--tree", tree.buf, "--from",
				      files.buf, "--name", n->profile, "--append", n->cmdline,
				      "--no-progress", "--quiet", NULL };
		const char *host[] = { program.buf, "host", "add", NETINSTALL_MAC, "--tree", tree.buf,
				       "--profile", n->profile, "--answers", n->answer, "--quiet", NULL };

		ret = run_kvm_netboot(init, err);
		if (ret == 0)
			ret = run_kvm_netboot(add, err);
		if (ret == 0)
			ret = run_kvm_netboot(host, err);
		if (ret < 0)
			goto out;
	}
	strbuf_addf(&n->tftp_root, "%s/boot", tree.buf);
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/" NETINSTALL_LOADER, n->tftp_root.buf);
	if (access(path.buf, R_OK) != 0) {
		ret = kvm_error_set(err, -ENOENT, "%s: not in the netboot tree: install pxelinux, the BIOS loader --netboot boots",
				    NETINSTALL_LOADER);
		goto out;
	}
	/* The entry's kvm_netboot.answers URL, on kvm-install's server. */
	strbuf_reset(&path);
	strbuf_addf(&path, "%s/answers", n->workdir);
	if (mkdir(path.buf, 0700) < 0) {
		ret = kvm_error_errno(err, -errno, "%s", path.buf);
		goto out;
	}
	strbuf_addstr(&path, "/" NETINSTALL_HOST_ID);
	if (link(n->answer, path.buf) < 0)
		ret = kvm_error_errno(err, -errno, "%s", path.buf);
out:
	strbuf_release(&program);
	strbuf_release(&tree);
	strbuf_release(&files);
	strbuf_release(&path);
	strbuf_release(&port);
	return ret;
}

void netinstall_remove(const char *workdir)
{
	struct strbuf tree = STRBUF_INIT, files = STRBUF_INIT, answers = STRBUF_INIT;
	const char *argv[] = { "rm", "-rf", "--one-file-system", NULL, NULL, NULL, NULL };
	struct run_cmd cmd;
	struct kvm_error ignored = { 0 };

	strbuf_addf(&tree, "%s/netboot", workdir);
	strbuf_addf(&files, "%s/netboot-files", workdir);
	strbuf_addf(&answers, "%s/answers", workdir);
	argv[3] = tree.buf;
	argv[4] = files.buf;
	argv[5] = answers.buf;
	run_cmd_init(&cmd, argv);
	run_command(&cmd, &ignored);
	run_cmd_release(&cmd);
	strbuf_release(&tree);
	strbuf_release(&files);
	strbuf_release(&answers);
}
