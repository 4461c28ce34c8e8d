/* The mapping reference in docs/ carries the key table the parser uses:
 * every row `ferry-map keys` prints must be in docs/mapping.md as is.
 * tests/unit/mapping/test_map_docs.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    FILE *mem;
    char buf[4096];
    size_t n;

    if (f == NULL)
        return NULL;
    mem = open_memstream(&text, &len);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(mem);
    fclose(f);
    return text;
}

static void
test_docs_carry_every_key(void **state)
{
    char *docs = slurp("../../../docs/mapping.md");
    char *table = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&table, &len);
    char *line;
    char *nl;

    (void)state;
    assert_non_null(docs);
    map_config_print_keys(out);
    fclose(out);
    for (line = table; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (strstr(docs, line) == NULL)
            fail_msg("docs/mapping.md lacks the row: %s\n"
                     "(regenerate it with \"ferry-map keys\")",
                     line);
    }
    free(table);
    free(docs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_carry_every_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
