/* The emulated board on a UDP socket: bind, then answer datagrams one at a
 * time (src/host/board.c does the answering), dropping some on purpose
 * when asked to (spd_board_opts_t.loss). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host/scp.h"
#include "spindle/board.h"

int spd_board_bind(spd_ctx_t *ctx, const char *host, uint16_t port, int *fd, uint16_t *bound) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  const char *h = host ? host : "127.0.0.1";
  if (inet_pton(AF_INET, h, &a.sin_addr) != 1)
    return spd_ctx_fail(ctx, SPD_EINVAL, "'%s' is not an IPv4 address to listen on", h);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0)
    return spd_ctx_fail(ctx, SPD_EIO, "no UDP socket: %s", strerror(errno));
  if (bind(s, (struct sockaddr *)&a, sizeof a)) {
    int e = errno;
    close(s);
    return spd_ctx_fail(ctx, SPD_EIO, "cannot listen on %s:%u: %s", h, port, strerror(e));
  }
  socklen_t n = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &n);
  *fd = s;
  *bound = ntohs(a.sin_port);
  return 0;
}

int spd_board_serve(spd_board_t *b, int fd, int (*stop)(void *ud), void *ud) {
  uint8_t in[SPD_SCP_MAX_PACKET + 128], out[SPD_BOARD_MAX_REPLY];
  while (!(stop && stop(ud))) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready = poll(&p, 1, 100);
    if (ready < 0 && errno != EINTR)
      return SPD_EIO;
    if (ready <= 0)
      continue;
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t n = recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &flen);
    if (n < 0 || spd__board_lose(b))
      continue;
    size_t len;
    spd_board_handle(b, in, (size_t)n, out, &len);
    if (len && !spd__board_lose(b))
      sendto(fd, out, len, 0, (struct sockaddr *)&from, flen);
  }
  return 0;
}
