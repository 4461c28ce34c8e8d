/* The no-auto-create proxy: Metadata requests and responses rewritten in
 * place, everything else relayed frame by frame.
 * deploy/devbroker/devbroker_proxy.c */
#include "devbroker_proxy.h"

#include "ferry_be.h"
#include "ferry_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BROKERS 32
#define METADATA_KEY 3
/* Stop reading a side while this much waits to be written to the other. */
#define MAX_PENDING (8u << 20)

/* Bytes read and not yet relayed, or relayed and not yet written. */
typedef struct pbuf {
    unsigned char *d; /* owned */
    size_t len;       /* bytes held */
    size_t off;       /* bytes already written (output buffers) */
    size_t cap;       /* bytes allocated */
} pbuf_t;

/* A Metadata request waiting for its response. */
typedef struct pending {
    int32_t corr;    /* its correlation id */
    int16_t version; /* its version */
} pending_t;

/* One client connection and its upstream. */
typedef struct conn {
    int cfd, ufd;       /* client and upstream sockets, -1 when closed */
    int broker;         /* index of the listener it came in on */
    pbuf_t from_client; /* read from the client, not yet parsed */
    pbuf_t to_upstream; /* to write to the upstream */
    pbuf_t from_up;     /* read from the upstream, not yet parsed */
    pbuf_t to_client;   /* to write to the client */
    pending_t *meta;    /* owned: Metadata requests in flight */
    size_t nmeta, capmeta;
} conn_t;

struct devbroker_proxy {
    int n;                             /* brokers */
    int up_port[MAX_BROKERS];          /* the mock brokers' ports */
    int my_port[MAX_BROKERS];          /* the proxy's */
    int lfd[MAX_BROKERS];              /* listening sockets */
    char bootstraps[MAX_BROKERS * 24]; /* "127.0.0.1:port,..." */
    conn_t *conns;                     /* owned: nconns connections */
    size_t nconns, capconns;
    pthread_t thread; /* the serving thread */
    atomic_bool stop; /* asks the thread to end */
};

bool
devbroker_proxy_fix_request(unsigned char *frame, size_t len, int32_t *corr,
                            int16_t *version)
{
    int16_t key, ver;

    if (len < 8)
        return false;
    key = (int16_t)ferry_be16_get(frame);
    ver = (int16_t)ferry_be16_get(frame + 2);
    if (key != METADATA_KEY || ver < 4 || ver > 7)
        return false;
    /* Versions 4 to 7 end with AllowAutoTopicCreation (v8 adds two more
     * booleans, v9 is flexible: the mock is pinned to v4). */
    frame[len - 1] = 0;
    *corr = (int32_t)ferry_be32_get(frame + 4);
    *version = ver;
    return true;
}

/* Skips a nullable int16-length string at *at; false past end. */
static bool
skip_str(size_t *at, size_t len, const unsigned char *f)
{
    int16_t n;

    if (*at + 2 > len)
        return false;
    n = (int16_t)ferry_be16_get(f + *at);
    *at += 2 + (n > 0 ? (size_t)n : 0);
    return *at <= len;
}

bool
devbroker_proxy_fix_metadata_response(unsigned char *frame, size_t len,
                                      int16_t version, const int *from,
                                      const int *to, size_t n)
{
    size_t at = 4; /* after the correlation id */
    uint32_t brokers;
    size_t ports[MAX_BROKERS * 4];
    size_t nports = 0;

    if (version < 1 || version > 8)
        return false;
    if (version >= 3)
        at += 4; /* throttle_time_ms */
    if (at + 4 > len)
        return false;
    brokers = ferry_be32_get(frame + at);
    at += 4;
    if (brokers > MAX_BROKERS * 4)
        return false;
    for (uint32_t b = 0; b < brokers; b++) {
        at += 4; /* node_id */
        if (at > len || !skip_str(&at, len, frame) || at + 4 > len)
            return false;
        ports[nports++] = at;
        at += 4;
        if (!skip_str(&at, len, frame)) /* rack (v1+) */
            return false;
    }
    /* Parsed: now rewrite. */
    for (size_t i = 0; i < nports; i++) {
        uint32_t port = ferry_be32_get(frame + ports[i]);

        for (size_t k = 0; k < n; k++)
            if ((int)port == from[k])
                ferry_be32_put(frame + ports[i], (uint32_t)to[k]);
    }
    return true;
}

static bool
pbuf_add(pbuf_t *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        unsigned char *nd;

        while (cap < b->len + n)
            cap *= 2;
        if ((nd = realloc(b->d, cap)) == NULL)
            return false;
        b->d = nd;
        b->cap = cap;
    }
    memcpy(b->d + b->len, d, n);
    b->len += n;
    return true;
}

