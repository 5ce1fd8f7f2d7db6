/*
 * top.h - `ringqctl top`: a live terminal view of queues and agents, kept
 * up to date from the monitor stream (subscribe), drawn with plain ANSI
 * escape codes.
 */
#ifndef CTL_TOP_H
#define CTL_TOP_H

#include "conn.h"

/* Run the view on a connection that said hello as a monitor until `q`, a
 * stop signal or the connection's end. where: "host:port" or the socket path;
 * version: the daemon's, from the hello reply. Returns the exit status. */
int ctl_top_run(struct ctl_conn *c, const char *where, const char *version, int timeout_ms);

#endif
