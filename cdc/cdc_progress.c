/* Snapshot progress display and log lines.
 * cdc/cdc_progress.c */
#include "cdc_progress.h"

#include "ferry_log.h"
#include "ferry_time.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* The tables drawn on a terminal at most; the rest are summed up. */
#define MAX_DRAWN 12

typedef struct table_prog {
    atomic_uint_fast64_t rows; /* rows published */
    atomic_int state;          /* 0 waiting, 1 reading, 2 done */
    atomic_int_fast64_t start; /* monotonic ms when reading began */
    atomic_int_fast64_t end;   /* monotonic ms when it was done */
    uint64_t estimate;         /* pg_class.reltuples */
    bool logged;               /* its completion was logged */
} table_prog_t;

struct cdc_progress {
    const cdc_tables_t *tables; /* borrowed */
    const char *slot;           /* borrowed */
    table_prog_t *v;            /* owned: one per table */
    size_t n;                   /* tables */
    bool tty;                   /* stderr is a terminal */
    int drawn;                  /* lines drawn last time (terminal) */
    int64_t started;            /* monotonic ms at creation */
    int64_t next;               /* monotonic ms of the next draw or log */
};

cdc_progress_t *
cdc_progress_new(const cdc_tables_t *tables, const char *slot)
{
    cdc_progress_t *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->n = cdc_tables_count(tables);
    p->v = calloc(p->n + 1, sizeof(*p->v));
    if (p->v == NULL) {
        free(p);
        return NULL;
    }
    p->tables = tables;
    p->slot = slot;
    p->tty = isatty(STDERR_FILENO) == 1;
    p->started = ferry_mono_ms();
    p->next = p->started + (p->tty ? 500 : 10000);
    return p;
}

void
cdc_progress_free(cdc_progress_t *p)
{
    if (p == NULL)
        return;
    free(p->v);
    free(p);
}

void
cdc_progress_estimate(cdc_progress_t *p, size_t i, uint64_t rows)
{
    p->v[i].estimate = rows;
}

void
cdc_progress_start(cdc_progress_t *p, size_t i)
{
    atomic_store(&p->v[i].start, ferry_mono_ms());
    atomic_store(&p->v[i].state, 1);
}

void
cdc_progress_add(cdc_progress_t *p, size_t i, uint64_t n)
{
    atomic_fetch_add(&p->v[i].rows, n);
}

void
cdc_progress_done(cdc_progress_t *p, size_t i)
{
    atomic_store(&p->v[i].end, ferry_mono_ms());
    atomic_store(&p->v[i].state, 2);
}

uint64_t
cdc_progress_rows(const cdc_progress_t *p, size_t i)
{
    return atomic_load(&((cdc_progress_t *)p)->v[i].rows);
}

uint64_t
cdc_progress_total(const cdc_progress_t *p)
{
    uint64_t sum = 0;

    for (size_t i = 0; i < p->n; i++)
        sum += atomic_load(&((cdc_progress_t *)p)->v[i].rows);
    return sum;
}

/* Formats one table's line: rows, rate, and ETA or elapsed time. */
static void
format_line(const cdc_progress_t *p, size_t i, int64_t now, char *out,
            size_t cap)
{
    table_prog_t *tp = &((cdc_progress_t *)p)->v[i];
    const cdc_table_t *t = cdc_tables_get(p->tables, i);
    uint64_t rows = atomic_load(&tp->rows);
    int state = atomic_load(&tp->state);
    int64_t end = state == 2 ? atomic_load(&tp->end) : now;
    double secs = (double)(end - atomic_load(&tp->start)) / 1000.0;
    double rate = secs > 0 ? (double)rows / secs : 0;
    char eta[48] = "";

    if (state == 2)
        snprintf(eta, sizeof(eta), "done in %.1f s", secs);
    else if (tp->estimate > rows && rate > 0)
        snprintf(eta, sizeof(eta), "ETA %.0f s",
                 (double)(tp->estimate - rows) / rate);
    else if (state == 1)
        snprintf(eta, sizeof(eta), "ETA unknown");
    snprintf(out, cap,
             "%s.%s: %" PRIu64 " of ~%" PRIu64 " rows, %.0f rows/s, %s",
             t->schema, t->table, rows,
             tp->estimate > rows ? tp->estimate : rows, rate, eta);
}

static void
draw(cdc_progress_t *p, int64_t now)
{
    char line[512];
    int lines = 0, done = 0;

    if (p->drawn > 0)
        fprintf(stderr, "\033[%dA", p->drawn);
    for (size_t i = 0; i < p->n; i++) {
        int state = atomic_load(&p->v[i].state);

        done += state == 2;
        if (state == 0 || lines >= MAX_DRAWN)
            continue;
        format_line(p, i, now, line, sizeof(line));
        fprintf(stderr, "\r\033[K  %s\n", line);
        lines++;
    }
    fprintf(
        stderr,
        "\r\033[Ksnapshot: %d of %zu tables done, %" PRIu64 " rows in %.1f s\n",
        done, p->n, cdc_progress_total(p), (double)(now - p->started) / 1000.0);
    fflush(stderr);
    p->drawn = lines + 1;
}

static void
log_lines(cdc_progress_t *p, int64_t now, bool final)
{
    char line[512];

    for (size_t i = 0; i < p->n; i++) {
        int state = atomic_load(&p->v[i].state);

        if (state == 0 || p->v[i].logged || (final && state != 2))
            continue;
        format_line(p, i, now, line, sizeof(line));
        ferry_info("slot \"%s\": snapshot %s", p->slot, line);
        if (state == 2)
            p->v[i].logged = true;
    }
}

void
cdc_progress_tick(cdc_progress_t *p, bool final)
{
    int64_t now = ferry_mono_ms();

    if (!final && now < p->next)
        return;
    p->next = now + (p->tty ? 500 : 10000);
    if (p->tty)
        draw(p, now);
    else
        log_lines(p, now, final);
}
