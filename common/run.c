// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"
#include "strbuf.h"

extern char **environ;

/* How much of a pipe one read takes in. */
#define RUN_READ_CHUNK 65536
/* Without a pidfd, how often to look whether the child has ended. */
#define RUN_REAP_POLL_MS 10

void run_cmd_init(struct run_cmd *cmd, const char *const *argv)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->argv = argv;
	strbuf_init(&cmd->out, 0);
	strbuf_init(&cmd->err, 0);
	cmd->status = -1;
}

void run_cmd_release(struct run_cmd *cmd)
{
	if (!cmd)
		return;
	strbuf_release(&cmd->out);
	strbuf_release(&cmd->err);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * A child that exits without reading all its input would kill us with
 * SIGPIPE.  Blocking it in this thread only, and taking back a SIGPIPE our
 * write raised, keeps other threads' signal handling as it was.
 */
static ssize_t write_no_sigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old_set, pending;
	bool was_pending;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);

	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && saved == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	errno = saved;
	return n;
}

/* Returns 1 at end of file, 0 after data or nothing, -errno on error. */
static int read_into(int fd, struct strbuf *sb)
{
	ssize_t n;

	strbuf_grow(sb, RUN_READ_CHUNK);
	n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
	if (n < 0)
		return (errno == EINTR || errno == EAGAIN) ? 0 : -errno;
	if (n == 0)
		return 1;
	strbuf_setlen(sb, sb->len + (size_t)n);
	return 0;
}

static int spawn_child(struct run_cmd *cmd, pid_t *pid, int in_fd, int out_fd,
		       int err_fd)
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t signals;
	int ret;

	ret = posix_spawn_file_actions_init(&actions);
	if (ret)
		return -ret;
	ret = posix_spawnattr_init(&attr);
	if (ret) {
		posix_spawn_file_actions_destroy(&actions);
		return -ret;
	}

	if (in_fd >= 0)
		ret = posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
	else
		ret = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO,
						       "/dev/null", O_RDONLY, 0);
	if (!ret && out_fd >= 0)
		ret = posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
	if (!ret && err_fd >= 0)
		ret = posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
	if (!ret && cmd->cwd)
		ret = posix_spawn_file_actions_addchdir_np(&actions, cmd->cwd);

	/*
	 * The child starts with what a program expects, not with what this
	 * process blocked or ignored (SIGPIPE, SIGINT while cleaning up...).
	 */
	sigemptyset(&signals);
	if (!ret)
		ret = posix_spawnattr_setsigmask(&attr, &signals);
	sigfillset(&signals);
	if (!ret)
		ret = posix_spawnattr_setsigdefault(&attr, &signals);
	if (!ret)
		ret = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	if (!ret)
		ret = posix_spawnp(pid, cmd->argv[0], &actions, &attr,
				   (char *const *)cmd->argv,
				   cmd->envp ? (char *const *)cmd->envp : environ);

	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&actions);
	return -ret;
}

struct run_pipes {
	int in[2];
	int out[2];
	int err[2];
};

static void close_pipes(struct run_pipes *p)
{
	for (int i = 0; i < 2; i++) {
		close_fd(&p->in[i]);
		close_fd(&p->out[i]);
		close_fd(&p->err[i]);
	}
}

static int open_pipes(struct run_cmd *cmd, struct run_pipes *p)
{
	*p = (struct run_pipes){ { -1, -1 }, { -1, -1 }, { -1, -1 } };

	if (cmd->input && pipe2(p->in, O_CLOEXEC) < 0)
		goto fail;
	if (cmd->capture_stdout && pipe2(p->out, O_CLOEXEC) < 0)
		goto fail;
	if (cmd->capture_stderr && pipe2(p->err, O_CLOEXEC) < 0)
		goto fail;
	/* Only our end: a full pipe must not stall reading the child's output. */
	if (p->in[1] >= 0 && fcntl(p->in[1], F_SETFL, O_NONBLOCK) < 0)
		goto fail;
	return 0;

fail:
	{
		int ret = -errno;

		close_pipes(p);
		return ret;
	}
}

