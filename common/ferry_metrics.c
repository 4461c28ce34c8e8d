/* ferry's metrics registry and its snapshot for the HTTP thread.
 * common/ferry_metrics.c */
#include "ferry_metrics.h"

#include "ferry_buf.h"
#include "ferry_time.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* One set of label values and its value. */
typedef struct series {
    char **values;    /* owned: one per label */
    double value;     /* counter or gauge */
    uint64_t *counts; /* owned: histogram, per bucket (not cumulative) */
    uint64_t count;   /* histogram: observations */
    double sum;       /* histogram: their sum */
    bool dropped;     /* removed (kept for reuse) */
} series_t;

struct ferry_metric {
    ferry_metric_type_t type;
    char *name;    /* owned */
    char *help;    /* owned */
    char **labels; /* owned */
    size_t n_labels;
    double *buckets; /* owned: histogram upper bounds */
    size_t n_buckets;
    series_t *series; /* owned */
    size_t n_series, cap_series;
};

struct ferry_metrics {
    ferry_metric_t **families; /* owned */
    size_t n_families, cap_families;
    ferry_metric_t *rss, *vsize, *cpu, *start, *fds, *max_fds; /* process */
    ferry_metric_t *turn; /* ferry_loop_last_turn_timestamp_seconds */
    pthread_mutex_t lock; /* guards snapshot, ready, reason */
    char *snapshot;       /* owned: the last rendering */
    bool ready;
    char reason[256];
    _Atomic int64_t beat; /* monotonic ms of the last beat, or of creation */
};

static char *
sdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void
family_free(ferry_metric_t *f)
{
    size_t i, j;

    if (f == NULL)
        return;
    for (i = 0; i < f->n_series; i++) {
        for (j = 0; j < f->n_labels; j++)
            free(f->series[i].values[j]);
        free(f->series[i].values);
        free(f->series[i].counts);
    }
    for (j = 0; j < f->n_labels; j++)
        free(f->labels[j]);
    free(f->series);
    free(f->labels);
    free(f->buckets);
    free(f->name);
    free(f->help);
    free(f);
}

ferry_metric_t *
ferry_metrics_family(ferry_metrics_t *m, ferry_metric_type_t type,
                     const char *name, const char *help, size_t n_labels,
                     const char *const *labels, const double *buckets,
                     size_t n_buckets)
{
    ferry_metric_t *f = calloc(1, sizeof(*f));
    size_t i;

    if (f == NULL)
        return NULL;
    f->type = type;
    f->name = sdup(name);
    f->help = sdup(help);
    f->n_labels = n_labels;
    f->labels = calloc(n_labels + 1, sizeof(*f->labels));
    if (f->name == NULL || f->help == NULL || f->labels == NULL)
        goto fail;
    for (i = 0; i < n_labels; i++)
        if ((f->labels[i] = sdup(labels[i])) == NULL)
            goto fail;
    if (type == FERRY_METRIC_HISTOGRAM) {
        f->n_buckets = n_buckets;
        f->buckets = malloc((n_buckets + 1) * sizeof(*f->buckets));
        if (f->buckets == NULL)
            goto fail;
        memcpy(f->buckets, buckets, n_buckets * sizeof(*buckets));
    }
    if (m->n_families == m->cap_families) {
        size_t cap = m->cap_families ? m->cap_families * 2 : 16;
        ferry_metric_t **grown = realloc(m->families, cap * sizeof(*grown));

        if (grown == NULL)
            goto fail;
        m->families = grown;
        m->cap_families = cap;
    }
    m->families[m->n_families++] = f;
    return f;
fail:
    family_free(f);
    return NULL;
}

/* The series of values, made when new (NULL when out of memory). */
static series_t *
find(ferry_metric_t *f, const char *const *values, bool make)
{
    size_t i, j;
    series_t *s;

    for (i = 0; i < f->n_series; i++) {
        for (j = 0; j < f->n_labels; j++)
            if (strcmp(f->series[i].values[j], values[j]) != 0)
                break;
        if (j == f->n_labels) {
            if (make)
                f->series[i].dropped = false;
            return &f->series[i];
        }
    }
    if (!make)
        return NULL;
    if (f->n_series == f->cap_series) {
        size_t cap = f->cap_series ? f->cap_series * 2 : 8;
        series_t *grown = realloc(f->series, cap * sizeof(*grown));

        if (grown == NULL)
            return NULL;
        f->series = grown;
        f->cap_series = cap;
    }
    s = &f->series[f->n_series];
    memset(s, 0, sizeof(*s));
    s->values = calloc(f->n_labels + 1, sizeof(*s->values));
    if (s->values == NULL)
        return NULL;
    for (j = 0; j < f->n_labels; j++)
        if ((s->values[j] = sdup(values[j])) == NULL)
            goto fail;
    if (f->type == FERRY_METRIC_HISTOGRAM &&
        (s->counts = calloc(f->n_buckets + 1, sizeof(*s->counts))) == NULL)
        goto fail;
    f->n_series++;
    return s;
fail:
    for (j = 0; j < f->n_labels; j++)
        free(s->values[j]);
    free(s->values);
    return NULL;
}

