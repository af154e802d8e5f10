/*
 * Shared-object part of the symbolizer fixture: one marked call site whose
 * return address is recorded, to check lookups with a shared object's bias.
 */
#include <stdint.h>
#include <stdlib.h>

uintptr_t sym_lib_pc;

__attribute__((noinline)) void *lib_alloc(size_t n)
{
    sym_lib_pc = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
    return malloc(n);
}

__attribute__((noinline)) void *lib_site(size_t n)
{
    void *p = lib_alloc(n + 3); /* SITE_LIB */
    __asm__ volatile("" ::: "memory");
    return p;
}
