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
//   spawnSync(path, argv[], envp[], cwd|null, setsid, input Buffer|null, timeoutMs (0: none), killSignal)
//        -> [code, signal, stdout Buffer, stderr Buffer, timedOut] or a negative errno (nothing started). Blocks
//        this thread, as child_process.spawnSync does, until the child has exited and closed stdout and stderr
//        (what it left running in the background with them open is waited for too, as there); `input` is written
//        to its stdin, which is then closed. After `timeoutMs` the child gets `killSignal`; once it has exited,
//        output is read no further.
//   ref(pid, on) -> bool: whether the watch of a child spawn() started (not yet reported) keeps Node's event loop
//        alive (on, the default) or not, as ChildProcess.ref/unref; false when no such child is watched.
//   ABI: a number naming this API: bump it with every change of the calls above, and spawn.ts's ADDON_ABI with it.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#define SPAWN_ABI 2

typedef struct child_s {
  uv_poll_t poll;
  int pidfd;
  pid_t pid;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  struct child_s *next;  // the children this addon instance watches (its instance data holds the head)
} child_t;

// The head of the list of watched children of an addon instance (one per Node environment).
typedef struct {
  child_t *head;
  napi_env env;
} watched_t;

static watched_t *watched(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return (watched_t *)data;
}

static void unlist(napi_env env, child_t *c) {
  watched_t *w = watched(env);
  if (!w) return;
  for (child_t **p = &w->head; *p; p = &(*p)->next) {
    if (*p == c) {
      *p = c->next;
      return;
    }
  }
}

static void on_closed(uv_handle_t *handle);

// The environment's teardown (the process's end, a worker's): the watches stop before it goes. Node closes its own
// handles then, this process's pipe ends among them, so a child reading its stdin (git cat-file) exits at that moment,
// and a watch still polling would call back into an environment being torn down (a crash: 11 exits in 40 with
// unref'ed children, before this). The children are left running, as Node leaves its own.
static void stop_watching(void *arg) {
  watched_t *w = arg;
  for (child_t *c = w->head, *next; c; c = next) {
    next = c->next;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_closed);
  }
  napi_set_instance_data(w->env, NULL, NULL, NULL);
  free(w);
}

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
  unlist(env, c);
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

// Starts `path` with stdin, stdout and stderr on new pipes (close-on-exec in this process): 0 with the child's pid
// and this process's ends (stdin's write end, stdout's and stderr's read ends) in fds, or an errno with nothing
// left open.
static int start_child(const char *path, char **argv, char **envp, const char *cwd, bool setsid_flag, pid_t *pid, int fds[3]) {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    int e = errno;
    for (int *fd = in; fd < in + 2; fd++) if (*fd >= 0) close(*fd);
    for (int *fd = out; fd < out + 2; fd++) if (*fd >= 0) close(*fd);
    for (int *fd = err; fd < err + 2; fd++) if (*fd >= 0) close(*fd);
    return e;
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
  int rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in[0]), close(out[1]), close(err[1]);
  if (rc != 0) {
    close(in[1]), close(out[0]), close(err[0]);
    return rc;
  }
  fds[0] = in[1], fds[1] = out[0], fds[2] = err[0];
  return 0;
}

// The command of a spawn call: its first five arguments (path, argv, envp, cwd|null, setsid) as C values.
typedef struct {
  char *path, *cwd, **argv, **envp;
  bool setsid;
} command_t;

static void free_command(command_t *c) {
  free(c->path), free(c->cwd), free_strings(c->argv), free_strings(c->envp);
  c->path = c->cwd = NULL, c->argv = c->envp = NULL;
}

// Reads args[0..4] into c: true, or false with an exception pending and nothing left allocated.
static bool read_command(napi_env env, napi_value *args, const char *who, command_t *c) {
  napi_valuetype cwd_type;
  *c = (command_t){0};
  if (napi_typeof(env, args[3], &cwd_type) != napi_ok || napi_get_value_bool(env, args[4], &c->setsid) != napi_ok ||
      !(c->path = string(env, args[0])) || !(c->argv = strings(env, args[1])) || !(c->envp = strings(env, args[2])) ||
      (cwd_type == napi_string && !(c->cwd = string(env, args[3])))) {
    free_command(c);
    char msg[64];
    snprintf(msg, sizeof msg, "%s: bad or unreadable arguments", who);
    napi_throw_error(env, NULL, msg);
    return false;
  }
  return true;
}

