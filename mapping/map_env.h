/* ${VAR} expansion of mapping values from the environment.
 * mapping/map_env.h
 *
 * Secrets stay out of ferry.yaml: "password=${LEGACY_PW}" takes the value of
 * LEGACY_PW.  "$$" writes one "$"; a "$" followed by anything else than "{"
 * or "$" is kept as it is.  A name is [A-Za-z_][A-Za-z0-9_]*.  An unset
 * variable is an error that names it; a set but empty one expands to "".
 */
#ifndef MAP_ENV_H
#define MAP_ENV_H

#include "ferry_err.h"

#include <stddef.h>

/* Expands in (borrowed).  On success *out is a new string (free with
 * free()) and returns 0.  On failure *out is NULL, err (may be NULL) says
 * why without quoting in (the value may hold a secret), and returns
 * FERRY_ECONFIG or FERRY_ENOMEM.  Reads the environment with getenv(). */
int map_env_expand(const char *in, char **out, ferry_err_t *err) FERRY_WUR;

#endif
