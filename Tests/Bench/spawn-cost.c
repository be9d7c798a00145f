/* What starting one job costs the process that starts it, by that process's size: touches
   MEGABYTES of memory, then starts and waits for /bin/true 500 times through
   junction_spawn_job, and prints the mean per job.

     cc -O2 -ISources/CSpawn/include Tests/Bench/spawn-cost.c Sources/CSpawn/spawn.c -o /tmp/spawn-cost
     /tmp/spawn-cost 50; /tmp/spawn-cost 500                                    (MEGABYTES) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "CSpawn.h"

int main(int argc, char **argv) {
    size_t megabytes = argc > 1 ? (size_t)atol(argv[1]) : 50;
    char *memory = malloc(megabytes << 20);
    if (memory == NULL) return 1;
    memset(memory, 1, megabytes << 20);
    char directory[] = "/tmp/spawn-cost-XXXXXX";
    if (mkdtemp(directory) == NULL) return 1;
    char out[64], err[64], record[64];
    snprintf(out, sizeof out, "%s/stdout", directory);
    snprintf(err, sizeof err, "%s/stderr", directory);
    snprintf(record, sizeof record, "%s/record", directory);
    char *arguments[] = {"/bin/true", NULL};
    char *environment[] = {NULL};
    enum { jobs = 500 };
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int job = 0; job < jobs; job++) {
        pid_t pid;
        int error = junction_spawn_job("/bin/true", arguments, environment, directory, out, err, record, &pid);
        if (error != 0) {
            fprintf(stderr, "spawn-cost: %s\n", strerror(error));
            return 1;
        }
        int status;
        waitpid(pid, &status, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%zu MB process: %.2f ms a job started and waited for (%d jobs)\n", megabytes, seconds / jobs * 1e3, jobs);
    unlink(out);
    unlink(err);
    unlink(record);
    rmdir(directory);
    return memory[megabytes] - 1;
}
