/*
 * ringq-load - drive ringqd as a source over one TCP connection with a
 * window of pipelined requests, and print what it measured.
 *
 *   ringq-load -p PORT [-n CONTACTS] [-w WINDOW] [-q QUEUE] [-t TOKEN] [-s SOURCE]
 *
 * Each contact is two events: contact.new, then contact.abandon (the caller
 * hangs up while waiting), so every event changes state that ringqd
 * persists. The window keeps WINDOW requests in flight, as a PBX adapter
 * does under load. Prints one line: events, seconds, events/s, and how many
 * replies were errors (by code).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static int
connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0)
        die("socket");
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("write");
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Read one line (blocking) into buf; used for the hello reply. */
static void
read_line(int fd, char *buf, size_t len)
{
    size_t o = 0;

    while (o + 1 < len) {
        ssize_t n = read(fd, buf + o, 1);
        if (n <= 0)
            die("read");
        if (buf[o] == '\n')
            break;
        o++;
    }
    buf[o] = '\0';
}

int
main(int argc, char **argv)
{
    int port = 7340, opt, fd;
    long contacts = 100000, window = 256;
    const char *queue = "sales", *token = "demo", *source = "pbx1";
    char line[512], *rbuf;
    long sent = 0, replies = 0, errors = 0, total;
    size_t rlen = 0, rcap = 1 << 20;
    double t0, t1;
    unsigned run = (unsigned)time(NULL) ^ (unsigned)getpid();

    while ((opt = getopt(argc, argv, "p:n:w:q:t:s:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'n':
            contacts = atol(optarg);
            break;
        case 'w':
            window = atol(optarg);
            break;
        case 'q':
            queue = optarg;
            break;
        case 't':
            token = optarg;
            break;
        case 's':
            source = optarg;
            break;
        default:
            fprintf(stderr, "usage: ringq-load -p PORT [-n CONTACTS] [-w WINDOW] [-q QUEUE]\n");
            return 2;
        }
    }
    fd = connect_to(port);
    snprintf(line, sizeof(line),
             "{\"op\":\"hello\",\"role\":\"source\",\"name\":\"%s\",\"token\":\"%s\"}\n", source,
             token);
    write_all(fd, line, strlen(line));
    read_line(fd, line, sizeof(line));
    if (strstr(line, "\"ok\":true") == NULL) {
        fprintf(stderr, "ringq-load: hello refused: %s\n", line);
        return 1;
    }
    if ((rbuf = malloc(rcap)) == NULL)
        die("malloc");
    total = contacts * 2;
    t0 = now_s();
    while (replies < total) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        char out[64 * 1024];
        size_t olen = 0;
        /* fill the window */
        while (sent < total && sent - replies < window && olen + 512 < sizeof(out)) {
            long c = sent / 2;
            int n;
            if (sent % 2 == 0)
                n = snprintf(out + olen, sizeof(out) - olen,
                             "{\"op\":\"contact.new\",\"id\":%ld,\"contact\":\"L%u-%ld\",\"queue\":"
                             "\"%s\",\"channel\":\"voice\",\"customer\":{\"id\":\"cust%ld\","
                             "\"tier\":\"standard\",\"lang\":\"en\"},\"priority\":0}\n",
                             sent, run, c, queue, c % 100000);
            else
                n = snprintf(out + olen, sizeof(out) - olen,
                             "{\"op\":\"contact.abandon\",\"id\":%ld,\"contact\":\"L%u-%ld\"}\n",
                             sent, run, c);
            olen += (size_t)n;
            sent++;
        }
        if (olen > 0)
            write_all(fd, out, olen);
        if (poll(&pfd, 1, 10000) <= 0) {
            fprintf(stderr, "ringq-load: no reply for 10 s (%ld of %ld)\n", replies, total);
            return 1;
        }
        ssize_t n = read(fd, rbuf + rlen, rcap - rlen);
        if (n <= 0)
            die("read");
        rlen += (size_t)n;
        char *p = rbuf, *nl;
        while ((nl = memchr(p, '\n', rlen - (size_t)(p - rbuf))) != NULL) {
            if (memcmp(p, "{\"re\"", 5) == 0) {
                replies++;
                if (memmem(p, (size_t)(nl - p), "\"ok\":false", 10) != NULL) {
                    if (errors < 3)
                        fprintf(stderr, "ringq-load: %.*s\n", (int)(nl - p), p);
                    errors++;
                }
            }
            p = nl + 1;
        }
        rlen -= (size_t)(p - rbuf);
        memmove(rbuf, p, rlen);
    }
    t1 = now_s();
    printf("events %ld  seconds %.3f  events/s %.0f  errors %ld\n", total, t1 - t0,
           (double)total / (t1 - t0), errors);
    free(rbuf);
    close(fd);
    return errors ? 1 : 0;
}
