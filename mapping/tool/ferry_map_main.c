/* ferry-map: plans, checks and validates the mapping in ferry.yaml.
 * mapping/tool/ferry_map_main.c
 *
 * Only dispatch lives here; each command is in its own cmd_*.c file.
 */
#include "ferry_log.h"
#include "ferry_map.h"
#include "ferry_version.h"

#include <stdio.h>
#include <string.h>

static void
usage(FILE *out)
{
    fprintf(
        out,
        "ferry-map owns the mapping file (ferry.yaml) that tells ferry how\n"
        "legacy tables become target tables.\n\n"
        "Usage:\n"
        "  ferry-map COMMAND --config FILE [OPTION]...\n\n"
        "Commands:\n"
        "  plan        print the entities in apply (dependency) order\n"
        "  check       check the mapping against the live databases\n"
        "  validate    compare source and target through the mapping\n"
        "  import-ids  import legacy key -> UUID pairs of an earlier "
        "migration\n"
        "  keys        print the reference of every key ferry.yaml may hold\n"
        "  status      the running pipeline at a glance (exit 0 healthy, 1\n"
        "              warning, 2 critical)\n\n"
        "Options:\n"
        "  -c, --config=FILE   the mapping file (default ./ferry.yaml)\n"
        "  -V, --version       print the version and exit\n"
        "  -h, --help          show this help and exit\n\n"
        "Examples:\n"
        "  ferry-map plan --config ferry.yaml\n"
        "  ferry-map plan --config ferry.yaml --format json\n"
        "  LEGACY_PW=... ferry-map check --config ferry.yaml\n"
        "  ferry-map validate --config ferry.yaml --format json\n"
        "  ferry-map status --config ferry.yaml --json\n"
        "  ferry-map import-ids --config ferry.yaml --entity offices \\\n"
        "      --csv offices.csv\n\n"
        "Run \"ferry-map COMMAND --help\" for a command's options.  Exit "
        "status:\n"
        "0 nothing to fix, 1 problems found, 2 usage or mapping file errors.\n"
        "The mapping reference is docs/mapping.md.\n");
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    ferry_log_init("ferry-map");
    if (cmd == NULL) {
        usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        usage(stdout);
        return TOOL_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("ferry-map %s\n", FERRY_VERSION);
        return TOOL_EXIT_OK;
    }
    if (strcmp(cmd, "plan") == 0)
        return tool_cmd_plan(argc - 1, argv + 1);
    if (strcmp(cmd, "check") == 0)
        return tool_cmd_check(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return tool_cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "import-ids") == 0)
        return tool_cmd_import_ids(argc - 1, argv + 1);
    if (strcmp(cmd, "status") == 0)
        return tool_cmd_status(argc - 1, argv + 1);
    if (strcmp(cmd, "keys") == 0)
        return tool_cmd_keys(argc - 1, argv + 1);
    fprintf(stderr, "ferry-map: unknown command \"%s\"\n", cmd);
    return tool_usage_error(NULL);
}
