// spawn: starts a child process with posix_spawn (Linux, glibc: clone(CLONE_VM | CLONE_VFORK), so the parent's
// page tables are never copied) with its stdin, stdout and stderr on new pipes, and reports its exit through
// libuv (a pidfd polled for readability, then waitpid of that pid only).
//
// Why: Node's child_process forks (libuv 1.46 has no vfork path on Linux). A fork copies the parent's page tables
// and write-protects every page it has written; afterwards each page the parent writes again (a scavenge of the
// nursery, a compaction) takes a fault. Measured on this project's machine (a PVM guest, ~14 µs a fault): from a
// process with 300 MB written between spawns, child_process.spawn cost the parent ~160 ms of CPU per child,
// this addon ~1.7 ms (bench/spawn). amphi's long-lived processes (`amphi serve`) and test processes start
// kubectl and git hundreds of times with heaps of that size.
//
// The child gets what libuv gives a child: every signal at its default action, an empty signal mask, the
// working directory asked for, only the three pipe ends (every other fd of Node's is close-on-exec), and with
// `setsid` a session of its own. The executable is a path: the caller searches PATH (the child's, as libuv does).
//
// JS API (src/adapters/process/spawn.ts is the only caller):
//   spawn(path, argv[], envp[] ("K=V"), cwd|null, setsid, onExit(code, signal)) -> [pid, stdinFd, stdoutFd,
//        stderrFd] or a negative errno (pipe2 or posix_spawn failed: ENOENT, EACCES, ...; nothing is left open).
//        onExit runs once, with the exit code (-1 when killed) and the signal number (0 when it exited).
//   ABI: a number naming this API: bump it with every change of the call above, and spawn.ts's ADDON_ABI with it.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define SPAWN_ABI 1

typedef struct {
  uv_poll_t poll;
  int pidfd;
  pid_t pid;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
} child_t;

#define CHECK(call)                                     \
  do {                                                  \
    if ((call) != napi_ok) {                            \
      napi_throw_error(env, NULL, "spawn: " #call);     \
      goto fail;                                        \
    }                                                   \
  } while (0)

static void free_strings(char **list) {
  if (!list) return;
  for (char **p = list; *p; p++) free(*p);
  free(list);
}

// A JS array of strings as a NULL-terminated C array (NULL on a napi failure, with an exception pending).
static char **strings(napi_env env, napi_value array) {
  uint32_t n = 0;
  if (napi_get_array_length(env, array, &n) != napi_ok) return NULL;
  char **out = calloc(n + 1, sizeof(char *));
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len;
    if (napi_get_element(env, array, i, &v) != napi_ok || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok ||
        !(out[i] = malloc(len + 1)) || napi_get_value_string_utf8(env, v, out[i], len + 1, &len) != napi_ok) {
      free_strings(out);
      return NULL;
    }
  }
  return out;
}

// A JS string as a malloc'ed C string (NULL on failure).
static char *string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

static void on_closed(uv_handle_t *handle) {
  child_t *c = (child_t *)handle;
  close(c->pidfd);
  free(c);
}

// The pidfd is readable once the child has exited: reap it (this pid only: libuv's own children are libuv's),
// tell JS, and let the handle go.
static void on_exit_ready(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  child_t *c = (child_t *)handle;
  int st = 0;
  pid_t r;
  do r = waitpid(c->pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return;  // not yet (a spurious wake-up)
  uv_poll_stop(handle);
  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value fn, global, argv[2], result;
    int code = r > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    int sig = r > 0 && WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    if (napi_get_reference_value(env, c->callback, &fn) == napi_ok && napi_get_global(env, &global) == napi_ok &&
        napi_create_int32(env, code, &argv[0]) == napi_ok && napi_create_int32(env, sig, &argv[1]) == napi_ok) {
      // napi_make_callback: as for any I/O callback, process.nextTick and promise jobs run after it
      napi_make_callback(env, c->async, global, fn, 2, argv, &result);
    }
    napi_close_handle_scope(env, scope);
  }
  napi_delete_reference(env, c->callback);
  napi_async_destroy(env, c->async);
  uv_close((uv_handle_t *)handle, on_closed);
}

static napi_value result_errno(napi_env env, int err) {
  napi_value v;
  napi_create_int32(env, -err, &v);
  return v;
}

static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  char *path = NULL, *cwd = NULL, **argv = NULL, **envp = NULL;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  bool setsid_flag = false;
  napi_valuetype cwd_type;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "spawn(path, argv, envp, cwd, setsid, onExit)");
    return NULL;
  }
  CHECK(napi_typeof(env, args[3], &cwd_type));
  CHECK(napi_get_value_bool(env, args[4], &setsid_flag));
  if (!(path = string(env, args[0])) || !(argv = strings(env, args[1])) || !(envp = strings(env, args[2])) ||
      (cwd_type == napi_string && !(cwd = string(env, args[3])))) {
    napi_throw_error(env, NULL, "spawn: bad or unreadable arguments");
    goto fail;
  }
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    int e = errno;
    napi_value r = result_errno(env, e);
    for (int *fd = in; fd < in + 2; fd++) if (*fd >= 0) close(*fd);
    for (int *fd = out; fd < out + 2; fd++) if (*fd >= 0) close(*fd);
    for (int *fd = err; fd < err + 2; fd++) if (*fd >= 0) close(*fd);
    free(path), free(cwd), free_strings(argv), free_strings(envp);
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  if (cwd) posix_spawn_file_actions_addchdir_np(&actions, cwd);
  posix_spawnattr_init(&attr);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (setsid_flag ? POSIX_SPAWN_SETSID : 0));
  pid_t pid = -1;
  int rc = posix_spawn(&pid, path, &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  free(path), free(cwd), free_strings(argv), free_strings(envp);
  path = cwd = NULL, argv = envp = NULL;
  close(in[0]), close(out[1]), close(err[1]);
  if (rc != 0) {
    close(in[1]), close(out[0]), close(err[0]);
    return result_errno(env, rc);
  }
  child_t *c = calloc(1, sizeof *c);
  uv_loop_t *loop;
  napi_value name, ret;
  c->pid = pid;
  c->env = env;
  c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (c->pidfd < 0 || napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &c->poll, c->pidfd) != 0) {
    // cannot watch it: no child may run unwatched (it would never be reaped or reported)
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (c->pidfd >= 0) close(c->pidfd);
    free(c);
    close(in[1]), close(out[0]), close(err[0]);
    napi_throw_error(env, NULL, "spawn: cannot watch the child (pidfd_open or uv_poll_init failed)");
    return NULL;
  }
  napi_create_reference(env, args[5], 1, &c->callback);
  napi_create_string_utf8(env, "amphi.spawn", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &c->async);
  uv_poll_start(&c->poll, UV_READABLE, on_exit_ready);
  int values[4] = {pid, in[1], out[0], err[0]};
  napi_create_array_with_length(env, 4, &ret);
  for (uint32_t i = 0; i < 4; i++) {
    napi_value v;
    napi_create_int32(env, values[i], &v);
    napi_set_element(env, ret, i, v);
  }
  return ret;
fail:
  free(path), free(cwd), free_strings(argv), free_strings(envp);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn, abi;
  napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, Spawn, NULL, &fn);
  napi_set_named_property(env, exports, "spawn", fn);
  napi_create_int32(env, SPAWN_ABI, &abi);
  napi_set_named_property(env, exports, "ABI", abi);
  return exports;
}
