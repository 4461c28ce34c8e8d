/* The mapping reference in docs/ carries the key table the parser uses and
 * the table of transforms the value rules use: every row `ferry-map keys`
 * prints must be in docs/mapping.md as is, and the transforms' table there
 * must hold those rows and no others.
 * tests/unit/mapping/test_map_docs.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "map_config.h"
#include "map_rules.h"

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

/* What print writes, as a new string (free with free()). */
static char *
printed(void (*print)(FILE *out))
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    print(out);
    fclose(out);
    assert_non_null(text);
    return text;
}

static void
test_docs_carry_every_key(void **state)
{
    char *docs = slurp("../../../docs/mapping.md");
    char *table = printed(map_config_print_keys);
    char *line;
    char *nl;

    (void)state;
    assert_non_null(docs);
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

/* The whole table as one block: every row in order, none missing, none
 * more (the line after the block is no row). */
static void
test_docs_list_exactly_the_transforms(void **state)
{
    char *docs = slurp("../../../docs/mapping.md");
    char *table = printed(map_rules_print_transforms);
    size_t len = strlen(table);
    const char *at;

    (void)state;
    assert_non_null(docs);
    at = strstr(docs, table);
    if (at == NULL)
        fail_msg("docs/mapping.md lacks the table of transforms, as "
                 "\"ferry-map keys\" prints it:\n%s",
                 table);
    if (strstr(at + 1, "| transform | what it does |") != NULL)
        fail_msg("docs/mapping.md has the table of transforms twice");
    if (at[len] == '|')
        fail_msg("docs/mapping.md lists a transform the code does not "
                 "have: %.*s",
                 (int)strcspn(at + len, "\n"), at + len);
    free(table);
    free(docs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_carry_every_key),
        cmocka_unit_test(test_docs_list_exactly_the_transforms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