/*
 * Feeds input, collects output and reaps the child, until both the child
 * has ended and its output pipes are closed, or the deadline passes.
 * Returns 0, -ETIMEDOUT, or -errno of a failed read or write.
 */
static int supervise(struct run_cmd *cmd, pid_t pid, struct run_pipes *p,
		     int *wstatus)
{
	uint64_t deadline = cmd->timeout_ms > 0 ? now_ms() + (uint64_t)cmd->timeout_ms : 0;
	size_t input_done = 0;
	bool reaped = false;
	int pidfd, ret = 0;

	/* A pidfd wakes poll when the child ends; older kernels lack it. */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (p->in[1] >= 0 && cmd->input_len == 0)
		close_fd(&p->in[1]);

	while (!reaped || p->out[0] >= 0 || p->err[0] >= 0) {
		struct pollfd fds[4];
		int nfds = 0, wait_ms = -1, idx_in = -1, idx_out = -1, idx_err = -1;

		if (!reaped) {
			pid_t w = waitpid(pid, wstatus, WNOHANG);

			if (w == pid) {
				reaped = true;
				close_fd(&pidfd);
				continue;
			}
			if (w < 0 && errno != EINTR) {
				/* Reaped elsewhere: the pid may be reused, never kill it. */
				ret = -errno;
				reaped = true;
				break;
			}
		}
		if (deadline) {
			uint64_t now = now_ms();

			if (now >= deadline) {
				ret = -ETIMEDOUT;
				break;
			}
			wait_ms = (int)(deadline - now);
		}
		if (!reaped && pidfd < 0 && (wait_ms < 0 || wait_ms > RUN_REAP_POLL_MS))
			wait_ms = RUN_REAP_POLL_MS;

		if (p->in[1] >= 0) {
			idx_in = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->in[1], .events = POLLOUT };
		}
		if (p->out[0] >= 0) {
			idx_out = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->out[0], .events = POLLIN };
		}
		if (p->err[0] >= 0) {
			idx_err = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->err[0], .events = POLLIN };
		}
		if (!reaped && pidfd >= 0)
			fds[nfds++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };

		if (poll(fds, (nfds_t)nfds, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}

		if (idx_in >= 0 && fds[idx_in].revents) {
			ssize_t n = write_no_sigpipe(p->in[1], cmd->input + input_done,
						     cmd->input_len - input_done);

			if (n >= 0)
				input_done += (size_t)n;
			/* A child that stops reading early has simply had enough. */
			if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
			    input_done == cmd->input_len)
				close_fd(&p->in[1]);
		}
		if (idx_out >= 0 && fds[idx_out].revents) {
			int r = read_into(p->out[0], &cmd->out);

			if (r < 0) {
				ret = r;
				break;
			}
			if (r > 0)
				close_fd(&p->out[0]);
		}
		if (idx_err >= 0 && fds[idx_err].revents) {
			int r = read_into(p->err[0], &cmd->err);

			if (r < 0) {
				ret = r;
				break;
			}
			if (r > 0)
				close_fd(&p->err[0]);
		}
	}

	if (!reaped) {
		kill(pid, SIGKILL);
		while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR)
			;
	}
	close_fd(&pidfd);
	return ret;
}

