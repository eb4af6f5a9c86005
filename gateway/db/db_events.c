#include "db_events.h"

#include <errno.h>

#include "gw_db.h"

int gw_db_events_listen(PGconn *c)
{
    return gw_db_run(c,
                     "LISTEN photo_queued; LISTEN review_changed; LISTEN acta_accepted;"
                     " LISTEN capture_changed",
                     0, NULL, PGRES_COMMAND_OK, NULL);
}

int gw_db_notifies_drain(PGconn *c, bool consume)
{
    PGnotify *n;
    int count = 0;

    if (consume && PQconsumeInput(c) == 0)
        return -EIO;
    while ((n = PQnotifies(c))) {
        count++;
        PQfreemem(n);
    }
    return count;
}