static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  command_t cmd;
  int fds[3];
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "spawn(path, argv, envp, cwd, setsid, onExit)");
    return NULL;
  }
  if (!read_command(env, args, "spawn", &cmd)) return NULL;
  pid_t pid = -1;
  int rc = start_child(cmd.path, cmd.argv, cmd.envp, cmd.cwd, cmd.setsid, &pid, fds);
  free_command(&cmd);
  if (rc != 0) return result_errno(env, rc);
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
    close(fds[0]), close(fds[1]), close(fds[2]);
    napi_throw_error(env, NULL, "spawn: cannot watch the child (pidfd_open or uv_poll_init failed)");
    return NULL;
  }
  napi_create_reference(env, args[5], 1, &c->callback);
  napi_create_string_utf8(env, "amphi.spawn", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &c->async);
  uv_poll_start(&c->poll, UV_READABLE, on_exit_ready);
  watched_t *w = watched(env);
  if (w) c->next = w->head, w->head = c;
  int values[4] = {pid, fds[0], fds[1], fds[2]};
  napi_create_array_with_length(env, 4, &ret);
  for (uint32_t i = 0; i < 4; i++) {
    napi_value v;
    napi_create_int32(env, values[i], &v);
    napi_set_element(env, ret, i, v);
  }
  return ret;
fail:
  return NULL;
}

// A growing byte buffer for what a child prints.
typedef struct {
  char *data;
  size_t len, cap;
} buf_t;

// Reads what is there from fd into b: 1 while the pipe stays open, 0 at its end (or on an error: treated as the end).
static int drain(int fd, buf_t *b) {
  for (;;) {
    if (b->cap - b->len < 65536) {
      size_t cap = b->cap ? b->cap * 2 : 65536;
      char *d = realloc(b->data, cap);
      if (!d) return 0;
      b->data = d, b->cap = cap;
    }
    ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
    if (n > 0) {
      b->len += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    return 0;
  }
}

static int64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static napi_value SpawnSync(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value args[8];
  command_t cmd;
  bool has_input = false;
  void *input = NULL;
  size_t input_len = 0, written = 0;
  int64_t timeout_ms = 0;
  int32_t kill_signal = SIGTERM;
  buf_t out = {0}, err = {0};
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 8) {
    napi_throw_type_error(env, NULL, "spawnSync(path, argv, envp, cwd, setsid, input, timeoutMs, killSignal)");
    return NULL;
  }
  CHECK(napi_is_buffer(env, args[5], &has_input));
  if (has_input) CHECK(napi_get_buffer_info(env, args[5], &input, &input_len));
  CHECK(napi_get_value_int64(env, args[6], &timeout_ms));
  CHECK(napi_get_value_int32(env, args[7], &kill_signal));
  if (!read_command(env, args, "spawnSync", &cmd)) return NULL;
  int fds[3];
  pid_t pid = -1;
  int rc = start_child(cmd.path, cmd.argv, cmd.envp, cmd.cwd, cmd.setsid, &pid, fds);
  free_command(&cmd);
  if (rc != 0) return result_errno(env, rc);
  for (int i = 0; i < 3; i++) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
  if (input_len == 0) close(fds[0]), fds[0] = -1;
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
  bool timed_out = false, reaped = false;
  int st = 0;
  // Until stdout and stderr have ended, or the child has exited after a timeout's kill.
  while ((fds[1] >= 0 || fds[2] >= 0) && !(timed_out && reaped)) {
    struct pollfd p[4];
    int n = 0, at_in = -1, at_out = -1, at_err = -1, at_pid = -1;
    if (fds[0] >= 0) at_in = n, p[n++] = (struct pollfd){.fd = fds[0], .events = POLLOUT};
    if (fds[1] >= 0) at_out = n, p[n++] = (struct pollfd){.fd = fds[1], .events = POLLIN};
    if (fds[2] >= 0) at_err = n, p[n++] = (struct pollfd){.fd = fds[2], .events = POLLIN};
    if (pidfd >= 0 && !reaped && timed_out) at_pid = n, p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
    int wait = -1;
    if (deadline && !timed_out) {
      int64_t left = deadline - now_ms();
      wait = left > 0 ? (int)left : 0;
    } else if (timed_out && pidfd < 0) {
      wait = 50;  // no pidfd: look for the killed child's exit now and then
    }
    int r = poll(p, (nfds_t)n, wait);
    if (r < 0 && errno != EINTR) break;
    if (deadline && !timed_out && now_ms() >= deadline) {
      timed_out = true;
      kill(pid, kill_signal);
    }
    if (r <= 0) {
      if (timed_out && !reaped && waitpid(pid, &st, WNOHANG) == pid) reaped = true;
      continue;
    }
    if (at_in >= 0 && p[at_in].revents) {
      // POLLERR or POLLHUP without POLLOUT: the child closed its stdin (EPIPE: node ignores SIGPIPE)
      bool done = !(p[at_in].revents & POLLOUT);
      if (!done) {
        ssize_t w = write(fds[0], (char *)input + written, input_len - written);
        if (w > 0) written += (size_t)w;
        done = (w < 0 && errno != EAGAIN && errno != EINTR) || written == input_len;
      }
      if (done) close(fds[0]), fds[0] = -1;
    }
    if (at_out >= 0 && p[at_out].revents && !drain(fds[1], &out)) close(fds[1]), fds[1] = -1;
    if (at_err >= 0 && p[at_err].revents && !drain(fds[2], &err)) close(fds[2]), fds[2] = -1;
    if (at_pid >= 0 && p[at_pid].revents && waitpid(pid, &st, WNOHANG) == pid) reaped = true;
  }
  // the child was killed and has exited: what it wrote before is kept (drain reads what is there, never waits)
  if (fds[1] >= 0) drain(fds[1], &out);
  if (fds[2] >= 0) drain(fds[2], &err);
  for (int i = 0; i < 3; i++) if (fds[i] >= 0) close(fds[i]);
  if (pidfd >= 0) close(pidfd);
  if (!reaped) {
    pid_t w;
    do w = waitpid(pid, &st, 0);
    while (w < 0 && errno == EINTR);
  }
  napi_value ret, v;
  CHECK(napi_create_array_with_length(env, 5, &ret));
  CHECK(napi_create_int32(env, WIFEXITED(st) ? WEXITSTATUS(st) : -1, &v));
  CHECK(napi_set_element(env, ret, 0, v));
  CHECK(napi_create_int32(env, WIFSIGNALED(st) ? WTERMSIG(st) : 0, &v));
  CHECK(napi_set_element(env, ret, 1, v));
  CHECK(napi_create_buffer_copy(env, out.len, out.data ? out.data : "", NULL, &v));
  CHECK(napi_set_element(env, ret, 2, v));
  CHECK(napi_create_buffer_copy(env, err.len, err.data ? err.data : "", NULL, &v));
  CHECK(napi_set_element(env, ret, 3, v));
  CHECK(napi_get_boolean(env, timed_out, &v));
  CHECK(napi_set_element(env, ret, 4, v));
  free(out.data), free(err.data);
  return ret;
fail:
  free(out.data), free(err.data);
  return NULL;
}

