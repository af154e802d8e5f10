/*
 * heaptrail-analyze: the libclang side of the heaptrail command.
 *
 * `heaptrail analyze` and `heaptrail instrument` exec this program (next to
 * the heaptrail binary) so that every other command starts without loading
 * libclang and LLVM (~25 ms of dynamic linking per start, measured with
 * strace on `heaptrail run` of an empty program).
 * Usage: heaptrail-analyze analyze|instrument ARGS...
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "analyze"))
        return cmd_analyze(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "instrument"))
        return cmd_instrument(argc - 1, argv + 1);
    fputs("usage: heaptrail-analyze analyze|instrument ARGS... (run it as"
          " heaptrail analyze / heaptrail instrument)\n", stderr);
    return 2;
}
