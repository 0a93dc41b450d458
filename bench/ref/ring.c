/*
 * ring.c: the C ceiling that `pvnet bench ring` prints beside pvnet's own ring.
 *
 * The same protocol as pvnet's TX ring (Xen io/ring.h and io/netif.h): a 64-byte shared header
 * {req_prod, req_event, rsp_prod, rsp_event}, NR 12-byte netif_tx_request slots that the 4-byte
 * responses overwrite, a producer-owned pool of 2048-byte buffers addressed as (gref, offset)
 * with two buffers per 4 KiB page, and event-index notify suppression. One pthread is the frontend
 * (producer), one the backend (consumer). Wake-ups are futexes, C's Atomics.wait/notify; spin never sleeps.
 *
 * Usage: ring-ref <notify|spin> <frameBytes> <batch> <warmupMs> <measureMs>
 * Prints one JSON line: {"mpps":..,"frames":..,"seconds":..,"seqErrors":..,"rspErrors":..}
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NR 1024u /* ring entries; a power of two so that slot = idx & (NR - 1) */
#define BUF_BYTES 2048u
#define PAGE_BYTES 4096u
#define TEMPLATE_BYTES 60u
#define SEQ_OFF 42u /* first UDP payload byte of the template: where the sequence number lives */
#define NETIF_RSP_ERROR (-1)
#define NETIF_RSP_OKAY 0

/* struct netif_tx_request (xen/include/public/io/netif.h). */
struct tx_req { uint32_t gref; uint16_t offset, flags, id, size; };
/* struct netif_tx_response: written over the request in the same slot. */
struct tx_rsp { uint16_t id; int16_t status; };
union slot { struct tx_req req; struct tx_rsp rsp; };

/* The sring of io/ring.h: indexes free-running u32, header padded to 64 bytes. req_prod and
 * rsp_event are written by the producer, rsp_prod and req_event by the consumer. */
struct sring {
  _Atomic uint32_t req_prod, req_event, rsp_prod, rsp_event;
  uint8_t pad[48];
  union slot ring[NR];
};
_Static_assert(sizeof(union slot) == 12, "netif_tx_request is 12 bytes");
_Static_assert(offsetof(struct sring, ring) == 64, "sring header is 64 bytes");

static struct sring *sr;
static uint8_t *pool; /* NR buffers of BUF_BYTES, owned by the producer */
static int spin_mode;
static uint32_t frame_bytes, batch;
/* Each on its own cache line so that the hot counters do not share one with the indexes. */
static _Alignas(64) _Atomic uint32_t producer_wake;
static _Alignas(64) _Atomic uint32_t consumer_wake;
static _Alignas(64) _Atomic uint64_t consumed;
static _Atomic int stop;
static uint64_t seq_errors, rsp_errors; /* each written by one thread, read after join */

