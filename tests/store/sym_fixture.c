/*
 * Fixture for test_symbolize (built with -g -O2 -fno-optimize-sibling-calls).
 * Prints its load bias and the return addresses recorded by my_alloc() at the
 * two marked call sites, one of them inside an inlined function, then the
 * load bias of sym_fixture_lib and the return address of its call site. The
 * test finds the expected line:column by searching the sources for markers.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uintptr_t last_pc;

__attribute__((noinline)) void *my_alloc(size_t n)
{
    last_pc = (uintptr_t)__builtin_return_address(0);
    __asm__ volatile("" ::: "memory");
    return malloc(n);
}

static inline void *inl_make(size_t n)
{
    void *p = my_alloc(n * 2); /* SITE_INLINE */
    return p;
}

__attribute__((noinline)) void *outer_inline(size_t n)
{
    void *p = inl_make(n);
    __asm__ volatile("" ::: "memory");
    return p;
}

__attribute__((noinline)) void *outer_direct(size_t n)
{
    void *p = my_alloc(n + 1); /* SITE_DIRECT */
    __asm__ volatile("" ::: "memory");
    return p;
}

extern uintptr_t sym_lib_pc;
void *lib_site(size_t n);

static int lib_bias(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, "libsym_fixture_lib")) {
        *(uintptr_t *)data = (uintptr_t)info->dlpi_addr;
        return 1;
    }
    return 0;
}

static int first_bias(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    *(uintptr_t *)data = (uintptr_t)info->dlpi_addr;
    return 1; /* stop after the first object: the main program */
}

int main(void)
{
    uintptr_t bias = 0;
    dl_iterate_phdr(first_bias, &bias);
    free(outer_direct(10));
    printf("bias %#lx\n", (unsigned long)bias);
    printf("direct %#lx\n", (unsigned long)last_pc);
    free(outer_inline(10));
    printf("inline %#lx\n", (unsigned long)last_pc);
    free(lib_site(10));
    dl_iterate_phdr(lib_bias, &bias);
    printf("libbias %#lx\n", (unsigned long)bias);
    printf("lib %#lx\n", (unsigned long)sym_lib_pc);
    return 0;
}
