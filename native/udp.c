/*
 * Batched UDP for pvnet's VXLAN uplink: recvmmsg(2) and sendmmsg(2) on a non-blocking
 * IPv4 socket, and a libuv poll handle that says when the socket is readable or writable.
 * Node's dgram module reads and sends one datagram per call, with a Buffer, an address
 * object and a JavaScript callback each; a NIC driver moves a batch per call. Everything
 * else (what a datagram means, which slot it goes to, counters) stays in TypeScript: this
 * file only moves bytes between the socket and memory the caller owns, bounds-checked.
 *
 *   open(ip, port, bufBytes)            -> fd (throws an Error with .code)
 *   localPort(fd)                       -> the bound port
 *   recv(fd, u8, base, slotBytes, n, meta)
 *       -> datagrams read (0: none waiting; -errno on error). Datagram i is at
 *          u8[base + i*slotBytes], meta[3i] its length (-1: longer than a slot, cut),
 *          meta[3i+1] the sender's IPv4 address (host order, as an int32), meta[3i+2] its port.
 *   send(fd, u8, off, size, ip, port, from, n)
 *       -> datagrams sent from entry `from` (0 when the socket's buffer is full: EAGAIN;
 *          -errno when entry `from` itself failed for another reason, so the caller can
 *          count it and go on). Entry i is u8[off[i], off[i]+size[i]) to ip[i]:port[i].
 *   watch(fd, cb) -> handle; want(handle, readable, writable); unwatch(handle)
 *       cb(readable, writable) runs on the thread's event loop (level-triggered). If the
 *       thread's environment ends while watched, the socket is closed with the watch.
 *   close(fd)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define MAX_BATCH 256

#define CHECK(call)                                     \
  do {                                                  \
    if ((call) != napi_ok) return throw_msg(env, "EINVAL", "pvnet udp: bad arguments"); \
  } while (0)

static napi_value throw_msg(napi_env env, const char* code, const char* msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static napi_value num(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static int get_i32(napi_env env, napi_value v, int32_t* out) {
  return napi_get_value_int32(env, v, out) == napi_ok;
}

/* A typed array's data, its byte length, and its element type. */
static int get_array(napi_env env, napi_value v, void** data, size_t* bytes, napi_typedarray_type* type) {
  size_t n;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, type, &n, data, &ab, &off) != napi_ok) return 0;
  size_t el = 1;
  switch (*type) {
    case napi_int16_array: case napi_uint16_array: el = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: el = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: el = 8; break;
    default: el = 1;
  }
  *bytes = n * el;
  return 1;
}

/* A typed array's bytes and byte length. */
static int get_bytes(napi_env env, napi_value v, uint8_t** data, size_t* len) {
  napi_typedarray_type t;
  return get_array(env, v, (void**)data, len, &t);
}

/* An Int32Array's or Uint32Array's words and their count. */
static int get_i32s(napi_env env, napi_value v, int32_t** data, size_t* count) {
  napi_typedarray_type t;
  size_t bytes;
  if (!get_array(env, v, (void**)data, &bytes, &t)) return 0;
  if (t != napi_int32_array && t != napi_uint32_array) return 0;
  *count = bytes / 4;
  return 1;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ip[64];
  size_t iplen;
  int32_t port, buf;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], ip, sizeof ip, &iplen) != napi_ok ||
      !get_i32(env, argv[1], &port) || !get_i32(env, argv[2], &buf) || port < 0 || port > 65535)
    return throw_msg(env, "EINVAL", "pvnet udp: open(ip, port, bufBytes)");
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) return throw_msg(env, "EINVAL", "pvnet udp: not an IPv4 address");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_msg(env, "EMFILE", "pvnet udp: socket() failed");
  if (buf > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  }
  if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0) {
    int e = errno;
    close(fd);
    const char* code = e == EADDRINUSE ? "EADDRINUSE" : e == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : e == EACCES ? "EACCES" : "EINVAL";
    return throw_msg(env, code, strerror(e));
  }
  return num(env, fd);
}

static napi_value LocalPort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_i32(env, argv[0], &fd)) return throw_msg(env, "EINVAL", "pvnet udp: localPort(fd)");
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  if (getsockname(fd, (struct sockaddr*)&a, &l) != 0) return num(env, -errno);
  return num(env, ntohs(a.sin_port));
}

static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !get_i32(env, argv[0], &fd) || fd < 0) return throw_msg(env, "EINVAL", "pvnet udp: close(fd)");
  close(fd);
  return NULL;
}

