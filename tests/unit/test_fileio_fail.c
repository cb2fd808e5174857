/* Failure behaviour of atomic output files (lib/fileio.h): a signal in the
 * middle of a write, an error exit, a full disk (RLIMIT_FSIZE) and a failed
 * commit all leave neither the destination nor a temporary behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "err.h"
#include "fileio.h"

/* A fresh empty directory under G4_TMP. */
static const char *fresh_dir(const char *name)
{
	static char d[4096];
	snprintf(d, sizeof d, "%s", t_tmp(name));
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	if (system(cmd) != 0 || mkdir(d, 0755) != 0)
		CHECK(0, "cannot make %s", d);
	return d;
}

static int entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* In a child: commits o, writes the error message to fd and exits 0 when
 * the commit failed (as it should), 6 when it succeeded, 5 when the message
 * could not be written. */
static void commit_report(g4_out *o, int fd)
{
	int rc = g4_out_commit(o);
	const char *m = g4_errmsg();
	if (write(fd, m, strlen(m)) < 0)
		_exit(5);
	_exit(rc == -1 ? 0 : 6);
}

/* In the parent: reads the child's message (pipe fds) into msg[0..cap) and
 * returns its wait status. */
static int commit_wait(pid_t pid, int fds[2], char *msg, size_t cap)
{
	close(fds[1]);
	ssize_t n = read(fds[0], msg, cap - 1);
	msg[n > 0 ? n : 0] = 0;
	close(fds[0]);
	int st;
	waitpid(pid, &st, 0);
	return st;
}

/* The child starts a 1 MB write into dir/out.bin, tells the parent (pipe)
 * that half of it is written, then waits to be killed. */
static void killed_mid_write(int sig)
{
	const char *dir = fresh_dir("sigdir");
	char path[4200];
	snprintf(path, sizeof path, "%s/out.bin", dir);
	int fds[2];
	if (pipe(fds)) { CHECK(0, "pipe"); return; }
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		/* As in a terminal: a background job of a script starts with
		 * SIGINT ignored, and fileio keeps an inherited SIG_IGN. */
		signal(sig, SIG_DFL);
		alarm(30);	/* never hang the suite */
		g4_out *o = g4_out_open(path);
		if (!o)
			_exit(3);
		static char buf[1 << 19];
		memset(buf, 'x', sizeof buf);
		if (fwrite(buf, 1, sizeof buf, g4_out_file(o)) != sizeof buf || fflush(g4_out_file(o)))
			_exit(4);
		if (write(fds[1], "k", 1) != 1)
			_exit(5);
		for (;;)
			pause();
	}
	close(fds[1]);
	char c;
	CHECK(read(fds[0], &c, 1) == 1, "child did not start writing");
	close(fds[0]);
	CHECK(entries(dir) == 1, "the temporary is not there mid-write (%d entries)", entries(dir));
	kill(pid, sig);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == sig, "child did not die of signal %d (status %#x)", sig, st);
	CHECK(access(path, F_OK) != 0, "%s exists after signal %d", path, sig);
	CHECK(entries(dir) == 0, "%d files left in %s after signal %d", entries(dir), dir, sig);
}

static void test_sigterm_mid_write(void) { killed_mid_write(SIGTERM); }
static void test_sigint_mid_write(void) { killed_mid_write(SIGINT); }
static void test_sighup_mid_write(void) { killed_mid_write(SIGHUP); }
/* The reader of stdout went away (`... -o file | head`). */
static void test_sigpipe_mid_write(void) { killed_mid_write(SIGPIPE); }
static void test_sigxfsz_mid_write(void) { killed_mid_write(SIGXFSZ); }

/* g4_die (an error exit in a command) removes pending outputs. */
static void test_die_mid_write(void)
{
	const char *dir = fresh_dir("diedir");
	char path[4200];
	snprintf(path, sizeof path, "%s/out.bin", dir);
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", 1);
		dup2(devnull, 2);	/* the error line is expected */
		g4_out *o = g4_out_open(path);
		if (!o)
			_exit(3);
		fputs("partial", g4_out_file(o));
		fflush(g4_out_file(o));
		g4_err("something went wrong");
		g4_die("test");
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x", st);
	CHECK(entries(dir) == 0, "%d files left after g4_die", entries(dir));
}