void
ferry_metric_add(ferry_metric_t *f, const char *const *values, double by)
{
    series_t *s = f != NULL ? find(f, values, true) : NULL;

    if (s != NULL && by > 0)
        s->value += by;
}

void
ferry_metric_set(ferry_metric_t *f, const char *const *values, double v)
{
    series_t *s = f != NULL ? find(f, values, true) : NULL;

    if (s != NULL)
        s->value = v;
}

void
ferry_metric_drop(ferry_metric_t *f, const char *const *values)
{
    series_t *s = f != NULL ? find(f, values, false) : NULL;

    if (s != NULL)
        s->dropped = true;
}

void
ferry_metric_observe(ferry_metric_t *f, const char *const *values, double v)
{
    series_t *s = f != NULL ? find(f, values, true) : NULL;
    size_t i;

    if (s == NULL)
        return;
    for (i = 0; i < f->n_buckets && v > f->buckets[i]; i++)
        ;
    s->counts[i]++;
    s->count++;
    s->sum += v;
}

double
ferry_metric_value(ferry_metric_t *f, const char *const *values)
{
    series_t *s = f != NULL ? find(f, values, false) : NULL;

    return s != NULL && !s->dropped ? s->value : 0;
}

ferry_metrics_t *
ferry_metrics_new(const char *version)
{
    ferry_metrics_t *m = calloc(1, sizeof(*m));
    const char *vl[1] = {"version"};
    const char *vv[1] = {version};
    ferry_metric_t *info;

    if (m == NULL)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    /* Alive from the start: the wedge clock runs from creation, so that
     * start-up (connecting, creating a slot) is not a wedge until it has
     * lasted as long as one. */
    atomic_store(&m->beat, ferry_mono_ms());
    snprintf(m->reason, sizeof(m->reason), "starting");
    info = ferry_metrics_family(m, FERRY_METRIC_GAUGE, "ferry_build_info",
                                "ferry's version (always 1)", 1, vl, NULL, 0);
    m->rss = ferry_metrics_family(
        m, FERRY_METRIC_GAUGE, "process_resident_memory_bytes",
        "Resident memory size in bytes.", 0, NULL, NULL, 0);
    m->vsize = ferry_metrics_family(
        m, FERRY_METRIC_GAUGE, "process_virtual_memory_bytes",
        "Virtual memory size in bytes.", 0, NULL, NULL, 0);
    m->cpu = ferry_metrics_family(m, FERRY_METRIC_COUNTER,
                                  "process_cpu_seconds_total",
                                  "Total user and system CPU time spent in "
                                  "seconds.",
                                  0, NULL, NULL, 0);
    m->start = ferry_metrics_family(m, FERRY_METRIC_GAUGE,
                                    "process_start_time_seconds",
                                    "Start time of the process since unix "
                                    "epoch in seconds.",
                                    0, NULL, NULL, 0);
    m->fds = ferry_metrics_family(m, FERRY_METRIC_GAUGE, "process_open_fds",
                                  "Number of open file descriptors.", 0, NULL,
                                  NULL, 0);
    m->max_fds = ferry_metrics_family(m, FERRY_METRIC_GAUGE, "process_max_fds",
                                      "Maximum number of open file "
                                      "descriptors.",
                                      0, NULL, NULL, 0);
    m->turn = ferry_metrics_family(
        m, FERRY_METRIC_GAUGE, "ferry_loop_last_turn_timestamp_seconds",
        "When the main loop last published these metrics (it does at every "
        "status interval; a value that stops moving is a wedged loop).",
        0, NULL, NULL, 0);
    if (info == NULL || m->turn == NULL || m->rss == NULL || m->vsize == NULL ||
        m->cpu == NULL || m->start == NULL || m->fds == NULL ||
        m->max_fds == NULL) {
        ferry_metrics_free(m);
        return NULL;
    }
    ferry_metric_set(info, vv, 1);
    ferry_metric_set(m->start, NULL, (double)ferry_wall_ms() / 1000.0);
    return m;
}

void
ferry_metrics_free(ferry_metrics_t *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->n_families; i++)
        family_free(m->families[i]);
    free(m->families);
    free(m->snapshot);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* The process metrics, read now. */
static void
read_process(ferry_metrics_t *m)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long vsz = 0, rss = 0;
    struct rusage ru;
    struct rlimit rl;
    FILE *f = fopen("/proc/self/statm", "r");
    DIR *d;
    long n = 0;

    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &vsz, &rss) == 2) {
            ferry_metric_set(m->vsize, NULL, (double)vsz * (double)page);
            ferry_metric_set(m->rss, NULL, (double)rss * (double)page);
        }
        fclose(f);
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        series_t *s = find(m->cpu, NULL, true);

        if (s != NULL)
            s->value = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    }
    if ((d = opendir("/proc/self/fd")) != NULL) {
        while (readdir(d) != NULL)
            n++;
        closedir(d);
        ferry_metric_set(m->fds, NULL, (double)(n > 3 ? n - 3 : n));
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        ferry_metric_set(m->max_fds, NULL, (double)rl.rlim_cur);
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void
label_value(ferry_buf_t *b, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"')
            ferry_buf_putc(b, '\\');
        if (*v == '\n') {
            ferry_buf_append_lit(b, "\\n");
            continue;
        }
        ferry_buf_putc(b, *v);
    }
}

