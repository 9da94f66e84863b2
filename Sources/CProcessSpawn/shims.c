#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>
#include "CProcessSpawn.h"

int gpuctl_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int gpuctl_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int gpuctl_spawn_add_chdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

short gpuctl_spawn_flag_setsid(void) { return POSIX_SPAWN_SETSID; }
