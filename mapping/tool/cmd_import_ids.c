/* ferry-map import-ids: legacy key -> UUID pairs of an earlier migration.
 * mapping/tool/cmd_import_ids.c */
#include "ferry_map.h"
#include "map_idmap.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void
import_usage(FILE *out)
{
    fprintf(out,
            "ferry-map import-ids records the UUIDs an earlier one-off "
            "migration gave\n"
            "to legacy rows in the id-map (<state_schema>.id_map in the "
            "target), so\n"
            "that ferry keeps them instead of deriving UUIDv5s.  Run it "
            "before\n"
            "ferry-sink first writes the entity.  The import is one "
            "transaction: a\n"
            "bad row, a key given two UUIDs, or a key that already maps to "
            "another\n"
            "UUID (in the id-map, or the derived UUID ferry-sink applied it "
            "with)\n"
            "changes nothing.  Importing the same pairs again is a "
            "no-op.\n\n"
            "Usage:\n"
            "  ferry-map import-ids [--config FILE] --entity NAME --csv FILE\n"
            "  ferry-map import-ids [--config FILE] --entity NAME\n"
            "      --from-table SCHEMA.TABLE --source-table NAME "
            "[--from-db target|source]\n\n"
            "Options:\n"
            "  -c, --config=FILE        the mapping file (default "
            "./ferry.yaml)\n"
            "  -e, --entity=NAME        the entity the keys belong to\n"
            "      --csv=FILE           CSV with the header line "
            "\"legacy_key,uuid\"\n"
            "      --from-table=S.T     a table shaped like "
            "migration_mappings(\n"
            "                           source_table, source_id, "
            "destination_id)\n"
            "      --source-table=NAME  the rows whose source_table is NAME\n"
            "      --from-db=DB         where that table is: target (default) "
            "or source\n"
            "  -h, --help               show this help and exit\n\n"
            "A composite legacy key is written as the key values joined by "
            "\",\",\n"
            "with \"\\\" and \",\" escaped by \"\\\" (see docs/mapping.md).\n\n"
            "Examples:\n"
            "  ferry-map import-ids -c ferry.yaml --entity offices --csv "
            "offices.csv\n"
            "  ferry-map import-ids -c ferry.yaml --entity doctors \\\n"
            "      --from-table public.migration_mappings --source-table "
            "dispatch_doctor\n");
}

typedef struct import_opts {
    const char *path;         /* the mapping file */
    const char *entity;       /* --entity */
    const char *csv;          /* --csv, or NULL */
    const char *from_table;   /* --from-table, or NULL */
    const char *source_table; /* --source-table, or NULL */
    const char *from_db;      /* --from-db */
} import_opts_t;

static int
parse_opts(int argc, char **argv, import_opts_t *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"entity", required_argument, NULL, 'e'},
        {"csv", required_argument, NULL, 'C'},
        {"from-table", required_argument, NULL, 'T'},
        {"source-table", required_argument, NULL, 'S'},
        {"from-db", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    while ((c = getopt_long(argc, argv, "c:e:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->path = optarg;
            break;
        case 'e':
            o->entity = optarg;
            break;
        case 'C':
            o->csv = optarg;
            break;
        case 'T':
            o->from_table = optarg;
            break;
        case 'S':
            o->source_table = optarg;
            break;
        case 'D':
            o->from_db = optarg;
            break;
        case 'h':
            import_usage(stdout);
            return -1;
        default:
            return TOOL_EXIT_USAGE;
        }
    }
    if (optind < argc || o->entity == NULL ||
        (o->csv == NULL) == (o->from_table == NULL) ||
        (o->from_table != NULL) != (o->source_table != NULL) ||
        (strcmp(o->from_db, "target") != 0 &&
         strcmp(o->from_db, "source") != 0)) {
        fprintf(stderr, "ferry-map import-ids: give --entity and either "
                        "--csv, or --from-table with --source-table\n");
        return TOOL_EXIT_USAGE;
    }
    return 0;
}

static int
import_table(PGconn *tgt, const map_config_t *cfg, const map_entity_t *e,
             const import_opts_t *o, long *n, ferry_err_t *err)
{
    char schema[256];
    const char *dot = strchr(o->from_table, '.');
    const char *table = dot ? dot + 1 : o->from_table;
    PGconn *from = tgt;
    char msg[1024];
    int rc;

    snprintf(schema, sizeof(schema), "%.*s",
             dot ? (int)(dot - o->from_table) : 6,
             dot ? o->from_table : "public");
    if (strcmp(o->from_db, "source") == 0) {
        from = tool_connect(cfg->source_dsn, "source", msg, sizeof(msg));
        if (from == NULL)
            return ferry_err_set(err, FERRY_ETRANSIENT, "%s", msg);
    }
    rc = map_idmap_import_table(tgt, cfg, e, from, schema, table,
                                o->source_table, n, err);
    if (from != tgt)
        PQfinish(from);
    return rc;
}

int
tool_cmd_import_ids(int argc, char **argv)
{
    import_opts_t o = {.path = "ferry.yaml", .from_db = "target"};
    map_config_t *cfg = NULL;
    const map_entity_t *e;
    PGconn *tgt = NULL;
    FILE *csv = NULL;
    ferry_err_t err = {0};
    char msg[1024];
    long n = 0;
    int rc = parse_opts(argc, argv, &o);

    if (rc != 0)
        return rc < 0 ? TOOL_EXIT_OK : tool_usage_error("import-ids ");
    rc = TOOL_EXIT_USAGE;
    cfg = tool_load_config(o.path);
    if (cfg == NULL)
        goto done;
    e = map_config_entity(cfg, o.entity);
    if (e == NULL) {
        fprintf(stderr, "ferry-map import-ids: no entity \"%s\" in \"%s\"\n",
                o.entity, o.path);
        goto done;
    }
    if (o.csv && (csv = fopen(o.csv, "rb")) == NULL) {
        fprintf(stderr, "ferry-map import-ids: could not open \"%s\": %s\n",
                o.csv, strerror(errno));
        goto done;
    }
    rc = TOOL_EXIT_PROBLEMS;
    tgt = tool_connect(cfg->target_dsn, "target", msg, sizeof(msg));
    if (tgt == NULL) {
        fprintf(stderr, "ferry-map import-ids: %s\n", msg);
        goto done;
    }
    if ((csv ? map_idmap_import_csv(tgt, cfg, e, csv, &n, &err)
             : import_table(tgt, cfg, e, &o, &n, &err)) != 0) {
        fprintf(stderr,
                "ferry-map import-ids: could not import into entity \"%s\": "
                "%s\n",
                e->name, err.msg);
        goto done;
    }
    printf("imported %ld mapping(s) for entity \"%s\"\n", n, e->name);
    rc = TOOL_EXIT_OK;

done:
    if (csv)
        fclose(csv);
    PQfinish(tgt);
    map_config_free(cfg);
    return rc;
}
