/* A store macro defined in a header (see macroedge.c). */
#define HLINK(a, b) ((a)->next = (b))
