#ifndef JUNCTION_CSPAWN_H
#define JUNCTION_CSPAWN_H

#include <spawn.h>

/* posix_spawn_file_actions_addchdir_np, which Glibc's Swift module does not export. */
int junction_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#endif