/* Drops the first n bytes. */
static void
pbuf_consume(pbuf_t *b, size_t n)
{
    memmove(b->d, b->d + n, b->len - n);
    b->len -= n;
}

static void
pbuf_free(pbuf_t *b)
{
    free(b->d);
    memset(b, 0, sizeof(*b));
}

static void
conn_close(conn_t *c)
{
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->ufd >= 0)
        close(c->ufd);
    c->cfd = c->ufd = -1;
    pbuf_free(&c->from_client);
    pbuf_free(&c->to_upstream);
    pbuf_free(&c->from_up);
    pbuf_free(&c->to_client);
    free(c->meta);
    c->meta = NULL;
    c->nmeta = c->capmeta = 0;
}

/* Moves every complete request frame from the client to the upstream. */
static bool
relay_requests(conn_t *c)
{
    pbuf_t *in = &c->from_client;

    while (in->len >= 4) {
        size_t size = ferry_be32_get(in->d);
        int32_t corr;
        int16_t ver;

        if (in->len < 4 + size)
            break;
        if (devbroker_proxy_fix_request(in->d + 4, size, &corr, &ver)) {
            if (c->nmeta == c->capmeta) {
                size_t cap = c->capmeta ? c->capmeta * 2 : 8;
                pending_t *v = realloc(c->meta, cap * sizeof(*v));

                if (v == NULL)
                    return false;
                c->meta = v;
                c->capmeta = cap;
            }
            c->meta[c->nmeta++] = (pending_t){corr, ver};
        }
        if (!pbuf_add(&c->to_upstream, in->d, 4 + size))
            return false;
        pbuf_consume(in, 4 + size);
    }
    return true;
}

/* Moves every complete response frame from the upstream to the client. */
static bool
relay_responses(devbroker_proxy_t *p, conn_t *c)
{
    pbuf_t *in = &c->from_up;

    while (in->len >= 8) {
        size_t size = ferry_be32_get(in->d);
        int32_t corr;

        if (in->len < 4 + size)
            break;
        corr = (int32_t)ferry_be32_get(in->d + 4);
        for (size_t i = 0; i < c->nmeta; i++) {
            if (c->meta[i].corr != corr)
                continue;
            if (!devbroker_proxy_fix_metadata_response(
                    in->d + 4, size, c->meta[i].version, p->up_port, p->my_port,
                    (size_t)p->n))
                ferry_warn("proxy: could not parse a Metadata response");
            c->meta[i] = c->meta[--c->nmeta];
            break;
        }
        if (!pbuf_add(&c->to_client, in->d, 4 + size))
            return false;
        pbuf_consume(in, 4 + size);
    }
    return true;
}

/* Reads what fd has into b; false at end of stream or on an error. */
static bool
read_into(int fd, pbuf_t *b)
{
    unsigned char tmp[65536];
    ssize_t n = read(fd, tmp, sizeof(tmp));

    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    return n > 0 && pbuf_add(b, tmp, (size_t)n);
}

/* Writes what b holds to fd; false on an error. */
static bool
write_from(int fd, pbuf_t *b)
{
    while (b->off < b->len) {
        ssize_t n = write(fd, b->d + b->off, b->len - b->off);

        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        b->off += (size_t)n;
    }
    b->len = b->off = 0;
    return true;
}

static int
listen_local(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;

    if (fd < 0)
        return -1;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* Accepts a client on listener i and connects it to its mock broker. */
static void
accept_client(devbroker_proxy_t *p, int i)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int cfd = accept(p->lfd[i], NULL, NULL), ufd, on = 1;
    conn_t *c;

    if (cfd < 0)
        return;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)p->up_port[i]);
    ufd = socket(AF_INET, SOCK_STREAM, 0);
    /* A broker taken down refuses: the client sees its connection close,
     * as it would with the broker itself. */
    if (ufd < 0 || connect(ufd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        if (ufd >= 0)
            close(ufd);
        close(cfd);
        return;
    }
    if (p->nconns == p->capconns) {
        size_t cap = p->capconns ? p->capconns * 2 : 16;
        conn_t *v = realloc(p->conns, cap * sizeof(*v));

        if (v == NULL) {
            close(ufd);
            close(cfd);
            return;
        }
        p->conns = v;
        p->capconns = cap;
    }
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    fcntl(cfd, F_SETFL, O_NONBLOCK);
    fcntl(ufd, F_SETFL, O_NONBLOCK);
    c = &p->conns[p->nconns++];
    memset(c, 0, sizeof(*c));
    c->cfd = cfd;
    c->ufd = ufd;
    c->broker = i;
}

/* Handles the events of connection c (its two pollfds); false when it is
 * over. */
