/* ferry-map: plans, checks and validates the mapping in ferry.yaml.
 * mapping/tool/ferry_map_main.c */
#include "ferry_log.h"
#include "ferry_version.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void
usage(FILE *out)
{
    fprintf(out,
            "ferry-map owns the mapping file (ferry.yaml) that tells ferry how\n"
            "legacy tables become target tables.\n\n"
            "Usage:\n"
            "  ferry-map COMMAND --config FILE [OPTION]...\n\n"
            "Commands:\n"
            "  plan     print the entities in apply (dependency) order\n"
            "  check    check the mapping against the live databases\n\n"
            "Options:\n"
            "  -c, --config=FILE   the mapping file (default ./ferry.yaml)\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          show this help and exit\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;

    ferry_log_init("ferry-map");
    while ((c = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            break;
        case 'V':
            printf("ferry-map %s\n", FERRY_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "Try \"ferry-map --help\" for more information.\n");
            return 2;
        }
    }
    usage(stderr);
    return 2;
}