static napi_value Ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value args[2], ret;
  int32_t pid = 0;
  bool on = true, found = false;
  CHECK(napi_get_cb_info(env, info, &argc, args, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "ref(pid, on)");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, args[0], &pid));
  CHECK(napi_get_value_bool(env, args[1], &on));
  watched_t *w = watched(env);
  for (child_t *c = w ? w->head : NULL; c; c = c->next) {
    if (c->pid != pid) continue;
    if (on) uv_ref((uv_handle_t *)&c->poll);
    else uv_unref((uv_handle_t *)&c->poll);
    found = true;
    break;
  }
  CHECK(napi_get_boolean(env, found, &ret));
  return ret;
fail:
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn, abi;
  napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, Spawn, NULL, &fn);
  napi_set_named_property(env, exports, "spawn", fn);
  napi_create_function(env, "spawnSync", NAPI_AUTO_LENGTH, SpawnSync, NULL, &fn);
  napi_set_named_property(env, exports, "spawnSync", fn);
  napi_create_function(env, "ref", NAPI_AUTO_LENGTH, Ref, NULL, &fn);
  napi_set_named_property(env, exports, "ref", fn);
  // the list lives until the environment's cleanup hook (stop_watching), which frees it
  watched_t *w = calloc(1, sizeof *w);
  if (w) w->env = env;
  if (w && (napi_set_instance_data(env, w, NULL, NULL) != napi_ok || napi_add_env_cleanup_hook(env, stop_watching, w) != napi_ok)) {
    napi_set_instance_data(env, NULL, NULL, NULL);
    free(w);
  }
  napi_create_int32(env, SPAWN_ABI, &abi);
  napi_set_named_property(env, exports, "ABI", abi);
  return exports;
}
