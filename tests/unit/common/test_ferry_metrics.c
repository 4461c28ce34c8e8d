/* Unit tests of the metrics registry and the HTTP endpoint: the text
 * format (types, labels escaped, histogram buckets cumulative), a dropped
 * series gone, and /metrics, /healthz and /readyz answering on a real
 * socket as the main loop's state says.
 * tests/unit/common/test_ferry_metrics.c */
#include "ferry_http.h"
#include "ferry_metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static void
text_format_has_types_labels_and_buckets(void **state)
{
    ferry_metrics_t *m = ferry_metrics_new("9.9.9");
    const char *lab[2] = {"table", "op"};
    const double b[2] = {0.1, 1};
    ferry_metric_t *c, *g, *h;
    char *t;

    (void)state;
    assert_non_null(m);
    c = ferry_metrics_family(m, FERRY_METRIC_COUNTER, "ferry_x_total",
                             "Things.", 2, lab, NULL, 0);
    g = ferry_metrics_family(m, FERRY_METRIC_GAUGE, "ferry_lag_bytes", "Lag.",
                             0, NULL, NULL, 0);
    h = ferry_metrics_family(m, FERRY_METRIC_HISTOGRAM, "ferry_apply_seconds",
                             "Time.", 0, NULL, b, 2);
    ferry_metric_add(c, (const char *[]){"public.\"a\"\\b", "c"}, 2);
    ferry_metric_add(c, (const char *[]){"public.\"a\"\\b", "c"}, 3);
    ferry_metric_set(g, NULL, 1234567);
    ferry_metric_observe(h, NULL, 0.05);
    ferry_metric_observe(h, NULL, 0.5);
    ferry_metric_observe(h, NULL, 7);
    assert_true(
        ferry_metric_value(c, (const char *[]){"public.\"a\"\\b", "c"}) == 5);
    assert_int_equal(ferry_metrics_publish(m), 0);
    t = ferry_metrics_text(m);
    assert_non_null(strstr(t, "# TYPE ferry_x_total counter\n"));
    assert_non_null(strstr(
        t, "ferry_x_total{table=\"public.\\\"a\\\"\\\\b\",op=\"c\"} 5\n"));
    assert_non_null(strstr(t, "ferry_lag_bytes 1234567\n"));
    assert_non_null(strstr(t, "ferry_apply_seconds_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(t, "ferry_apply_seconds_bucket{le=\"1\"} 2\n"));
    assert_non_null(strstr(t, "ferry_apply_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "ferry_apply_seconds_count 3\n"));
    assert_non_null(strstr(t, "ferry_build_info{version=\"9.9.9\"} 1\n"));
    assert_non_null(strstr(t, "process_resident_memory_bytes "));
    assert_non_null(strstr(t, "process_cpu_seconds_total "));
    free(t);
    ferry_metric_drop(g, NULL);
    assert_int_equal(ferry_metrics_publish(m), 0);
    t = ferry_metrics_text(m);
    assert_null(strstr(t, "ferry_lag_bytes 1234567"));
    assert_non_null(strstr(t, "# TYPE ferry_lag_bytes gauge"));
    free(t);
    ferry_metrics_free(m);
}

/* GET path from 127.0.0.1:port; the status code, the body in body. */
static int
get(int port, const char *path, char *body, size_t len)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    char req[256], buf[16384];
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
    const char *sep;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n",
             path);
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return -1;
    }
    while (got + 1 < sizeof(buf) &&
           (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    close(fd);
    sscanf(buf, "HTTP/1.%*d %d", &status);
    sep = strstr(buf, "\r\n\r\n");
    snprintf(body, len, "%s", sep != NULL ? sep + 4 : "");
    return status;
}

static void
endpoint_answers_as_the_loop_says(void **state)
{
    ferry_metrics_t *m = ferry_metrics_new("1.0");
    ferry_err_t err = {0, ""};
    ferry_http_t *h;
    char body[16384];
    int port;

    (void)state;
    assert_null(ferry_http_start("no-port-here", m, 1000, &err));
    assert_int_equal(err.status, FERRY_ECONFIG);
    h = ferry_http_start("127.0.0.1:0", m, 300, &err);
    assert_non_null(h);
    port = ferry_http_port(h);
    assert_true(port > 0);
    /* Before the loop's first turn: alive (start-up counts as a turn),
     * not ready; wedged once start-up lasts longer than wedge_ms. */
    assert_int_equal(get(port, "/healthz", body, sizeof(body)), 200);
    assert_int_equal(get(port, "/readyz", body, sizeof(body)), 503);
    assert_non_null(strstr(body, "starting"));
    usleep(400 * 1000);
    assert_int_equal(get(port, "/healthz", body, sizeof(body)), 503);
    assert_non_null(strstr(body, "has not turned for"));
    ferry_metrics_beat(m);
    assert_int_equal(get(port, "/healthz", body, sizeof(body)), 200);
    ferry_metrics_set_ready(m, false, "connecting to the target");
    assert_int_equal(get(port, "/readyz", body, sizeof(body)), 503);
    assert_non_null(strstr(body, "connecting to the target"));
    ferry_metrics_set_ready(m, true, NULL);
    assert_int_equal(get(port, "/readyz", body, sizeof(body)), 200);
    assert_int_equal(ferry_metrics_publish(m), 0);
    assert_int_equal(get(port, "/metrics", body, sizeof(body)), 200);
    assert_non_null(strstr(body, "ferry_build_info{version=\"1.0\"} 1"));
    assert_int_equal(get(port, "/nothing", body, sizeof(body)), 404);
    /* The loop stops turning: wedged once the limit passes. */
    usleep(400 * 1000);
    assert_int_equal(get(port, "/healthz", body, sizeof(body)), 503);
    assert_non_null(strstr(body, "wedged"));
    ferry_http_stop(h);
    ferry_metrics_free(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_format_has_types_labels_and_buckets),
        cmocka_unit_test(endpoint_answers_as_the_loop_says),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
