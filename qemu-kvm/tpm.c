/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest's TPM 2.0: swtpm keeps its state in the guest's state folder
 * (BitLocker's keys live there, so it persists between runs) and talks to
 * QEMU on a socket in a per-run folder, which goes away with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kvm-run.h"
#include "outfile.h"
#include "xalloc.h"

/* swtpm is ready in milliseconds; a loaded machine gets ten seconds. */
#define TPM_START_TIMEOUT_MS 10000
#define TPM_POLL_MS 20
#define TPM_STOP_GRACE_MS 3000

void guest_state_dir(const char *guest, struct strbuf *dir)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (state && state[0] == '/')
		strbuf_addf(dir, "%s/kvm-run/%s", state, guest);
	else
		strbuf_addf(dir, "%s/.local/state/kvm-run/%s", home && home[0] ? home : "/", guest);
}

int make_private_dirs(const char *path, struct kvm_error *err)
{
	char *copy = xstrdup(path);
	int ret = 0;

	for (char *slash = copy + 1; ; slash++) {
		bool last = !*slash;

		if (*slash != '/' && !last)
			continue;
		*slash = '\0';
		if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
			ret = kvm_error_errno(err, -errno, "%s", copy);
			break;
		}
		if (last)
			break;
		*slash = '/';
	}
	free(copy);
	return ret;
}

int copy_file_once(const char *from, const char *to, struct kvm_error *err)
{
	struct outfile out = { 0 };
	char buf[65536];
	ssize_t n;
	int in, ret;

	if (access(to, F_OK) == 0)
		return 0;
	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return kvm_error_errno(err, -errno, "%s", from);
	ret = outfile_open(&out, to, false, 0600, err);
	if (ret < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = kvm_error_errno(err, -errno, "%s", from);
			goto out;
		}
		for (ssize_t done = 0; done < n; ) {
			ssize_t w = write(out.fd, buf + done, (size_t)(n - done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				ret = kvm_error_errno(err, -errno, "%s", to);
				goto out;
			}
			done += w;
		}
	}
	ret = outfile_commit(&out, err);
out:
	outfile_abort(&out);
	close(in);
	return ret;
}

/* The per-run folder: $XDG_RUNTIME_DIR/kvm-run, else one private to this
 * user in /tmp, whose owner and mode are checked because anyone can make it.
 * CREATE makes and checks it; without, only its name is wanted. */
static int runtime_base(struct strbuf *dir, bool create, struct kvm_error *err)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (runtime && runtime[0] == '/') {
		strbuf_addf(dir, "%s/kvm-run", runtime);
		return 0;
	}
	strbuf_addf(dir, "/tmp/kvm-run-%u", (unsigned)getuid());
	if (!create)
		return 0;
	if (mkdir(dir->buf, 0700) < 0 && errno != EEXIST)
		return kvm_error_errno(err, -errno, "%s", dir->buf);
	if (lstat(dir->buf, &st) < 0)
		return kvm_error_errno(err, -errno, "%s", dir->buf);
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 077))
		return kvm_error_set(err, -EPERM, "%s: not a private folder of this user", dir->buf);
	return 0;
}