static void cpu_relax(void) { /* eases the spin on the sibling thread and on the memory bus */
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

/* Bumping the word first makes a wake that races with the sleeper's FUTEX_WAIT fail its
 * value check (EAGAIN) instead of getting lost. */
static void wake(_Atomic uint32_t *word) {
  atomic_fetch_add(word, 1);
  syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* RING_PUSH_{REQUESTS,RESPONSES}_AND_CHECK_NOTIFY: publish, then wake the peer only if the
 * event index it armed lies in (old, new]. */
static void push(_Atomic uint32_t *prod, _Atomic uint32_t *event, uint32_t new_idx,
                 _Atomic uint32_t *peer_wake) {
  uint32_t old = atomic_load_explicit(prod, memory_order_relaxed);
  atomic_store_explicit(prod, new_idx, memory_order_release);
  if (spin_mode) return; /* a spinning peer polls the index; it never arms an event */
  atomic_thread_fence(memory_order_seq_cst); /* order the index store before the event load */
  uint32_t ev = atomic_load_explicit(event, memory_order_relaxed);
  if ((uint32_t)(new_idx - ev) < (uint32_t)(new_idx - old)) wake(peer_wake);
}

static void push_requests(uint32_t idx) { push(&sr->req_prod, &sr->req_event, idx, &consumer_wake); }
static void push_responses(uint32_t idx) { push(&sr->rsp_prod, &sr->rsp_event, idx, &producer_wake); }

/* RING_FINAL_CHECK_FOR_*: arm the event for the next index, fence, look again; a push that
 * raced with the arming is then either seen here or notifies us. Sleeps only if still idle. */
static void idle(_Atomic uint32_t *prod, _Atomic uint32_t *event, uint32_t cons, uint32_t ahead,
                 _Atomic uint32_t *my_wake) {
  if (spin_mode) { cpu_relax(); return; }
  uint32_t seen = atomic_load(my_wake); /* before the recheck, so a later wake changes it */
  atomic_store_explicit(event, cons + ahead, memory_order_relaxed);
  atomic_thread_fence(memory_order_seq_cst);
  if ((uint32_t)(atomic_load_explicit(prod, memory_order_acquire) - cons) >= ahead || atomic_load(&stop)) return;
  syscall(SYS_futex, (uint32_t *)my_wake, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

/* An Ethernet/IPv4/UDP-looking frame (02:..:01 -> 02:..:02, 10.0.0.1:1234 -> 10.0.0.2:5678),
 * then filler; the same template as the postMessage baseline. */
static void build_frame(uint8_t *f) {
  static const uint8_t tpl[TEMPLATE_BYTES] = {
      2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,               /* Ethernet */
      0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, /* IPv4 */
      0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 0,                            /* UDP */
  };
  for (uint32_t i = 0; i < BUF_BYTES; i++) f[i] = (uint8_t)i;
  memcpy(f, tpl, TEMPLATE_BYTES);
  uint32_t ip_len = frame_bytes - 14, udp_len = frame_bytes - 34;
  f[16] = (uint8_t)(ip_len >> 8), f[17] = (uint8_t)ip_len;
  f[38] = (uint8_t)(udp_len >> 8), f[39] = (uint8_t)udp_len;
}

static void *producer(void *arg) {
  (void)arg;
  uint8_t frame[BUF_BYTES];
  build_frame(frame);
  uint32_t req_prod_pvt = 0, rsp_cons = 0, unpushed = 0, seq = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    while (NR - (req_prod_pvt - rsp_cons) >= 1) {
      uint32_t id = req_prod_pvt & (NR - 1);
      uint8_t *buf = pool + (size_t)BUF_BYTES * id;
      memcpy(buf, frame, frame_bytes);
      memcpy(buf + SEQ_OFF, &seq, 4); /* little-endian on every host this runs on */
      seq++;
      sr->ring[id].req = (struct tx_req){.gref = id / 2, .offset = (uint16_t)((id & 1) * BUF_BYTES),
                                         .flags = 0, .id = (uint16_t)id, .size = (uint16_t)frame_bytes};
      req_prod_pvt++;
      if (++unpushed == batch) { push_requests(req_prod_pvt); unpushed = 0; }
    }
    if (unpushed) { push_requests(req_prod_pvt); unpushed = 0; } /* never sit on a partial batch */
    uint32_t rsp_prod = atomic_load_explicit(&sr->rsp_prod, memory_order_acquire);
    if (rsp_prod == rsp_cons) {
      /* The ring is full here: like pvnet's guest, ask to be woken only once a quarter of it
       * (at least a batch) has been answered, so the two sides do not run in lockstep. */
      uint32_t lazy = NR / 4 > batch ? NR / 4 : batch;
      idle(&sr->rsp_prod, &sr->rsp_event, rsp_cons, lazy, &producer_wake);
      continue;
    }
    for (; rsp_cons != rsp_prod; rsp_cons++) {
      struct tx_rsp r = sr->ring[rsp_cons & (NR - 1)].rsp;
      if (r.id != (rsp_cons & (NR - 1)) || r.status != NETIF_RSP_OKAY) rsp_errors++;
    }
  }
  return NULL;
}

/* Validates one request the way a backend must (the peer is untrusted) and copies its frame out. */
static int16_t consume_one(const struct tx_req *r, uint8_t *priv, uint32_t *expect) {
  if (r->size > BUF_BYTES || r->size < SEQ_OFF + 4 || (uint32_t)r->offset + r->size > PAGE_BYTES ||
      r->gref >= NR / 2)
    return NETIF_RSP_ERROR;
  memcpy(priv, pool + (size_t)r->gref * PAGE_BYTES + r->offset, r->size);
  __asm__ volatile("" : : "r"(priv) : "memory"); /* keep the whole copy: only 4 bytes are read */
  uint32_t seq;
  memcpy(&seq, priv + SEQ_OFF, 4);
  if (seq != *expect) seq_errors++;
  *expect = seq + 1;
  return NETIF_RSP_OKAY;
}

static void *consumer(void *arg) {
  (void)arg;
  static uint8_t priv[BUF_BYTES];
  uint32_t req_cons = 0, rsp_prod_pvt = 0, unpushed = 0, expect = 0;
  uint64_t n = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    uint32_t req_prod = atomic_load_explicit(&sr->req_prod, memory_order_acquire);
    uint32_t avail = req_prod - req_cons, room = NR - (req_cons - rsp_prod_pvt);
    uint32_t todo = avail < room ? avail : room;
    if (todo == 0) {
      if (unpushed) { push_responses(rsp_prod_pvt); unpushed = 0; }
      idle(&sr->req_prod, &sr->req_event, req_cons, 1, &consumer_wake);
      continue;
    }
    for (; todo; todo--) {
      /* Read the slot once: a real peer could rewrite it between our check and our use. */
      struct tx_req r = *(volatile struct tx_req *)&sr->ring[req_cons & (NR - 1)].req;
      req_cons++;
      int16_t status = consume_one(&r, priv, &expect);
      sr->ring[rsp_prod_pvt & (NR - 1)].rsp = (struct tx_rsp){.id = r.id, .status = status};
      rsp_prod_pvt++;
      atomic_store_explicit(&consumed, ++n, memory_order_relaxed);
      if (++unpushed == batch) { push_responses(rsp_prod_pvt); unpushed = 0; }
    }
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned long ms) {
  struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) continue; /* resume after a signal */
}

static unsigned long arg_num(const char *s, unsigned long lo, unsigned long hi, const char *what) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "ring-ref: %s must be in %lu..%lu, got \"%s\"\n", what, lo, hi, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc != 6 || (strcmp(argv[1], "notify") != 0 && strcmp(argv[1], "spin") != 0)) {
    fprintf(stderr, "usage: ring-ref <notify|spin> <frameBytes> <batch> <warmupMs> <measureMs>\n");
    return 2;
  }
  spin_mode = strcmp(argv[1], "spin") == 0;
  frame_bytes = (uint32_t)arg_num(argv[2], SEQ_OFF + 4, BUF_BYTES, "frameBytes");
  batch = (uint32_t)arg_num(argv[3], 1, NR, "batch");
  unsigned long warmup_ms = arg_num(argv[4], 0, 3600000, "warmupMs");
  unsigned long measure_ms = arg_num(argv[5], 1, 3600000, "measureMs");
  sr = aligned_alloc(64, sizeof *sr);
  pool = aligned_alloc(PAGE_BYTES, (size_t)NR * BUF_BYTES);
  if (!sr || !pool) return perror("ring-ref"), 1;
  memset(sr, 0, sizeof *sr);
  memset(pool, 0, (size_t)NR * BUF_BYTES); /* fault the pages in before the clock starts */
  atomic_store(&sr->req_event, 1);
  atomic_store(&sr->rsp_event, 1);
  pthread_t p, c;
  if (pthread_create(&c, NULL, consumer, NULL) || pthread_create(&p, NULL, producer, NULL))
    return fputs("ring-ref: cannot create threads\n", stderr), 1;
  sleep_ms(warmup_ms);
  uint64_t c0 = atomic_load(&consumed);
  double t0 = now_s();
  sleep_ms(measure_ms);
  uint64_t c1 = atomic_load(&consumed);
  double t1 = now_s();
  atomic_store(&stop, 1);
  wake(&producer_wake);
  wake(&consumer_wake);
  pthread_join(p, NULL);
  pthread_join(c, NULL);
  uint64_t frames = c1 - c0;
  double seconds = t1 - t0;
  printf("{\"mpps\":%.4f,\"frames\":%llu,\"seconds\":%.6f,\"seqErrors\":%llu,\"rspErrors\":%llu}\n",
         (double)frames / seconds / 1e6, (unsigned long long)frames, seconds,
         (unsigned long long)seq_errors, (unsigned long long)rsp_errors);
  return 0; /* the OS reclaims sr and pool */
}
