/* ferry's HTTP endpoint: libmicrohttpd on its own thread.
 * common/ferry_http.c */
#include "ferry_http.h"
#include "ferry_log.h"

#include "ferry_time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct ferry_http {
    struct MHD_Daemon *d; /* owned */
    ferry_metrics_t *m;   /* borrowed */
    int wedge_ms;         /* /healthz's limit */
};

/* Parses listen into *sa; false when it is not ADDR:PORT. */
static bool
parse_listen(const char *listen, struct sockaddr_storage *sa, socklen_t *len)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port;
    size_t hl;

    memset(sa, 0, sizeof(*sa));
    if (colon == NULL)
        return false;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
        return false;
    hl = (size_t)(colon - listen);
    if (hl >= sizeof(host))
        return false;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

        host[hl - 1] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*s6);
        return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof(*s4);
    if (hl == 0) {
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        return true;
    }
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

int
ferry_http_check_listen(const char *listen, const char *what, ferry_err_t *err)
{
    struct sockaddr_storage sa;
    socklen_t len;

    if (parse_listen(listen, &sa, &len))
        return 0;
    return ferry_err_set(err, FERRY_ECONFIG,
                         "invalid %s \"%s\": expected ADDR:PORT (such as "
                         "127.0.0.1:9187, [::1]:9187 or :9187)",
                         what, listen);
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *type,
      char *body /* taken */)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ok;

    if (r == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_size,
       void **state)
{
    ferry_http_t *h = cls;
    char reason[256];
    char *body;

    (void)version, (void)upload, (void)upload_size, (void)state;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return (body = strdup("only GET\n")) != NULL
                   ? reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", body)
                   : MHD_NO;
    if (strcmp(url, "/metrics") == 0) {
        if ((body = ferry_metrics_text(h->m)) == NULL)
            return MHD_NO;
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                     body);
    }
    if (strcmp(url, "/healthz") == 0) {
        long long idle =
            (long long)(ferry_mono_ms() - ferry_metrics_last_beat(h->m));
        bool ok = idle <= h->wedge_ms;
        int n;

        if (ok)
            n = asprintf(&body, "ok: the main loop turned %lld ms ago\n", idle);
        else
            n = asprintf(&body,
                         "wedged: the main loop has not turned for %lld ms "
                         "(more than %d)\n",
                         idle, h->wedge_ms);
        if (n < 0)
            return MHD_NO;
        return reply(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                     "text/plain", body);
    }
    if (strcmp(url, "/readyz") == 0) {
        bool ready = ferry_metrics_ready(h->m, reason, sizeof(reason));
        int n = ready ? asprintf(&body, "ready\n")
                      : asprintf(&body, "not ready: %s\n", reason);

        if (n < 0)
            return MHD_NO;
        return reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                     "text/plain", body);
    }
    if ((body = strdup("not found: try /metrics, /healthz or /readyz\n")) ==
        NULL)
        return MHD_NO;
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", body);
}

ferry_http_t *
ferry_http_start(const char *listen, ferry_metrics_t *m, int wedge_ms,
                 ferry_err_t *err)
{
    struct sockaddr_storage sa;
    socklen_t len;
    ferry_http_t *h;

    if (ferry_http_check_listen(listen, "--metrics-listen", err) != 0 ||
        !parse_listen(listen, &sa, &len))
        return NULL;
    /* The first snapshot is there before the first scrape. */
    if (ferry_metrics_publish(m) != 0) {
        ferry_err_set(err, FERRY_ENOMEM, "out of memory rendering the metrics");
        return NULL;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        ferry_err_set(err, FERRY_ENOMEM,
                      "out of memory starting the metrics endpoint");
        return NULL;
    }
    h->m = m;
    h->wedge_ms = wedge_ms;
    errno = 0;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                (sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                            0, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)10, MHD_OPTION_END);
    if (h->d == NULL) {
        ferry_err_set(err, FERRY_ECONFIG, "could not serve metrics on %s: %s",
                      listen,
                      errno != 0 ? strerror(errno) : "libmicrohttpd refused");
        free(h);
        return NULL;
    }
    ferry_info("serving /metrics, /healthz and /readyz on %s (port %d)", listen,
               ferry_http_port(h));
    return h;
}

int
ferry_http_port(const ferry_http_t *h)
{
    const union MHD_DaemonInfo *i =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

    return i != NULL ? (int)i->port : -1;
}

void
ferry_http_stop(ferry_http_t *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
