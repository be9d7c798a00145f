#define _GNU_SOURCE
#include "CSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/close_range.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Between clone and exec only async-signal-safe calls, none that allocates: the child of a
   threaded process, sharing its memory. */

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

/* What the child needs, in memory it shares with the parent until it execs. */
struct job_launch {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *directory;
    const char *stdout_path;
    const char *stderr_path;
    const char *record_path;
    pid_t parent;
    /* Set by the child when it cannot exec; the parent reads it once the child has gone. */
    volatile int error;
};

static _Noreturn void fail(struct job_launch *launch, int error) {
    launch->error = error != 0 ? error : EIO;
    _exit(127);
}

static int launch_job(void *argument) {
    struct job_launch *launch = argument;
    /* Every signal is still blocked (the parent blocked them before clone): no handler of the
       agent's may run here, on memory the agent is using, so all go back to their defaults
       before any is let through, just before exec. */
    for (int signal_number = 1; signal_number < NSIG; signal_number++) signal(signal_number, SIG_DFL);
    if (setpgid(0, 0) != 0) fail(launch, errno);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(launch, errno);
    /* The parent may have died before the line above took effect. */
    if (getppid() != launch->parent) _exit(127);
    /* Written before the job runs, so no agent can die knowing of a job it left no record of. */
    if (write_record(launch->record_path) != 0) fail(launch, errno);
    int input = open("/dev/null", O_RDONLY);
    int output = open(launch->stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int errors = open(launch->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (input < 0 || output < 0 || errors < 0) fail(launch, errno);
    if (dup2(input, 0) < 0 || dup2(output, 1) < 0 || dup2(errors, 2) < 0) fail(launch, errno);
    if (input > 2) close(input);
    if (output > 2) close(output);
    if (errors > 2) close(errors);
    if (chdir(launch->directory) != 0) fail(launch, errno);
    /* Nothing of the agent's (sockets, the store, pipes) leaks into the job. */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        long limit = sysconf(_SC_OPEN_MAX);
        for (int descriptor = 3; descriptor < (limit > 0 && limit < 1048576 ? limit : 65536); descriptor++) {
            fcntl(descriptor, F_SETFD, FD_CLOEXEC);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(launch->path, launch->argv, launch->envp);
    fail(launch, errno);
}

enum { launch_stack_bytes = 256 * 1024 };

int junction_spawn_job(const char *path, char *const argv[], char *const envp[], const char *directory,
                       const char *stdout_path, const char *stderr_path, const char *record_path, pid_t *pid) {
    struct job_launch launch = {
        .path = path, .argv = argv, .envp = envp, .directory = directory, .stdout_path = stdout_path,
        .stderr_path = stderr_path, .record_path = record_path, .parent = getpid(), .error = 0,
    };
    /* The child shares this process's memory until it execs, and this thread waits until then
       (as posix_spawn does): a fork would copy the page tables of the whole agent for each job,
       most of an agent's time when jobs are short. */
    void *stack = mmap(NULL, launch_stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return errno;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = clone(launch_job, (char *)stack + launch_stack_bytes, CLONE_VM | CLONE_VFORK | SIGCHLD, &launch);
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    munmap(stack, launch_stack_bytes);
    if (child < 0) return clone_error;
    if (launch.error != 0) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return launch.error;
    }
    *pid = child;
    return 0;
}
