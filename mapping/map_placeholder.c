/* Placeholder so the library has a member until the model lands.
 * mapping/map_placeholder.c */
int map_placeholder(void);

int
map_placeholder(void)
{
    return 0;
}
