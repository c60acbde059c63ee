// A minimal closed-loop HTTP/1.1 scraper for bench/exporter.bench.ts: N
// keep-alive connections on one thread (epoll), each sending GET /metrics,
// reading the header up to its blank line and counting body bytes up to
// Content-Length, then sending the next. No parsing beyond that and nothing
// kept, so the load costs the machine little more than the kernel's copy
// of each response: what is measured is the exporter.
//   scrape-load PORT CONNECTIONS SECONDS GZIP(0|1)
// prints one latency per line (ms, request sent to last byte), then
// "bytes N" (the last response's body size) and "cpu_ms N" (its own CPU time).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  double sent;
  long left;      // body bytes still to come; -1 while in the header
  char head[8192];
  size_t head_len;
};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static char request[1024];
static size_t request_len;

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void send_request(struct conn* c) {
  c->left = -1;
  c->head_len = 0;
  c->sent = now_ms();
  if (write(c->fd, request, request_len) != (ssize_t)request_len) die("write");
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: scrape-load PORT CONNECTIONS SECONDS GZIP\n");
    return 2;
  }
  const int port = atoi(argv[1]), n = atoi(argv[2]);
  const double seconds = atof(argv[3]);
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/openmetrics-text;version=1.0.0,"
                                 "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n%s\r\n",
                                 port, atoi(argv[4]) ? "Accept-Encoding: gzip\r\n" : "");
  int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  struct conn* conns = calloc((size_t)n, sizeof *conns);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < n; i++) {
    conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    if (conns[i].fd < 0) die("socket");
    int one = 1;
    setsockopt(conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(conns[i].fd, (struct sockaddr*)&addr, sizeof addr) != 0) die("connect");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0) die("epoll_ctl");
  }
  size_t cap = 1 << 16, count = 0;
  double* lat = malloc(cap * sizeof *lat);
  long last_bytes = 0;
  static char buf[1 << 18];
  const double until = now_ms() + seconds * 1e3;
  for (int i = 0; i < n; i++) send_request(&conns[i]);
  int open = n;
  struct epoll_event events[64];
  while (open > 0) {
    int k = epoll_wait(ep, events, 64, 10000);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) die("epoll_wait (no answer for 10 s)");
    for (int e = 0; e < k; e++) {
      struct conn* c = events[e].data.ptr;
      ssize_t got = read(c->fd, buf, sizeof buf);
      if (got <= 0) die("read (connection closed)");
      char* body = buf;
      if (c->left < 0) {
        size_t take = (size_t)got < sizeof c->head - c->head_len ? (size_t)got : sizeof c->head - c->head_len - 1;
        memcpy(c->head + c->head_len, buf, take);
        c->head_len += take;
        c->head[c->head_len] = 0;
        char* end = strstr(c->head, "\r\n\r\n");
        if (!end) continue;
        if (strncmp(c->head, "HTTP/1.1 200", 12) != 0) {
          fprintf(stderr, "scrape-load: %.*s\n", (int)(strchr(c->head, '\r') - c->head), c->head);
          return 1;
        }
        char* cl = strcasestr(c->head, "\r\ncontent-length:");
        if (!cl) {
          fprintf(stderr, "scrape-load: no Content-Length\n");
          return 1;
        }
        c->left = atol(cl + 17);
        last_bytes = c->left;
        size_t header = (size_t)(end + 4 - c->head);
        size_t before = c->head_len - take;  // header bytes from earlier reads
        body = buf + (header - before);
        got -= (ssize_t)(header - before);
      }
      c->left -= got;
      (void)body;
      if (c->left == 0) {
        double t = now_ms();
        if (count == cap) lat = realloc(lat, (cap *= 2) * sizeof *lat);
        lat[count++] = t - c->sent;
        if (t < until) {
          send_request(c);
        } else {
          close(c->fd);
          open--;
        }
      } else if (c->left < 0) {
        fprintf(stderr, "scrape-load: more bytes than Content-Length\n");
        return 1;
      }
    }
  }
  for (size_t i = 0; i < count; i++) printf("%.3f\n", lat[i]);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("bytes %ld\ncpu_ms %.1f\n", last_bytes,
         (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
  return 0;
}