static napi_value Recv(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, base, slot, n;
  uint8_t* mem;
  size_t memLen;
  int32_t* meta;
  size_t metaN;
  if (argc < 6 || !get_i32(env, argv[0], &fd) || !get_bytes(env, argv[1], &mem, &memLen) ||
      !get_i32(env, argv[2], &base) || !get_i32(env, argv[3], &slot) || !get_i32(env, argv[4], &n) ||
      !get_i32s(env, argv[5], &meta, &metaN))
    return throw_msg(env, "EINVAL", "pvnet udp: recv(fd, u8, base, slotBytes, n, meta)");
  if (n > MAX_BATCH) n = MAX_BATCH;
  if (base < 0 || slot <= 0 || n <= 0 || (size_t)n * 3 > metaN ||
      (uint64_t)base + (uint64_t)slot * (uint64_t)n > memLen)
    return throw_msg(env, "ERANGE", "pvnet udp: recv: slots outside the memory");
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct sockaddr_in from[MAX_BATCH];
  memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
  for (int i = 0; i < n; i++) {
    iov[i].iov_base = mem + base + (size_t)i * slot;
    iov[i].iov_len = (size_t)slot;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int r = recvmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT, NULL);
  if (r < 0) return num(env, errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno);
  for (int i = 0; i < r; i++) {
    int cut = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    meta[3 * i] = cut ? -1 : (int32_t)msgs[i].msg_len;
    meta[3 * i + 1] = (int32_t)ntohl(from[i].sin_addr.s_addr);
    meta[3 * i + 2] = ntohs(from[i].sin_port);
  }
  return num(env, r);
}

static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, from, n;
  uint8_t* mem;
  size_t memLen;
  int32_t *off, *size, *ip, *port;
  size_t nOff, nSize, nIp, nPort;
  if (argc < 8 || !get_i32(env, argv[0], &fd) || !get_bytes(env, argv[1], &mem, &memLen) ||
      !get_i32s(env, argv[2], &off, &nOff) || !get_i32s(env, argv[3], &size, &nSize) ||
      !get_i32s(env, argv[4], &ip, &nIp) || !get_i32s(env, argv[5], &port, &nPort) ||
      !get_i32(env, argv[6], &from) || !get_i32(env, argv[7], &n))
    return throw_msg(env, "EINVAL", "pvnet udp: send(fd, u8, off, size, ip, port, from, n)");
  if (from < 0 || n < 0 || (size_t)from + (size_t)n > nOff || (size_t)from + (size_t)n > nSize ||
      (size_t)from + (size_t)n > nIp || (size_t)from + (size_t)n > nPort)
    return throw_msg(env, "ERANGE", "pvnet udp: send: entries outside the arrays");
  if (n > MAX_BATCH) n = MAX_BATCH;
  if (n == 0) return num(env, 0);
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct sockaddr_in to[MAX_BATCH];
  memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
  for (int i = 0; i < n; i++) {
    int32_t o = off[from + i], s = size[from + i], p = port[from + i];
    if (o < 0 || s < 0 || (uint64_t)o + (uint64_t)s > memLen || p < 0 || p > 65535)
      return throw_msg(env, "ERANGE", "pvnet udp: send: a datagram outside the memory");
    iov[i].iov_base = mem + o;
    iov[i].iov_len = (size_t)s;
    memset(&to[i], 0, sizeof to[i]);
    to[i].sin_family = AF_INET;
    to[i].sin_port = htons((uint16_t)p);
    to[i].sin_addr.s_addr = htonl((uint32_t)ip[from + i]);
    msgs[i].msg_hdr.msg_name = &to[i];
    msgs[i].msg_hdr.msg_namelen = sizeof to[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int r = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
  // ENOBUFS is the kernel out of memory, not a full buffer: the socket stays writable, so
  // waiting for room would spin; the datagram is refused like any other.
  if (r < 0) return num(env, errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno);
  return num(env, r);
}

/* --- readiness ----------------------------------------------------------------------- */

typedef struct {
  uv_poll_t poll;
  napi_env env;
  /* The socket watched: closed here if the thread's environment ends with it open. */
  int fd;
  /* The events last asked for (UV_READABLE | UV_WRITABLE), to ask again after an error. */
  int events;
  napi_ref cb;
  napi_ref resource;
  napi_async_context ctx;
  /* Stopped, references dropped, uv_close asked. */
  int closed;
  /* uv_close has called back: libuv is done with the handle. */
  int handle_closed;
  /* The JavaScript handle was collected: nobody can name this any more. */
  int external_gone;
} Watch;

/* Freed when both libuv and JavaScript are done with it, whichever is last. */
static void maybe_free(Watch* w) {
  if (w->handle_closed && w->external_gone) free(w);
}

static void on_closed(uv_handle_t* h) {
  Watch* w = (Watch*)h->data;
  w->handle_closed = 1;
  maybe_free(w);
}

static void release(Watch* w) {
  if (w->closed) return;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  napi_delete_reference(w->env, w->cb);
  napi_delete_reference(w->env, w->resource);
  napi_async_destroy(w->env, w->ctx);
  w->poll.data = w;
  uv_close((uv_handle_t*)&w->poll, on_closed);
}

/*
 * The thread's environment is ending (a worker terminated, Domain-0 gone without closing
 * its uplinks): the socket goes with it, as Node's own handles do, or its port would stay
 * bound for the life of the process.
 */
static void cleanup_hook(void* arg) {
  Watch* w = (Watch*)arg;
  release(w);
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
}

static void on_poll(uv_poll_t* h, int status, int events) {
  Watch* w = (Watch*)h->data;
  if (w == NULL || w->closed) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, resource, argv[2];
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_reference_value(env, w->resource, &resource);
  int err = status < 0;
  napi_get_boolean(env, err || (events & UV_READABLE) != 0, &argv[0]);
  napi_get_boolean(env, err || (events & UV_WRITABLE) != 0, &argv[1]);
  napi_value result;
  // make_callback: the callback runs as an event-loop callback does (microtasks after it).
  // The callback catches what it throws; what still gets here (the thread being
  // terminated) is cleared, or it would stay pending and fail every later call.
  if (napi_make_callback(env, w->ctx, resource, cb, 2, argv, &result) == napi_pending_exception) {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
  }
  napi_close_handle_scope(env, scope);
  // On an error libuv stops the handle before calling back: ask again for what was wanted
  // (the callback's read took the socket's error), or the socket would go deaf.
  if (status < 0 && !w->closed && w->events != 0) uv_poll_start(&w->poll, w->events, on_poll);
}

static void finalize_watch(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  Watch* w = (Watch*)data;
  if (!w->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, w);
    release(w);
  }
  w->external_gone = 1;
  maybe_free(w);
}

