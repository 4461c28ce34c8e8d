/* ferry-map keys: the reference of every key ferry.yaml may hold, and of
 * every transform.
 * mapping/tool/cmd_keys.c */
#include "ferry_map.h"
#include "map_rules.h"

#include <stdio.h>
#include <string.h>

int
tool_cmd_keys(int argc, char **argv)
{
    if (argc > 1 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("ferry-map keys prints every key of ferry.yaml (section, "
               "key, type,\n"
               "default, meaning) as a Markdown table, from the table the "
               "parser\n"
               "itself validates against, then every transform (name, "
               "meaning) from\n"
               "the table of the value rules.\n\n"
               "Usage:\n"
               "  ferry-map keys\n");
        return TOOL_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "ferry-map keys: unexpected argument \"%s\"\n",
                argv[1]);
        return tool_usage_error("keys ");
    }
    map_config_print_keys(stdout);
    printf("\n");
    map_rules_print_transforms(stdout);
    return TOOL_EXIT_OK;
}
