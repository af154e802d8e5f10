/* heaptrail sql: SQL over a trace, printed like the sqlite3 shell. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char sql_usage[] =
    "NAME\n"
    "    heaptrail sql - query a trace with SQL\n"
    "\n"
    "SYNOPSIS\n"
    "    heaptrail sql [--write] [--header] [--separator S] TRACE [SQL]\n"
    "\n"
    "DESCRIPTION\n"
    "    Runs SQL against TRACE with the 'events' virtual table registered\n"
    "    (one row per recorded event: run_id, seq, kind, tid, addr, size,\n"
    "    old_addr, value, old_value, site, pc, a, b, c, d). Rows print as the\n"
    "    sqlite3 shell prints them: values separated by '|', NULL as empty.\n"
    "    Without SQL, reads statements from standard input (a shell).\n"
    "    Tables: docs/trace-format.md.\n"
    "\n"
    "OPTIONS\n"
    "    --write         allow statements that write (read-only otherwise)\n"
    "    --header        print the column names first\n"
    "    --separator S   column separator (default '|')\n"
    "\n"
    "EXIT STATUS\n"
    "    0 success; 1 SQL error or unreadable trace; 2 bad usage.\n"
    "\n"
    "EXAMPLES\n"
    "    heaptrail sql trace.db \"SELECT kind, count(*) FROM events GROUP BY kind\"\n"
    "    heaptrail sql --header trace.db \"SELECT * FROM leak_summary\"\n";

struct printer {
    const char *sep;
    int header, printed_header;
};

static int print_row(void *ctx, int ncol, const char *const *v,
                     const char *const *names)
{
    struct printer *p = ctx;
    if (p->header && !p->printed_header) {
        for (int i = 0; i < ncol; i++)
            printf("%s%s", i ? p->sep : "", names[i]);
        putchar('\n');
        p->printed_header = 1;
    }
    for (int i = 0; i < ncol; i++)
        printf("%s%s", i ? p->sep : "", v[i] ? v[i] : "");
    putchar('\n');
    return 0;
}

static int run_sql(ht_store *st, const char *sql, int write, struct printer *p)
{
    p->printed_header = 0;
    ht_err e = ht_store_query(st, sql, !write, print_row, p);
    if (e != HT_OK) {
        fprintf(stderr, "heaptrail sql: %s\n", ht_store_last_error());
        return 1;
    }
    return 0;
}

static int shell(ht_store *st, int write, struct printer *p)
{
    int tty = isatty(0);
    char *line = NULL, *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = 0;
    if (tty)
        fprintf(stderr, "heaptrail sql shell; end statements with ';', Ctrl-D to quit\n");
    for (;;) {
        if (tty)
            fputs(len ? "   ...> " : "heaptrail> ", stderr);
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0)
            break;
        char *nb = realloc(buf, len + (size_t)n + 1);
        if (!nb) {
            rc = 1;
            break;
        }
        buf = nb;
        memcpy(buf + len, line, (size_t)n + 1);
        len += (size_t)n;
        if (ht_store_sql_complete(buf)) {
            rc |= run_sql(st, buf, write, p);
            len = 0;
            buf[0] = 0;
        }
    }
    if (len && !rc)
        rc |= run_sql(st, buf, write, p);
    free(line);
    free(buf);
    return rc;
}

int cmd_sql(int argc, char **argv)
{
    int write = 0;
    struct printer p = {.sep = "|"};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--write"))
            write = 1;
        else if (!strcmp(argv[i], "--header"))
            p.header = 1;
        else if (!strcmp(argv[i], "--separator") && i + 1 < argc)
            p.sep = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(sql_usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "heaptrail sql: unknown option '%s'\n%s", argv[i], sql_usage);
            return 2;
        }
    }
    if (i >= argc || argc - i > 2) {
        fputs(sql_usage, stderr);
        return 2;
    }
    ht_store *st = cli_open_trace(argv[i], 0, !write);
    if (!st)
        return 1;
    int rc = i + 1 < argc ? run_sql(st, argv[i + 1], write, &p) : shell(st, write, &p);
    ht_store_close(st);
    return rc;
}
