#ifndef JUNCTION_CSPAWN_H
#define JUNCTION_CSPAWN_H

#include <sys/types.h>

#include "CMemory.h"

/* Starts `path` (already resolved) with `argv` and `envp` in a process group of its own, in
   `directory`, stdin from /dev/null, stdout and stderr to the given files, default signal
   handling, and SIGKILL when the calling thread's process dies (PR_SET_PDEATHSIG). Before the
   program runs, the child writes "PID STARTTIME" to `record_path`. Returns 0 and sets *pid, or an
   errno value saying why the program could not start. */
int junction_spawn_job(const char *path, char *const argv[], char *const envp[], const char *directory,
                       const char *stdout_path, const char *stderr_path, const char *record_path, pid_t *pid);

#endif