static napi_value WatchFd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  if (argc < 2 || !get_i32(env, argv[0], &fd) || napi_typeof(env, argv[1], &t) != napi_ok || t != napi_function)
    return throw_msg(env, "EINVAL", "pvnet udp: watch(fd, cb)");
  uv_loop_t* loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  Watch* w = (Watch*)calloc(1, sizeof(Watch));
  if (w == NULL) return throw_msg(env, "ENOMEM", "pvnet udp: out of memory");
  w->env = env;
  w->fd = fd;
  if (uv_poll_init(loop, &w->poll, fd) != 0) {
    free(w);
    return throw_msg(env, "EBADF", "pvnet udp: cannot poll that descriptor");
  }
  w->poll.data = w;
  napi_value resource, name, handle;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "pvnet:udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &w->ctx);
  napi_create_reference(env, argv[1], 1, &w->cb);
  napi_create_reference(env, resource, 1, &w->resource);
  napi_add_env_cleanup_hook(env, cleanup_hook, w);
  napi_create_external(env, w, finalize_watch, NULL, &handle);
  return handle;
}

static Watch* get_watch(napi_env env, napi_value v) {
  void* d;
  if (napi_get_value_external(env, v, &d) != napi_ok) return NULL;
  return (Watch*)d;
}

static napi_value Want(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Watch* w = argc < 3 ? NULL : get_watch(env, argv[0]);
  bool r, wr;
  if (w == NULL || napi_get_value_bool(env, argv[1], &r) != napi_ok || napi_get_value_bool(env, argv[2], &wr) != napi_ok)
    return throw_msg(env, "EINVAL", "pvnet udp: want(handle, readable, writable)");
  if (w->closed) return NULL;
  int ev = (r ? UV_READABLE : 0) | (wr ? UV_WRITABLE : 0);
  w->events = ev;
  if (ev == 0) uv_poll_stop(&w->poll);
  else uv_poll_start(&w->poll, ev, on_poll);
  return NULL;
}

static napi_value Unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Watch* w = argc < 1 ? NULL : get_watch(env, argv[0]);
  if (w == NULL) return throw_msg(env, "EINVAL", "pvnet udp: unwatch(handle)");
  if (!w->closed) {
    napi_remove_env_cleanup_hook(env, cleanup_hook, w);
    release(w);
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor p[] = {
      {"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localPort", NULL, LocalPort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recv", NULL, Recv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, Send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, WatchFd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"want", NULL, Want, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, Unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof p / sizeof p[0], p);
  return exports;
}