static bool
serve_conn(devbroker_proxy_t *p, conn_t *c, short cev, short uev)
{
    if ((cev & (POLLIN | POLLHUP | POLLERR)) &&
        (!read_into(c->cfd, &c->from_client) || !relay_requests(c)))
        return false;
    if ((uev & (POLLIN | POLLHUP | POLLERR)) &&
        (!read_into(c->ufd, &c->from_up) || !relay_responses(p, c)))
        return false;
    return write_from(c->ufd, &c->to_upstream) &&
           write_from(c->cfd, &c->to_client);
}

static void
serve_once(devbroker_proxy_t *p, int timeout_ms)
{
    size_t nfds = (size_t)p->n + 2 * p->nconns;
    struct pollfd *fds = calloc(nfds + 1, sizeof(*fds));
    size_t k = 0;

    if (fds == NULL) {
        usleep(10000);
        return;
    }
    for (int i = 0; i < p->n; i++)
        fds[k++] = (struct pollfd){p->lfd[i], POLLIN, 0};
    for (size_t i = 0; i < p->nconns; i++) {
        conn_t *c = &p->conns[i];

        fds[k++] = (struct pollfd){
            c->cfd,
            (short)((c->to_upstream.len < MAX_PENDING ? POLLIN : 0) |
                    (c->to_client.len > c->to_client.off ? POLLOUT : 0)),
            0};
        fds[k++] = (struct pollfd){
            c->ufd,
            (short)((c->to_client.len < MAX_PENDING ? POLLIN : 0) |
                    (c->to_upstream.len > c->to_upstream.off ? POLLOUT : 0)),
            0};
    }
    if (poll(fds, nfds, timeout_ms) > 0) {
        size_t polled = p->nconns, w = 0;

        for (size_t i = 0; i < polled; i++) {
            conn_t *c = &p->conns[i];
            size_t at = (size_t)p->n + 2 * i;

            if (!serve_conn(p, c, fds[at].revents, fds[at + 1].revents)) {
                (void)write_from(c->cfd, &c->to_client);
                conn_close(c);
            }
        }
        for (size_t i = 0; i < p->nconns; i++)
            if (p->conns[i].cfd >= 0)
                p->conns[w++] = p->conns[i];
        p->nconns = w;
        for (int i = 0; i < p->n; i++)
            if (fds[i].revents & POLLIN)
                accept_client(p, i);
    }
    free(fds);
}

static void *
serve(void *arg)
{
    devbroker_proxy_t *p = arg;

    while (!atomic_load(&p->stop))
        serve_once(p, 200);
    return NULL;
}

/* The ports of "host:port,host:port" into up. */
static int
parse_ports(const char *s, int *up, char *errbuf, size_t errlen)
{
    int n = 0;

    while (s != NULL && *s != '\0') {
        const char *comma = strchr(s, ',');
        const char *colon =
            memchr(s, ':', comma ? (size_t)(comma - s) : strlen(s));

        if (colon == NULL || n == MAX_BROKERS) {
            snprintf(errbuf, errlen, "cannot read the brokers \"%s\"", s);
            return -1;
        }
        up[n++] = atoi(colon + 1);
        s = comma ? comma + 1 : NULL;
    }
    return n;
}

devbroker_proxy_t *
devbroker_proxy_start(const char *bootstraps, char *errbuf, size_t errlen)
{
    devbroker_proxy_t *p = calloc(1, sizeof(*p));
    size_t len = 0;

    if (p == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    for (int i = 0; i < MAX_BROKERS; i++)
        p->lfd[i] = -1;
    if ((p->n = parse_ports(bootstraps, p->up_port, errbuf, errlen)) <= 0)
        goto fail;
    for (int i = 0; i < p->n; i++) {
        if ((p->lfd[i] = listen_local(&p->my_port[i])) < 0) {
            snprintf(errbuf, errlen, "could not listen: %s", strerror(errno));
            goto fail;
        }
        len +=
            (size_t)snprintf(p->bootstraps + len, sizeof(p->bootstraps) - len,
                             "%s127.0.0.1:%d", i ? "," : "", p->my_port[i]);
    }
    if (pthread_create(&p->thread, NULL, serve, p) != 0) {
        snprintf(errbuf, errlen, "could not start the proxy thread");
        goto fail;
    }
    return p;

fail:
    for (int i = 0; i < MAX_BROKERS; i++)
        if (p->lfd[i] >= 0)
            close(p->lfd[i]);
    free(p);
    return NULL;
}

const char *
devbroker_proxy_bootstraps(const devbroker_proxy_t *p)
{
    return p->bootstraps;
}

void
devbroker_proxy_stop(devbroker_proxy_t *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    for (size_t i = 0; i < p->nconns; i++)
        conn_close(&p->conns[i]);
    free(p->conns);
    for (int i = 0; i < p->n; i++)
        close(p->lfd[i]);
    free(p);
}
