/* ${VAR} expansion of mapping values from the environment.
 * mapping/map_env.c */
#include "map_env.h"

#include "ferry_buf.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Expands the "${NAME}" starting at in (in[0] == '$', in[1] == '{') and sets
 * *used to the characters consumed. */
static int
expand_var(const char *in, size_t *used, ferry_buf_t *b, ferry_err_t *err)
{
    const char *name = in + 2;
    const char *end = strchr(name, '}');
    char var[256];
    const char *val;
    size_t n;

    if (end == NULL)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "unterminated \"${\" (expected \"${NAME}\")");
    n = (size_t)(end - name);
    if (n == 0)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "empty variable name in \"${}\"");
    if (n >= sizeof(var))
        return ferry_err_set(err, FERRY_ECONFIG,
                             "environment variable name too long");
    for (size_t i = 0; i < n; i++) {
        if (!(i == 0 ? is_name_start(name[i]) : is_name_char(name[i])))
            return ferry_err_set(err, FERRY_ECONFIG,
                                 "invalid environment variable name in "
                                 "\"${...}\" (expected letters, digits and "
                                 "underscores, not starting with a digit)");
    }
    memcpy(var, name, n);
    var[n] = '\0';
    val = getenv(var);
    if (val == NULL)
        return ferry_err_set(err, FERRY_ECONFIG,
                             "environment variable \"%s\" is not set", var);
    ferry_buf_append_str(b, val);
    *used = n + 3;
    return 0;
}

int
map_env_expand(const char *in, char **out, ferry_err_t *err)
{
    ferry_buf_t b;
    int rc = 0;
    size_t i = 0;

    *out = NULL;
    ferry_buf_init(&b);
    while (in[i] != '\0') {
        size_t used = 1;

        if (in[i] == '$' && in[i + 1] == '$') {
            used = 2;
            ferry_buf_putc(&b, '$');
        } else if (in[i] == '$' && in[i + 1] == '{') {
            rc = expand_var(in + i, &used, &b, err);
        } else {
            ferry_buf_putc(&b, in[i]);
        }
        if (rc != 0)
            goto done;
        i += used;
    }
    if ((rc = ferry_buf_status(&b, err, "expanding environment variables")) !=
        0)
        goto done;
    if ((*out = ferry_buf_take(&b)) == NULL)
        rc = ferry_err_set(err, FERRY_ENOMEM,
                           "out of memory expanding environment variables");

done:
    ferry_buf_close(&b);
    return rc;
}
