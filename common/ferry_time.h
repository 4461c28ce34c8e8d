/* Clock readings in milliseconds, shared by every ferry program.
 * common/ferry_time.h
 *
 * Monotonic time is for intervals and deadlines (it never jumps); wall time
 * is for timestamps that leave the process (ts_ms in events).  Both are
 * thread-safe.
 */
#ifndef FERRY_TIME_H
#define FERRY_TIME_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t ferry_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t ferry_wall_ms(void);

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t ferry_wall_us(void);

#endif
