/* cli_error_msg: see cli.h. In heaptrail and heaptrail-analyze, which
 * does not link the store (hence the detail as an argument). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_error_msg(const char *what, ht_err err, const char *detail)
{
    size_t wl = strlen(what);
    if (detail && !strncmp(detail, what, wl) && detail[wl] == ':')
        what = NULL; /* the detail already names it */
    if (!what)
        fprintf(stderr, "heaptrail: %s (%s)\n", detail, ht_strerror(err));
    else if (detail && *detail)
        fprintf(stderr, "heaptrail: %s: %s (%s)\n", what, detail,
                ht_strerror(err));
    else
        fprintf(stderr, "heaptrail: %s: %s\n", what, ht_strerror(err));
}