static int run_internal(struct run_cmd *cmd, int *wstatus, struct kvm_error *err)
{
	const char *prog;
	struct run_pipes p;
	struct stat st;
	pid_t pid;
	int ret;

	*wstatus = 0;
	cmd->status = -1;
	if (!cmd->argv || !cmd->argv[0] || !cmd->argv[0][0])
		return kvm_error_set(err, -EINVAL, "no program to run");
	prog = cmd->argv[0];

	/* posix_spawn says ENOENT for a missing folder too: tell them apart. */
	if (cmd->cwd && stat(cmd->cwd, &st) < 0)
		return kvm_error_errno(err, -errno, "%s", cmd->cwd);
	if (cmd->cwd && !S_ISDIR(st.st_mode))
		return kvm_error_errno(err, -ENOTDIR, "%s", cmd->cwd);

	ret = open_pipes(cmd, &p);
	if (ret < 0)
		return kvm_error_errno(err, ret, "%s: cannot create pipes", prog);

	ret = spawn_child(cmd, &pid, p.in[0], p.out[1], p.err[1]);
	close_fd(&p.in[0]);
	close_fd(&p.out[1]);
	close_fd(&p.err[1]);
	if (ret == -ENOENT) {
		ret = kvm_error_set(err, ret, "%s: command not found", prog);
		goto out;
	}
	if (ret < 0) {
		ret = kvm_error_errno(err, ret, "%s: cannot run", prog);
		goto out;
	}

	ret = supervise(cmd, pid, &p, wstatus);
	if (WIFEXITED(*wstatus))
		cmd->status = WEXITSTATUS(*wstatus);
	else if (WIFSIGNALED(*wstatus))
		cmd->status = 128 + WTERMSIG(*wstatus);
	if (ret == -ETIMEDOUT)
		kvm_error_set(err, ret, "%s: timed out after %d ms", prog, cmd->timeout_ms);
	else if (ret < 0)
		kvm_error_errno(err, ret, "%s: cannot talk to the program", prog);

out:
	close_pipes(&p);
	return ret;
}

int run_command(struct run_cmd *cmd, struct kvm_error *err)
{
	int wstatus;

	return run_internal(cmd, &wstatus, err);
}

/* The last non-empty line of text, without its newline. */
static void last_line(const struct strbuf *text, struct strbuf *line)
{
	size_t end = text->len, start;

	while (end && (text->buf[end - 1] == '\n' || text->buf[end - 1] == '\r' ||
		       text->buf[end - 1] == ' ' || text->buf[end - 1] == '\t'))
		end--;
	start = end;
	while (start && text->buf[start - 1] != '\n')
		start--;
	strbuf_add(line, text->buf + start, end - start);
}

int run_command_ok(struct run_cmd *cmd, struct kvm_error *err)
{
	struct strbuf line = STRBUF_INIT;
	const char *prog;
	int wstatus, ret;

	ret = run_internal(cmd, &wstatus, err);
	if (ret < 0 || cmd->status == 0)
		return ret;
	prog = cmd->argv[0];

	if (WIFSIGNALED(wstatus)) {
		ret = kvm_error_set(err, -EIO, "%s was killed by signal %d", prog,
				    WTERMSIG(wstatus));
	} else {
		last_line(&cmd->err, &line);
		if (line.len)
			ret = kvm_error_set(err, -EIO, "%s exited with status %d: %s",
					    prog, cmd->status, line.buf);
		else
			ret = kvm_error_set(err, -EIO, "%s exited with status %d",
					    prog, cmd->status);
	}
	strbuf_release(&line);
	return ret;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

bool run_program_exists(const char *name)
{
	struct strbuf candidate = STRBUF_INIT;
	const char *path, *dir;
	bool found = false;

	if (!name || !*name)
		return false;
	if (strchr(name, '/'))
		return is_executable(name);

	/* The default glibc's execvp uses when PATH is unset. */
	path = getenv("PATH");
	if (!path)
		path = "/bin:/usr/bin";
	for (dir = path; !found; ) {
		size_t len = strcspn(dir, ":");

		strbuf_reset(&candidate);
		/* An empty entry means the current folder, as for execvp. */
		if (len)
			strbuf_add(&candidate, dir, len);
		else
			strbuf_addch(&candidate, '.');
		strbuf_addch(&candidate, '/');
		strbuf_addstr(&candidate, name);
		found = is_executable(candidate.buf);
		if (!dir[len])
			break;
		dir += len + 1;
	}
	strbuf_release(&candidate);
	return found;
}
