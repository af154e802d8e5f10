/*
 * Tests: the site table heaptrail-cc puts in an object's .heaptrail.sites
 * ELF section, dumped to a TSV file with objcopy (binutils), so tests can
 * read it like the old per-object .htsites file.
 */
#ifndef HT_TEST_SITES_SECTION_H
#define HT_TEST_SITES_SECTION_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Write obj's .heaptrail.sites section to out. 0 on success, -1 if objcopy
 * failed (no such object, or no section). */
static inline int ht_test_dump_sites(const char *obj, const char *out)
{
    char arg[4200], tmp[4200];
    snprintf(arg, sizeof arg, ".heaptrail.sites=%s", out);
    snprintf(tmp, sizeof tmp, "%s.objcopy-tmp", out);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execlp("objcopy", "objcopy", "--dump-section", arg, obj, tmp,
               (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0)
        return -1;
    unlink(tmp);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

#endif