int tpm_prepare(struct tpm_emulator *tpm, const char *guest, struct kvm_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	int ret;

	memset(tpm, 0, sizeof(*tpm));
	tpm->child.own_group = true;
	guest_state_dir(guest, &sb);
	strbuf_addstr(&sb, "/tpm");
	tpm->state_dir = strbuf_detach(&sb);

	ret = runtime_base(&sb, false, err);
	if (ret < 0) {
		strbuf_release(&sb);
		return ret;
	}
	strbuf_addf(&sb, "/%s", guest);
	tpm->run_dir = strbuf_detach(&sb);
	strbuf_addf(&sb, "%s/swtpm.sock", tpm->run_dir);
	tpm->socket = strbuf_detach(&sb);
	strbuf_addf(&sb, "%s/swtpm.pid", tpm->run_dir);
	tpm->pid_file = strbuf_detach(&sb);

	if (strlen(tpm->socket) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return kvm_error_set(err, -ENAMETOOLONG,
				     "%s: too long for a socket; set XDG_RUNTIME_DIR to a shorter folder",
				     tpm->socket);
	return 0;
}

void tpm_command(const struct tpm_emulator *tpm, const char *swtpm, struct arglist *argv)
{
	arglist_push(argv, swtpm);
	arglist_push(argv, "socket");
	arglist_push(argv, "--tpm2");
	arglist_push(argv, "--tpmstate");
	arglist_pushf(argv, "dir=%s,mode=0600", tpm->state_dir);
	arglist_push(argv, "--ctrl");
	arglist_pushf(argv, "type=unixio,path=%s,mode=0600", tpm->socket);
	arglist_push(argv, "--pid");
	arglist_pushf(argv, "file=%s", tpm->pid_file);
	/* Ends with QEMU's connection, should kvm-run itself be killed. */
	arglist_push(argv, "--terminate");
}

/* The pid in a pid file, or 0. */
static pid_t read_pid(const char *path)
{
	FILE *file = fopen(path, "re");
	long pid = 0;

	if (!file)
		return 0;
	if (fscanf(file, "%ld", &pid) != 1 || pid <= 0)
		pid = 0;
	fclose(file);
	return (pid_t)pid;
}

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int tpm_start(struct tpm_emulator *tpm, const char *swtpm, struct kvm_error *err)
{
	struct arglist argv = { 0 };
	struct strbuf base = STRBUF_INIT;
	pid_t other;
	int ret, status, waited;

	ret = runtime_base(&base, true, err);
	strbuf_release(&base);
	if (ret < 0)
		return ret;
	ret = make_private_dirs(tpm->state_dir, err);
	if (ret < 0)
		return ret;
	ret = make_private_dirs(tpm->run_dir, err);
	if (ret < 0)
		return ret;
	other = read_pid(tpm->pid_file);
	if (other > 0 && kill(other, 0) == 0)
		return kvm_error_set(err, -EBUSY,
				     "%s: the TPM of this guest is in use by process %ld (is the guest "
				     "already running?)", tpm->run_dir, (long)other);
	/* What a killed run left behind. */
	unlink(tpm->socket);
	unlink(tpm->pid_file);

	tpm_command(tpm, swtpm, &argv);
	ret = child_start(&tpm->child, (const char *const *)argv.items, err);
	arglist_release(&argv);
	if (ret < 0)
		return ret;

	/* swtpm writes its pid file once its socket listens. */
	for (waited = 0; waited < TPM_START_TIMEOUT_MS; waited += TPM_POLL_MS) {
		struct timespec ts = { 0, TPM_POLL_MS * 1000000L };

		if (child_exited(&tpm->child, &status))
			return kvm_error_set(err, -EIO, "swtpm exited with status %d before it was ready",
					     status);
		if (read_pid(tpm->pid_file) == tpm->child.pid && is_socket(tpm->socket))
			return 0;
		nanosleep(&ts, NULL);
	}
	tpm_stop(tpm);
	return kvm_error_set(err, -ETIMEDOUT, "%s: swtpm did not start within %d s", tpm->socket,
			     TPM_START_TIMEOUT_MS / 1000);
}

void tpm_stop(struct tpm_emulator *tpm)
{
	if (!tpm || !tpm->run_dir)
		return;
	child_stop(&tpm->child, TPM_STOP_GRACE_MS);
	unlink(tpm->socket);
	unlink(tpm->pid_file);
	rmdir(tpm->run_dir);
}

void tpm_release(struct tpm_emulator *tpm)
{
	if (!tpm)
		return;
	free(tpm->state_dir);
	free(tpm->run_dir);
	free(tpm->socket);
	free(tpm->pid_file);
	memset(tpm, 0, sizeof(*tpm));
}
