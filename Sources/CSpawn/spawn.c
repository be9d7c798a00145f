#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Between fork and exec only async-signal-safe calls: the child of a threaded process. */

/* Appends the decimal digits of `value` at `out`; returns the position after them. */
static char *put_number(char *out, unsigned long long value) {
    char digits[24];
    int count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (count > 0) *out++ = digits[--count];
    return out;
}

/* Writes "PID STARTTIME\n" for this process to `path`: the process group a later agent stops,
   and when its leader started (field 22 of /proc/self/stat), to tell it from a reused number. */
static int write_record(const char *path) {
    char stat[1024];
    int descriptor = open("/proc/self/stat", O_RDONLY);
    if (descriptor < 0) return -1;
    ssize_t length = read(descriptor, stat, sizeof stat - 1);
    close(descriptor);
    if (length <= 0) return -1;
    stat[length] = 0;
    char *field = NULL;
    for (char *cursor = stat + length - 1; cursor >= stat; cursor--) {
        if (*cursor == ')') { field = cursor + 1; break; }
    }
    if (field == NULL) return -1;
    /* After the name: " S ppid ..." -- the start time is the 20th field from here. */
    int index = 0;
    unsigned long long started = 0;
    for (char *cursor = field; *cursor; cursor++) {
        if (*cursor == ' ') { index++; continue; }
        if (index == 20) started = started * 10 + (unsigned long long)(*cursor - '0');
    }
    char line[64];
    char *end = put_number(line, (unsigned long long)getpid());
    *end++ = ' ';
    end = put_number(end, started);
    *end++ = '\n';
    int record = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (record < 0) return -1;
    ssize_t written = write(record, line, (size_t)(end - line));
    close(record);
    return written == end - line ? 0 : -1;
}

static void fail(int report, int error) {
    (void)!write(report, &error, sizeof error);
    _exit(127);
}

int junction_spawn_job(const char *path, char *const argv[], char *const envp[], const char *directory,
                       const char *stdout_path, const char *stderr_path, const char *record_path, pid_t *pid) {
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return errno;
    pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return error;
    }
    if (child == 0) {
        close(pipefd[0]);
        int report = pipefd[1];
        if (setpgid(0, 0) != 0) fail(report, errno);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(report, errno);
        /* The parent may have died before the line above took effect. */
        if (getppid() != parent) _exit(127);
        /* Written before the job runs, so no agent can die knowing of a job it left no record of. */
        if (write_record(record_path) != 0) fail(report, errno != 0 ? errno : EIO);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int signal_number = 1; signal_number < NSIG; signal_number++) signal(signal_number, SIG_DFL);
        int input = open("/dev/null", O_RDONLY);
        int output = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int errors = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (input < 0 || output < 0 || errors < 0) fail(report, errno);
        if (dup2(input, 0) < 0 || dup2(output, 1) < 0 || dup2(errors, 2) < 0) fail(report, errno);
        if (input > 2) close(input);
        if (output > 2) close(output);
        if (errors > 2) close(errors);
        if (chdir(directory) != 0) fail(report, errno);
        /* Nothing of the agent's (sockets, the store, pipes) leaks into the job; the report pipe
           is close-on-exec and goes at exec. */
        if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            long limit = sysconf(_SC_OPEN_MAX);
            for (int descriptor = 3; descriptor < (limit > 0 && limit < 1048576 ? limit : 65536); descriptor++) {
                if (descriptor != report) fcntl(descriptor, F_SETFD, FD_CLOEXEC);
            }
        }
        execve(path, argv, envp);
        fail(report, errno);
    }
    close(pipefd[1]);
    int error = 0;
    ssize_t got;
    do {
        got = read(pipefd[0], &error, sizeof error);
    } while (got < 0 && errno == EINTR);
    close(pipefd[0]);
    if (got == (ssize_t)sizeof error) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return error;
    }
    *pid = child;
    return 0;
}
