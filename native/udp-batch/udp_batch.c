// udp-batch: batched UDP I/O for mesh-dns (Linux). It owns nothing but the socket's read loop: libuv tells it
// the socket is readable (uv_poll), recvmmsg reads up to BATCH datagrams into buffers shared with JavaScript
// (bytes, lengths and raw source addresses: no per-datagram JS object), one call into JS answers the whole
// batch into a shared out buffer, and one sendmmsg sends every answer to its source.
//
// Why the addon opens and binds the socket itself (instead of taking node:dgram's fd): dgram's own libuv
// handle keeps reading the fd it owns, and turning that off needs its private handle; one owner per fd is
// simpler and cannot race. Addresses are parsed by libuv (uv_ip4_addr/uv_ip6_addr, as dgram does, scope IDs
// included) and errors go back as negative errno values, which the JS side turns into Node's error shape.
//
// JS API (udp-batch.ts is the only caller):
//   open(address, family 4|6, port, bufferBytes) -> [fd, port] or a negative errno (bind/socket failed)
//   attach(fd, rx ArrayBuffer, rxLen Int32Array, addrs ArrayBuffer, txMeta Int32Array, tx ArrayBuffer,
//          onBatch(n) -> k) -> handle. The fd is now the handle's (closed by close()).
//   sendTo(handle, Uint8Array, addr Uint8Array) -> 0 or a negative errno   (one datagram, e.g. a relayed answer)
//   close(handle)                                                         (idempotent; safe inside onBatch)
//   ABI, BATCH, SLOT: numbers. ABI names this API: bump it with every change of the calls above, and
//   udp-batch.ts's ADDON_ABI with it, so that a stale copy (a host's, from an earlier amphi) is refused.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

#ifndef UDP_BATCH_ABI
#define UDP_BATCH_ABI 1   // see ABI above (tests build a copy with another number)
#endif
#define BATCH 64          // datagrams per recvmmsg / sendmmsg
#define SLOT 65536        // bytes per received datagram: any UDP payload fits, nothing is ever cut
#define ADDR 32           // bytes per source address slot (a sockaddr_in6 is 28)
#define ROUNDS 8          // full batches per readiness callback, so TCP and timers are not starved

typedef struct {
  uv_poll_t poll;
  int fd;
  int closing;
  int in_batch;            // inside the call into JS: close() leaves the release to run_batch
  int owners;              // the JS handle and the libuv handle: freed when both are gone
  int waiting_writable;    // sendmmsg hit EAGAIN: reading stops until the rest of the batch is out
  int tx_next, tx_count;   // the answers of the current batch still to send
  napi_env env;
  napi_async_context async;
  napi_ref callback, rx_ref, rxlen_ref, addrs_ref, txmeta_ref, tx_ref;
  uint8_t *rx, *addrs, *tx;
  int32_t *rxlen, *txmeta;
  size_t tx_size;
  struct mmsghdr rmsg[BATCH], smsg[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
} batch_t;

#define CHECK(call)                                          \
  do {                                                       \
    if ((call) != napi_ok) {                                 \
      napi_throw_error(env, NULL, "udp-batch: " #call);      \
      return NULL;                                           \
    }                                                        \
  } while (0)

static napi_value num(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

static socklen_t addr_len(const uint8_t* a) {
  return ((const struct sockaddr*)a)->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

// ---- open ------------------------------------------------------------------------------------------------

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  char ip[INET6_ADDRSTRLEN + 64];
  int32_t family, port, bytes;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  CHECK(napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, NULL));
  CHECK(napi_get_value_int32(env, argv[1], &family));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_int32(env, argv[3], &bytes));
  struct sockaddr_storage sa;
  memset(&sa, 0, sizeof sa);
  int r = family == 6 ? uv_ip6_addr(ip, port, (struct sockaddr_in6*)&sa) : uv_ip4_addr(ip, port, (struct sockaddr_in*)&sa);
  if (r != 0) return num(env, r);
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  socklen_t len = family == 6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (struct sockaddr*)&sa, len) != 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0 || getsockname(fd, (struct sockaddr*)&sa, &len) != 0) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  napi_value out;
  CHECK(napi_create_array_with_length(env, 2, &out));
  CHECK(napi_set_element(env, out, 0, num(env, fd)));
  CHECK(napi_set_element(env, out, 1, num(env, ntohs(((struct sockaddr_in*)&sa)->sin_port))));
  return out;
}

// ---- the loop --------------------------------------------------------------------------------------------

static void on_poll(uv_poll_t* poll, int status, int events);
static void release(batch_t* b);
static void on_handle_gone(napi_env env, void* data, void* hint);

static void watch(batch_t* b, int events) {
  uv_poll_start(&b->poll, events, on_poll);
}