/* A disk that fills up: writes past RLIMIT_FSIZE fail with EFBIG.  The
 * commit must fail, say why, and leave nothing. */
static void test_full_disk(void)
{
	const char *dir = fresh_dir("fulldir");
	char path[4200];
	snprintf(path, sizeof path, "%s/out.bin", dir);
	int fds[2];
	if (pipe(fds)) { CHECK(0, "pipe"); return; }
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 10000, 10000 };
		setrlimit(RLIMIT_FSIZE, &rl);
		g4_out *o = g4_out_open(path);
		if (!o)
			_exit(3);
		static char buf[100000];
		memset(buf, 'y', sizeof buf);
		fwrite(buf, 1, sizeof buf, g4_out_file(o));
		commit_report(o, fds[1]);
	}
	char msg[512];
	int st = commit_wait(pid, fds, msg, sizeof msg);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "commit did not fail (status %#x)", st);
	CHECK(strstr(msg, "out.bin") && strstr(msg, "too large"), "message: '%s'", msg);
	CHECK(entries(dir) == 0, "%d files left after a failed commit", entries(dir));
}

/* Aborting, and committing over an existing file: the old one stays whole
 * until the rename. */
static void test_abort_keeps_old(void)
{
	const char *dir = fresh_dir("abortdir");
	char path[4200];
	snprintf(path, sizeof path, "%s/out.bin", dir);
	FILE *f = fopen(path, "w");
	fputs("old", f);
	fclose(f);
	g4_out *o = g4_out_open(path);
	CHECK(o != NULL, "open: %s", g4_errmsg());
	if (!o) return;
	fputs("new and longer", g4_out_file(o));
	g4_out_abort(o);
	size_t n;
	char *b = t_slurp(path, &n);
	CHECK(b && n == 3 && !memcmp(b, "old", 3), "old file changed by an aborted write");
	free(b);
	CHECK(entries(dir) == 1, "%d entries after abort", entries(dir));
}

/* The finished file has the permissions the umask gives (not mkstemp's
 * 0600). */
static void test_mode_follows_umask(void)
{
	const char *dir = fresh_dir("modedir");
	char path[4200];
	snprintf(path, sizeof path, "%s/out.bin", dir);
	mode_t old = umask(022);
	g4_out *o = g4_out_open(path);
	umask(old);
	CHECK(o != NULL, "open: %s", g4_errmsg());
	if (!o) return;
	fputs("x", g4_out_file(o));
	CHECK(g4_out_commit(o) == 0, "commit: %s", g4_errmsg());
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o, want 644", st.st_mode & 0777);
}

/* Output to /dev/full through stdout: the commit reports it. */
static void test_stdout_dev_full(void)
{
	int fds[2];
	if (pipe(fds)) { CHECK(0, "pipe"); return; }
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		int full = open("/dev/full", 1);
		if (full < 0)
			_exit(7);	/* no /dev/full: counted as a skip below */
		dup2(full, 1);
		g4_out *o = g4_out_open("-");
		for (int i = 0; i < 1000; i++)
			fputs("0123456789", g4_out_file(o));
		commit_report(o, fds[1]);
	}
	char msg[512];
	int st = commit_wait(pid, fds, msg, sizeof msg);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 7)
		return;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "commit to /dev/full did not fail (status %#x)", st);
	CHECK(strstr(msg, "No space left"), "message: '%s'", msg);
}

int main(void)
{
	RUN(test_sigterm_mid_write);
	RUN(test_sigint_mid_write);
	RUN(test_sighup_mid_write);
	RUN(test_sigpipe_mid_write);
	RUN(test_sigxfsz_mid_write);
	RUN(test_die_mid_write);
	RUN(test_full_disk);
	RUN(test_abort_keeps_old);
	RUN(test_mode_follows_umask);
	RUN(test_stdout_dev_full);
	return t_done();
}
