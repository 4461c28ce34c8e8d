/* Clock readings in milliseconds.
 * common/ferry_time.c */
#include "ferry_time.h"

#include <time.h>

static int64_t
read_ms(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
ferry_mono_ms(void)
{
    return read_ms(CLOCK_MONOTONIC);
}

int64_t
ferry_wall_ms(void)
{
    return read_ms(CLOCK_REALTIME);
}

int64_t
ferry_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
