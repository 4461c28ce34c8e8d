/* Internals shared by the mapping parser's files; not a public header.
 * mapping/map_int.h
 *
 * The model lives in an arena: every string and array of one map_config_t
 * comes from it and goes with map_config_free(), so the parser can give up
 * on a half-built entity without a trail of frees.  The parser walks the
 * libyaml document tree; each helper here adds a diagnostic when the node is
 * not what it expects and returns false or NULL, and the caller goes on with
 * the next key so that every problem is reported.
 */
#ifndef MAP_INT_H
#define MAP_INT_H

#include "map_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

/* Key paths longer than this are truncated in diagnostics. */
#define MAP__PATH_MAX 512

/* The arena behind a model. */
struct map_arena;

/* A new empty arena (free with map__arena_free()), or NULL. */
struct map_arena *map__arena_new(void);
/* Frees the arena and all memory handed out from it; NULL is a no-op. */
void map__arena_free(struct map_arena *a);
/* New, zeroed memory from the arena; NULL (and a remembered failure) when
 * out of memory. */
void *map__alloc(struct map_arena *a, size_t size);
/* Copies of s (borrowed) in the arena; NULL when out of memory. */
char *map__strdup(struct map_arena *a, const char *s);
char *map__strndup(struct map_arena *a, const char *s, size_t n);

/* The parser's state while it walks one document. */
typedef struct map_parser {
    yaml_document_t doc;     /* the loaded document */
    const char *file;        /* borrowed: file name for diagnostics */
    map_diags_t *diags;      /* borrowed: where problems go */
    struct map_arena *arena; /* borrowed: the model's arena */
    map_config_t *cfg;       /* borrowed: the model being built */
    bool oom;                /* an allocation failed */
    const char **names;      /* arena: entity names in file order */
    size_t n_names;          /* number of names */
} map_parser_t;

/* The kinds a key's value may have, for the key table. */
enum map__key_type {
    MAP__T_STRING,      /* a string */
    MAP__T_STRING_LIST, /* a string or a list of strings */
    MAP__T_BOOL,        /* true or false */
    MAP__T_ENUM,        /* one of a fixed set of words */
    MAP__T_MAPPING,     /* a mapping */
    MAP__T_SPECIAL      /* several shapes: see the doc */
};

/* One row of the key table: every key the file may hold. */
typedef struct map__key_def {
    const char *section;     /* "", "source", "entity", "column", ... */
    const char *name;        /* the key */
    enum map__key_type type; /* its shape */
    bool required;           /* must be present */
    const char *def;         /* the default, or NULL */
    const char *doc;         /* one line on its meaning */
} map__key_def_t;

/* The key table, terminated by a row with a NULL name. */
extern const map__key_def_t map__keys[];

/* Node access and diagnostics. */
yaml_node_t *map__node(map_parser_t *p, int index);
map_pos_t map__pos(const yaml_node_t *n);
void map__path(char *buf, const char *parent, const char *key);
map_diag_t *map__diag(map_parser_t *p, const yaml_node_t *n, const char *path,
                      const char *fmt, ...) FERRY_PRINTF(4, 5);
/* "a string", "a list", "a mapping" or "nothing" (null). */
const char *map__kind(const yaml_node_t *n);
bool map__is_null(const yaml_node_t *n);

/* Checks that n is a mapping, that its keys are strings, unique, and (when
 * section is not NULL) listed in the key table for section, and that every
 * required key of section is present.  Adds a diagnostic per problem and
 * returns false when n is not a mapping at all. */
bool map__check_mapping(map_parser_t *p, yaml_node_t *n, const char *path,
                        const char *section, const char *what);
/* The value node of key in mapping n, or NULL. */
yaml_node_t *map__get(map_parser_t *p, yaml_node_t *n, const char *key);
/* The key text of a mapping pair (a scalar, else NULL), borrowed from the
 * document: valid only while parsing. */
const char *map__key_text(map_parser_t *p, const yaml_node_pair_t *pair);
/* The same, copied into the model's arena (NULL when not a scalar or out of
 * memory, then p->oom is set). */
const char *map__key_copy(map_parser_t *p, const yaml_node_pair_t *pair);

/* Value readers: on a wrong shape they add a diagnostic and return
 * NULL/false.  Strings are ${VAR}-expanded into the arena. */
const char *map__string(map_parser_t *p, yaml_node_t *n, const char *path);
bool map__bool(map_parser_t *p, yaml_node_t *n, const char *path, bool *out);
/* Picks the index of the value in names (n_names words); *out unchanged on
 * error. */
bool map__enum(map_parser_t *p, yaml_node_t *n, const char *path,
               const char *const *names, size_t n_names, int *out);
/* A string or a list of strings; NULL with *count 0 on error or when the
 * list is empty (an error unless empty_ok). */
const char *const *map__string_list(map_parser_t *p, yaml_node_t *n,
                                    const char *path, size_t *count,
                                    bool empty_ok);

/* Entity and column parsing.  The parser calls only downward:
 * map_config.c (the root) calls map_entity.c (the entities section), which
 * calls map_column.c (each entity's columns). */
bool map__is_entity_name(const char *s);
void map__parse_entities(map_parser_t *p, yaml_node_t *n);
void map__parse_columns(map_parser_t *p, map_entity_t *e, yaml_node_t *n,
                        const char *path);
/* The index of an entity that no name matched (a ref's ref_index). */
#define MAP__NONE ((size_t)-1)

#endif
