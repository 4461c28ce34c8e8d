/* ferry-sink's event loop: the one place that waits, on the target's socket,
 * the Kafka consumer's queue and the dead-letter producer's queue at once,
 * and on timers.
 * sink/sink_loop.h
 *
 * Shaped like Redis's ae.c.  A source registers a file descriptor with the
 * events it wants and a handler; a timer registers a deadline and a
 * handler.  sink_loop_run() polls them all in one poll() call and calls
 * the handlers of what is ready, then the tick handler (where the mode
 * decides what to do next: start a commit, stop at the end).  A handler
 * never waits itself: it reads or writes what is ready and returns.  That
 * is how ferry-sink reads and parses the next messages from Kafka while
 * the target applies the current batch: both sockets are waited on here,
 * and the overlap is visible in one place.
 *
 * Timers are one-shot; a handler re-arms its own.  The loop stops when a
 * handler returns an error (kept for sink_loop_run()'s caller) or when
 * sink_loop_stop() is called.  A signal's stop flag does not stop it by
 * itself: the tick handler sees sink_loop_stopping() and stops the loop
 * once the work under way is finished.
 * Single-threaded: everything runs on the thread that calls
 * sink_loop_run().
 */
#ifndef SINK_LOOP_H
#define SINK_LOOP_H

#include "ferry_err.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sink_loop sink_loop_t;

/* A ready descriptor: revents holds poll()'s POLLIN/POLLOUT/POLLERR/POLLHUP.
 * Returns 0, or an error class with err set, which stops the loop. */
typedef int (*sink_fd_fn)(void *arg, int revents, ferry_err_t *err);

/* A timer that came due, or the per-iteration tick.  Returns as
 * sink_fd_fn. */
typedef int (*sink_timer_fn)(void *arg, ferry_err_t *err);

/* A timer handle; 0 is "none". */
typedef uint32_t sink_timer_id_t;

/* Returns a new loop (free with sink_loop_free()) or NULL when out of
 * memory.  stop (borrowed, may be NULL) is the signal flag
 * sink_loop_stopping() reads; the loop wakes at least every 100 ms, so
 * that the tick sees it. */
sink_loop_t *sink_loop_new(volatile sig_atomic_t *stop);

/* Frees the loop; the sources' descriptors are not closed. */
void sink_loop_free(sink_loop_t *l);

/* Watches fd for events (POLLIN, POLLOUT or both; 0 pauses it) and calls
 * fn(arg, revents) when some are ready.  Registering fd again replaces its
 * events and handler.  arg is borrowed.  Returns 0 or FERRY_ENOMEM. */
int sink_loop_watch(sink_loop_t *l, int fd, short events, sink_fd_fn fn,
                    void *arg) FERRY_WUR;

/* Stops watching fd; a no-op when it is not watched. */
void sink_loop_unwatch(sink_loop_t *l, int fd);

/* Calls fn(arg) once, ms milliseconds from now (0: at the next iteration).
 * Returns the timer's handle, or 0 when out of memory. */
sink_timer_id_t sink_loop_after(sink_loop_t *l, int64_t ms, sink_timer_fn fn,
                                void *arg);

/* Cancels a timer that has not fired; a no-op for 0 or a fired one. */
void sink_loop_cancel(sink_loop_t *l, sink_timer_id_t id);

/* Sets the handler called after the ready sources at every iteration
 * (NULL: none). */
void sink_loop_set_tick(sink_loop_t *l, sink_timer_fn fn, void *arg);

/* Runs until sink_loop_stop() or a handler's error.  Returns 0 or that
 * error's class, with err set. */
int sink_loop_run(sink_loop_t *l, ferry_err_t *err) FERRY_WUR;

/* Runs one iteration without the tick: for waiting on a single job before
 * the loop runs (start-up).  Returns as sink_loop_run(). */
int sink_loop_once(sink_loop_t *l, ferry_err_t *err) FERRY_WUR;

/* Makes sink_loop_run() return 0 after the current iteration. */
void sink_loop_stop(sink_loop_t *l);

/* True once *stop (the signal flag) is set. */
bool sink_loop_stopping(const sink_loop_t *l);

/* The loop's clock: CLOCK_MONOTONIC milliseconds, read once per
 * iteration. */
int64_t sink_loop_now(const sink_loop_t *l);

#endif
