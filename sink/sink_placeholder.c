/* Placeholder so the library has a member until the sink lands.
 * sink/sink_placeholder.c */
int sink_placeholder(void);

int
sink_placeholder(void)
{
    return 0;
}
