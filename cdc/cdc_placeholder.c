/* Placeholder so the library has a member until the cdc lands.
 * cdc/cdc_placeholder.c */
int cdc_placeholder(void);

int
cdc_placeholder(void)
{
    return 0;
}