// Sends answers [tx_next, tx_count). Returns 0 when all are out (or given up), 1 when the socket is full.
static int flush(batch_t* b) {
  while (b->tx_next < b->tx_count) {
    int n = sendmmsg(b->fd, b->smsg + b->tx_next, b->tx_count - b->tx_next, MSG_DONTWAIT);
    if (n > 0) b->tx_next += n;
    else if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
    else if (errno != EINTR) b->tx_next++;  // this one answer cannot go (as with dgram: UDP, the client retries)
  }
  return 0;
}

// One call into JS for `n` received datagrams; then the answers it wrote go out in one sendmmsg.
static void run_batch(batch_t* b, int n) {
  napi_env env = b->env;
  napi_handle_scope scope;
  napi_value fn, arg, result;
  int32_t k = 0;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_get_reference_value(env, b->callback, &fn);
  napi_create_int32(env, n, &arg);
  b->in_batch = 1;
  napi_status st = napi_make_callback(env, b->async, fn, fn, 1, &arg, &result);  // `this` must be an object
  b->in_batch = 0;
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  } else if (st == napi_ok) {
    napi_get_value_int32(env, result, &k);
  }
  napi_close_handle_scope(env, scope);
  if (b->closing) release(b);
  if (b->closing || k <= 0) return;
  if (k > BATCH) k = BATCH;
  int m = 0;
  for (int i = 0; i < k; i++) {
    int32_t src = b->txmeta[3 * i], off = b->txmeta[3 * i + 1], len = b->txmeta[3 * i + 2];
    if (src < 0 || src >= n || off < 0 || len <= 0 || (size_t)off + (size_t)len > b->tx_size) continue;
    uint8_t* a = b->addrs + (size_t)src * ADDR;
    b->siov[m].iov_base = b->tx + off;
    b->siov[m].iov_len = (size_t)len;
    memset(&b->smsg[m], 0, sizeof b->smsg[m]);
    b->smsg[m].msg_hdr.msg_name = a;
    b->smsg[m].msg_hdr.msg_namelen = addr_len(a);
    b->smsg[m].msg_hdr.msg_iov = &b->siov[m];
    b->smsg[m].msg_hdr.msg_iovlen = 1;
    m++;
  }
  b->tx_next = 0;
  b->tx_count = m;
}

static void read_batches(batch_t* b) {
  for (int round = 0; round < ROUNDS && !b->closing; round++) {
    for (int i = 0; i < BATCH; i++) {
      b->riov[i].iov_base = b->rx + (size_t)i * SLOT;
      b->riov[i].iov_len = SLOT;
      b->rmsg[i].msg_hdr.msg_name = b->addrs + (size_t)i * ADDR;
      b->rmsg[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
      b->rmsg[i].msg_hdr.msg_iov = &b->riov[i];
      b->rmsg[i].msg_hdr.msg_iovlen = 1;
      b->rmsg[i].msg_hdr.msg_control = NULL;
      b->rmsg[i].msg_hdr.msg_controllen = 0;
      b->rmsg[i].msg_hdr.msg_flags = 0;
    }
    int n = recvmmsg(b->fd, b->rmsg, BATCH, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: drained; anything else (e.g. a queued ICMP error): wait for the next readiness
    }
    for (int i = 0; i < n; i++) b->rxlen[i] = (int32_t)b->rmsg[i].msg_len;
    run_batch(b, n);
    if (b->closing) return;
    if (flush(b)) {
      b->waiting_writable = 1;
      watch(b, UV_WRITABLE);
      return;
    }
    // A short batch means the queue was empty a moment ago: let the loop run (epoll says when more came).
    if (n < BATCH) return;
  }
}

static void on_poll(uv_poll_t* poll, int status, int events) {
  batch_t* b = (batch_t*)poll->data;
  (void)status;
  (void)events;
  if (b->closing) return;
  if (b->waiting_writable) {
    if (flush(b)) return;
    b->waiting_writable = 0;
    watch(b, UV_READABLE);
  }
  read_batches(b);
}

// ---- attach / sendTo / close -----------------------------------------------------------------------------

static int buffer_arg(napi_env env, napi_value v, void** data, size_t* size, napi_ref* ref) {
  bool is_ab = false, is_ta = false;
  napi_is_arraybuffer(env, v, &is_ab);
  if (is_ab) {
    if (napi_get_arraybuffer_info(env, v, data, size) != napi_ok) return 0;
  } else {
    napi_is_typedarray(env, v, &is_ta);
    if (!is_ta) return 0;
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return 0;
    size_t unit = type == napi_int32_array ? 4 : 1;
    *size = length * unit;
  }
  return napi_create_reference(env, v, 1, ref) == napi_ok;
}

// A failed attach gives back all it took: the references made so far, the async context, the fd (the handle
// owns it once attach succeeds; before that nobody else closes it) and the state.
static napi_value attach_failed(napi_env env, batch_t* b, int async_made, const char* why) {
  napi_ref refs[] = {b->callback, b->rx_ref, b->rxlen_ref, b->addrs_ref, b->txmeta_ref, b->tx_ref};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
    if (refs[i] != NULL) napi_delete_reference(env, refs[i]);
  if (async_made) napi_async_destroy(env, b->async);
  if (b->fd >= 0) close(b->fd);
  free(b);
  napi_throw_error(env, NULL, why);
  return NULL;
}

static napi_value js_attach(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) {
    napi_throw_type_error(env, NULL, "udp-batch: attach(fd, rx, rxLen, addrs, txMeta, tx, onBatch)");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  batch_t* b = calloc(1, sizeof *b);
  if (b == NULL) {
    close(fd);
    napi_throw_error(env, NULL, "udp-batch: out of memory");
    return NULL;
  }
  b->fd = fd;
  size_t rx_size = 0, rxlen_size = 0, addrs_size = 0, txmeta_size = 0;
  if (!buffer_arg(env, argv[1], (void**)&b->rx, &rx_size, &b->rx_ref) || !buffer_arg(env, argv[2], (void**)&b->rxlen, &rxlen_size, &b->rxlen_ref) ||
      !buffer_arg(env, argv[3], (void**)&b->addrs, &addrs_size, &b->addrs_ref) || !buffer_arg(env, argv[4], (void**)&b->txmeta, &txmeta_size, &b->txmeta_ref) ||
      !buffer_arg(env, argv[5], (void**)&b->tx, &b->tx_size, &b->tx_ref) || rx_size < (size_t)BATCH * SLOT || rxlen_size < BATCH * 4 ||
      addrs_size < BATCH * ADDR || txmeta_size < BATCH * 12)
    return attach_failed(env, b, 0, "udp-batch: attach: buffers too small for a batch");
  uv_loop_t* loop;
  napi_value name;
  if (napi_create_reference(env, argv[6], 1, &b->callback) != napi_ok || napi_create_string_utf8(env, "amphi:udp-batch", NAPI_AUTO_LENGTH, &name) != napi_ok)
    return attach_failed(env, b, 0, "udp-batch: attach: no callback");
  if (napi_async_init(env, NULL, name, &b->async) != napi_ok) return attach_failed(env, b, 0, "udp-batch: attach: napi_async_init failed");
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &b->poll, b->fd) != 0)
    return attach_failed(env, b, 1, "udp-batch: uv_poll_init failed");
  b->env = env;
  b->poll.data = b;
  b->owners = 2;
  watch(b, UV_READABLE);
  napi_value handle;
  CHECK(napi_create_external(env, b, on_handle_gone, NULL, &handle));
  return handle;
}

