/* ferry's HTTP endpoint for operators: /metrics, /healthz, /readyz, served
 * by libmicrohttpd on a thread of its own.
 * common/ferry_http.h
 *
 *   /metrics  the Prometheus text exposition format (the last snapshot of
 *             ferry_metrics_publish(): never computed on the request)
 *   /healthz  200 while the main loop turns (ferry_metrics_beat(), or
 *             start-up, within wedge_ms), 503 "wedged: ..." otherwise
 *   /readyz   200 once the program is connected and past its start-up or
 *             snapshot, 503 with the reason otherwise
 *
 * The server thread reads only what ferry_metrics.h lets any thread read,
 * so a slow or stuck scraper cannot hold the replication or apply loop.
 */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include "ferry_err.h"
#include "ferry_metrics.h"

typedef struct ferry_http ferry_http_t;

/* Listens on listen (borrowed: "ADDR:PORT", "[IPv6]:PORT" or ":PORT" for
 * every address) and serves m (borrowed, must outlive the server);
 * wedge_ms is how long the main loop may not beat before /healthz says it
 * is wedged.  Publishes m's first snapshot and logs where it serves.
 * Returns a new server (stop with ferry_http_stop()) or NULL
 * with err set (FERRY_ECONFIG for an address that does not parse or
 * cannot be bound). */
ferry_http_t *ferry_http_start(const char *listen, ferry_metrics_t *m,
                               int wedge_ms, ferry_err_t *err) FERRY_WUR;

/* The port the server listens on (the one chosen when listen said 0). */
int ferry_http_port(const ferry_http_t *h);

/* Stops the server and frees it; NULL is a no-op. */
void ferry_http_stop(ferry_http_t *h);

/* Checks that listen parses as ferry_http_start() wants.  Returns 0 or
 * FERRY_ECONFIG with err set (the program's option name in what). */
int ferry_http_check_listen(const char *listen, const char *what,
                            ferry_err_t *err) FERRY_WUR;

#endif
