/* ferry-map keys: the reference of every key ferry.yaml may hold.
 * mapping/tool/cmd_keys.c */
#include "ferry_map.h"

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
               "itself validates against.\n\n"
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
    return TOOL_EXIT_OK;
}