static batch_t* handle_arg(napi_env env, napi_value v) {
  void* p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) napi_throw_type_error(env, NULL, "udp-batch: not a handle");
  return (batch_t*)p;
}

static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  batch_t* b = handle_arg(env, argv[0]);
  if (b == NULL) return NULL;
  if (b->closing) return num(env, -EBADF);
  void *data, *addr;
  size_t len, alen;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  CHECK(napi_get_typedarray_info(env, argv[1], &t, &len, &data, &ab, &off));
  CHECK(napi_get_typedarray_info(env, argv[2], &t, &alen, &addr, &ab, &off));
  if (alen < sizeof(struct sockaddr_in)) return num(env, -EINVAL);
  for (;;) {
    if (sendto(b->fd, data, len, MSG_DONTWAIT, (struct sockaddr*)addr, addr_len(addr)) >= 0) return num(env, 0);
    if (errno != EINTR) return num(env, -errno);
  }
}

static void drop_owner(batch_t* b) {
  if (--b->owners == 0) free(b);
}

static void on_closed(uv_handle_t* h) {
  batch_t* b = (batch_t*)h->data;
  close(b->fd);
  drop_owner(b);
}

static void on_handle_gone(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  drop_owner((batch_t*)data);
}

// Drops what keeps JS objects alive (callback, buffers) and the async context: from close(), or from
// run_batch once the call into JS that closed the handle has returned.
static void release(batch_t* b) {
  napi_ref refs[] = {b->callback, b->rx_ref, b->rxlen_ref, b->addrs_ref, b->txmeta_ref, b->tx_ref};
  if (b->callback == NULL) return;
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) napi_delete_reference(b->env, refs[i]);
  napi_async_destroy(b->env, b->async);
  b->callback = NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  batch_t* b = handle_arg(env, argv[0]);
  if (b == NULL || b->closing) return NULL;
  b->closing = 1;
  if (!b->in_batch) release(b);
  uv_poll_stop(&b->poll);
  // The memory goes after libuv is done with the handle (and after a batch that called close() returns).
  uv_close((uv_handle_t*)&b->poll, on_closed);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"attach", NULL, js_attach, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value abi, batch, slot;
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_create_int32(env, UDP_BATCH_ABI, &abi);
  napi_set_named_property(env, exports, "ABI", abi);
  napi_create_int32(env, BATCH, &batch);
  napi_create_int32(env, SLOT, &slot);
  napi_set_named_property(env, exports, "BATCH", batch);
  napi_set_named_property(env, exports, "SLOT", slot);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
