/* ferry-sink: applies ferry-cdc's topics to the target database.
 * sink/main.c */
#include "ferry_log.h"
#include "ferry_version.h"

#include <getopt.h>
#include <stdio.h>

static void
usage(FILE *out)
{
    fprintf(out,
            "ferry-sink consumes the topics written by ferry-cdc and applies\n"
            "source-wins upserts to the target database, in foreign-key\n"
            "dependency order, resolving legacy integer keys to UUIDs.\n\n"
            "Usage:\n"
            "  ferry-sink --config FILE [OPTION]...\n\n"
            "Options:\n"
            "  -c, --config=FILE   the mapping file (default ./ferry.yaml)\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          show this help and exit\n\n"
            "Applying changes is not implemented in this version.\n");
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

    ferry_log_init("ferry-sink");
    while ((c = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            break;
        case 'V':
            printf("ferry-sink %s\n", FERRY_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr,
                    "Try \"ferry-sink --help\" for more information.\n");
            return 2;
        }
    }
    ferry_error("applying changes is not implemented in this version");
    return 1;
}
