#ifndef GPUCTL_C_PROCESS_SPAWN_H
#define GPUCTL_C_PROCESS_SPAWN_H
#include <spawn.h>

/* glibc calls that Swift's Glibc module does not declare (they need _GNU_SOURCE). */

/* pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, with no window for a
   concurrent spawn to inherit them. */
int gpuctl_pipe_cloexec(int fds[2]);
/* posix_spawn_file_actions_addclosefrom_np: close every descriptor >= from in the child. */
int gpuctl_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);
/* posix_spawn_file_actions_addchdir_np. */
int gpuctl_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path);
/* POSIX_SPAWN_SETSID: the child leads a new session. */
short gpuctl_spawn_flag_setsid(void);

#endif
