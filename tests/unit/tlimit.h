/* tlimit.h - runs a piece of a test in a child process whose address space
 * may grow by at most a given number of bytes: a reader that allocates what
 * a forged header claims fails there ("out of memory", or under ASan an
 * abort) instead of passing.
 *
 *   static int job(void *arg, char *out, size_t cap) { ... snprintf(out, cap, "%d %s", rc, msg); }
 *   char msg[800];
 *   CHECK(t_run_limited(48 << 20, job, &arg, msg, sizeof msg) == 0, "the child failed (%s)", msg);
 */
#ifndef G4_TLIMIT_H
#define G4_TLIMIT_H
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* fn(arg, out, cap) runs in the child under the limit, writes its report
 * (a string) in out and returns 0 (nonzero: the child fails).  The report
 * comes back in msg.  0 if the child finished and reported. */
static inline int t_run_limited(size_t headroom, int (*fn)(void *arg, char *out, size_t cap), void *arg,
				char *msg, size_t cap)
{
	int fd[2];
	msg[0] = 0;
	if (pipe(fd))
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		long pages = 0;
		FILE *sm = fopen("/proc/self/statm", "r");
		if (!sm || fscanf(sm, "%ld", &pages) != 1)
			_exit(3);
		fclose(sm);
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)headroom;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(4);
		char m[1024] = "";
		if (fn(arg, m, sizeof m))
			_exit(1);
		size_t k = strlen(m);
		/* no exit handlers: what the job read stays allocated */
		_exit(write(fd[1], m, k) == (ssize_t)k ? 0 : 5);
	}
	close(fd[1]);
	if (pid < 0) {
		close(fd[0]);
		return -1;
	}
	size_t got = 0;
	ssize_t r;
	while (got + 1 < cap && (r = read(fd[0], msg + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	msg[got] = 0;
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#endif