static void
number(ferry_buf_t *b, double v)
{
    if (isinf(v))
        ferry_buf_append_str(b, v > 0 ? "+Inf" : "-Inf");
    else if (isnan(v))
        ferry_buf_append_lit(b, "NaN");
    else if (v == (double)(int64_t)v && fabs(v) < 1e15)
        ferry_buf_printf(b, "%lld", (long long)v);
    else
        ferry_buf_printf(b, "%.17g", v);
}

/* name{labels[,le="x"]} */
static void
series_head(ferry_buf_t *b, const ferry_metric_t *f, const series_t *s,
            const char *suffix, const char *le)
{
    size_t j;

    ferry_buf_append_str(b, f->name);
    ferry_buf_append_str(b, suffix);
    if (f->n_labels == 0 && le == NULL)
        return;
    ferry_buf_putc(b, '{');
    for (j = 0; j < f->n_labels; j++) {
        ferry_buf_printf(b, "%s%s=\"", j > 0 ? "," : "", f->labels[j]);
        label_value(b, s->values[j]);
        ferry_buf_putc(b, '"');
    }
    if (le != NULL)
        ferry_buf_printf(b, "%sle=\"%s\"", f->n_labels > 0 ? "," : "", le);
    ferry_buf_putc(b, '}');
}

static void
render(ferry_buf_t *b, const ferry_metric_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    size_t i, k;

    ferry_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
                     f->name, types[f->type]);
    for (i = 0; i < f->n_series; i++) {
        const series_t *s = &f->series[i];

        if (s->dropped)
            continue;
        if (f->type != FERRY_METRIC_HISTOGRAM) {
            series_head(b, f, s, "", NULL);
            ferry_buf_putc(b, ' ');
            number(b, s->value);
            ferry_buf_putc(b, '\n');
            continue;
        }
        uint64_t cum = 0;

        for (k = 0; k <= f->n_buckets; k++) {
            char le[40];

            cum += s->counts[k];
            if (k < f->n_buckets)
                snprintf(le, sizeof(le), "%g", f->buckets[k]);
            else
                snprintf(le, sizeof(le), "+Inf");
            series_head(b, f, s, "_bucket", le);
            ferry_buf_printf(b, " %llu\n", (unsigned long long)cum);
        }
        series_head(b, f, s, "_sum", NULL);
        ferry_buf_putc(b, ' ');
        number(b, s->sum);
        ferry_buf_putc(b, '\n');
        series_head(b, f, s, "_count", NULL);
        ferry_buf_printf(b, " %llu\n", (unsigned long long)s->count);
    }
}

int
ferry_metrics_publish(ferry_metrics_t *m)
{
    ferry_buf_t b;
    char *text, *old;
    size_t i;

    read_process(m);
    ferry_metric_set(m->turn, NULL, (double)ferry_wall_ms() / 1000.0);
    ferry_buf_init(&b);
    for (i = 0; i < m->n_families; i++)
        render(&b, m->families[i]);
    if ((text = ferry_buf_take(&b)) == NULL)
        return FERRY_ENOMEM;
    pthread_mutex_lock(&m->lock);
    old = m->snapshot;
    m->snapshot = text;
    pthread_mutex_unlock(&m->lock);
    free(old);
    return 0;
}

char *
ferry_metrics_text(ferry_metrics_t *m)
{
    char *copy;

    pthread_mutex_lock(&m->lock);
    copy = strdup(m->snapshot != NULL ? m->snapshot : "");
    pthread_mutex_unlock(&m->lock);
    return copy;
}

void
ferry_metrics_beat(ferry_metrics_t *m)
{
    atomic_store(&m->beat, ferry_mono_ms());
}

int64_t
ferry_metrics_last_beat(ferry_metrics_t *m)
{
    return atomic_load(&m->beat);
}

void
ferry_metrics_set_ready(ferry_metrics_t *m, bool ready, const char *reason)
{
    pthread_mutex_lock(&m->lock);
    m->ready = ready;
    snprintf(m->reason, sizeof(m->reason), "%s", reason != NULL ? reason : "");
    pthread_mutex_unlock(&m->lock);
}

bool
ferry_metrics_ready(ferry_metrics_t *m, char *reason, size_t len)
{
    bool ready;

    pthread_mutex_lock(&m->lock);
    ready = m->ready;
    snprintf(reason, len, "%s", m->reason);
    pthread_mutex_unlock(&m->lock);
    return ready;
}
