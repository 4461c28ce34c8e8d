/* ferry-sink's event loop: descriptors and timers, polled in one place.
 * sink/sink_loop.c */
#include "sink_loop.h"

#include "ferry_time.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

/* One watched descriptor. */
typedef struct watch {
    int fd;        /* the descriptor */
    short events;  /* what is wanted (0: paused) */
    sink_fd_fn fn; /* its handler */
    void *arg;     /* borrowed: the handler's argument */
} watch_t;

/* One pending timer. */
typedef struct timer {
    sink_timer_id_t id; /* its handle */
    int64_t due;        /* when, on the loop's clock */
    sink_timer_fn fn;   /* its handler */
    void *arg;          /* borrowed */
} timer_t_;

struct sink_loop {
    volatile sig_atomic_t *stop; /* borrowed: the signal flag, or NULL */
    watch_t *watches;            /* owned */
    size_t n_watches, cap_watches;
    timer_t_ *timers; /* owned: unordered (a handful at most) */
    size_t n_timers, cap_timers;
    sink_timer_id_t next_id; /* the next handle to give out */
    sink_timer_fn tick;      /* called at every iteration, or NULL */
    void *tick_arg;          /* borrowed */
    bool stopped;            /* sink_loop_stop() was called */
    int64_t now;             /* the clock, read once per iteration */
    struct pollfd *pfds;     /* owned: poll()'s array, n_watches long */
};

sink_loop_t *
sink_loop_new(volatile sig_atomic_t *stop)
{
    sink_loop_t *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->stop = stop;
    l->next_id = 1;
    l->now = ferry_mono_ms();
    return l;
}

void
sink_loop_free(sink_loop_t *l)
{
    if (l == NULL)
        return;
    free(l->watches);
    free(l->timers);
    free(l->pfds);
    free(l);
}

int
sink_loop_watch(sink_loop_t *l, int fd, short events, sink_fd_fn fn, void *arg)
{
    size_t i;

    for (i = 0; i < l->n_watches; i++)
        if (l->watches[i].fd == fd) {
            l->watches[i].events = events;
            l->watches[i].fn = fn;
            l->watches[i].arg = arg;
            return 0;
        }
    if (l->n_watches == l->cap_watches) {
        size_t cap = l->cap_watches ? l->cap_watches * 2 : 4;
        watch_t *w = realloc(l->watches, cap * sizeof(*w));
        struct pollfd *p;

        if (w == NULL)
            return FERRY_ENOMEM;
        l->watches = w;
        p = realloc(l->pfds, cap * sizeof(*p));
        if (p == NULL)
            return FERRY_ENOMEM;
        l->pfds = p;
        l->cap_watches = cap;
    }
    l->watches[l->n_watches++] = (watch_t){fd, events, fn, arg};
    return 0;
}

void
sink_loop_unwatch(sink_loop_t *l, int fd)
{
    size_t i;

    for (i = 0; i < l->n_watches; i++)
        if (l->watches[i].fd == fd) {
            l->watches[i] = l->watches[--l->n_watches];
            return;
        }
}

sink_timer_id_t
sink_loop_after(sink_loop_t *l, int64_t ms, sink_timer_fn fn, void *arg)
{
    timer_t_ *t;

    if (l->n_timers == l->cap_timers) {
        size_t cap = l->cap_timers ? l->cap_timers * 2 : 8;
        timer_t_ *grown = realloc(l->timers, cap * sizeof(*grown));

        if (grown == NULL)
            return 0;
        l->timers = grown;
        l->cap_timers = cap;
    }
    t = &l->timers[l->n_timers++];
    t->id = l->next_id++;
    if (l->next_id == 0)
        l->next_id = 1;
    t->due = ferry_mono_ms() + (ms > 0 ? ms : 0);
    t->fn = fn;
    t->arg = arg;
    return t->id;
}

void
sink_loop_cancel(sink_loop_t *l, sink_timer_id_t id)
{
    size_t i;

    if (id == 0)
        return;
    for (i = 0; i < l->n_timers; i++)
        if (l->timers[i].id == id) {
            l->timers[i] = l->timers[--l->n_timers];
            return;
        }
}

void
sink_loop_set_tick(sink_loop_t *l, sink_timer_fn fn, void *arg)
{
    l->tick = fn;
    l->tick_arg = arg;
}

void
sink_loop_stop(sink_loop_t *l)
{
    l->stopped = true;
}

bool
sink_loop_stopping(const sink_loop_t *l)
{
    return l->stop != NULL && *l->stop;
}

int64_t
sink_loop_now(const sink_loop_t *l)
{
    return l->now;
}

/* Milliseconds until the earliest timer, at most 100 (the stop flag). */
static int
poll_timeout(const sink_loop_t *l)
{
    int64_t wait = 100;
    size_t i;

    for (i = 0; i < l->n_timers; i++) {
        int64_t left = l->timers[i].due - l->now;

        if (left < wait)
            wait = left < 0 ? 0 : left;
    }
    return (int)wait;
}

/* Runs the timers that are due.  A handler may add or cancel timers, so
 * each due one is taken out before its handler runs. */
static int
run_timers(sink_loop_t *l, ferry_err_t *err)
{
    size_t i = 0;
    int rc = 0;

    while (rc == 0 && i < l->n_timers) {
        timer_t_ t = l->timers[i];

        if (t.due > l->now) {
            i++;
            continue;
        }
        l->timers[i] = l->timers[--l->n_timers];
        rc = t.fn(t.arg, err);
        i = 0; /* the array may have changed under us */
    }
    return rc;
}

/* Calls the handlers of the ready descriptors.  A handler may watch or
 * unwatch descriptors; each result is matched to its watch by fd. */
static int
run_ready(sink_loop_t *l, size_t n, ferry_err_t *err)
{
    size_t i, j;
    int rc = 0;

    for (i = 0; rc == 0 && i < n; i++) {
        if (l->pfds[i].revents == 0)
            continue;
        for (j = 0; j < l->n_watches; j++)
            if (l->watches[j].fd == l->pfds[i].fd && l->watches[j].events)
                break;
        if (j < l->n_watches)
            rc = l->watches[j].fn(l->watches[j].arg, l->pfds[i].revents, err);
    }
    return rc;
}

/* One poll and what is ready. */
static int
iterate(sink_loop_t *l, ferry_err_t *err)
{
    size_t i, n = 0;
    int ready, rc = 0;

    l->now = ferry_mono_ms();
    for (i = 0; i < l->n_watches; i++) {
        if (l->watches[i].events == 0)
            continue;
        l->pfds[n].fd = l->watches[i].fd;
        l->pfds[n].events = l->watches[i].events;
        l->pfds[n].revents = 0;
        n++;
    }
    ready = poll(l->pfds, n, poll_timeout(l));
    if (ready < 0 && errno != EINTR)
        return ferry_err_set(err, FERRY_EFATAL, "poll failed: %s",
                             strerror(errno));
    l->now = ferry_mono_ms();
    if (ready > 0)
        rc = run_ready(l, n, err);
    if (rc == 0)
        rc = run_timers(l, err);
    return rc;
}

int
sink_loop_once(sink_loop_t *l, ferry_err_t *err)
{
    return iterate(l, err);
}

int
sink_loop_run(sink_loop_t *l, ferry_err_t *err)
{
    int rc = 0;

    l->stopped = false;
    while (rc == 0 && !l->stopped) {
        rc = iterate(l, err);
        if (rc == 0 && l->tick != NULL)
            rc = l->tick(l->tick_arg, err);
    }
    return rc;
}
