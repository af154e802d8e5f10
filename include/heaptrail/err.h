/*
 * heaptrail error codes.
 *
 * Every function that can fail returns an ht_err (0 = HT_OK) and writes its
 * results through out-parameters that are zeroed on failure. Deep code never
 * prints; the CLI turns codes into messages with ht_strerror().
 */
#ifndef HEAPTRAIL_ERR_H
#define HEAPTRAIL_ERR_H

#define HT_ERR_LIST(X)                                                        \
    X(HT_OK, 0, "success")                                                    \
    X(HT_ENOMEM, -1, "out of memory")                                         \
    X(HT_EIO, -2, "input/output error")                                       \
    X(HT_ECORRUPT, -3, "file is corrupt")                                     \
    X(HT_ETRUNC, -4, "file is truncated")                                     \
    X(HT_EVERSION, -5, "file was written by a newer heaptrail version")       \
    X(HT_ENOTTRACE, -6, "not a heaptrail trace")                              \
    X(HT_EINVAL, -7, "invalid argument")                                      \
    X(HT_ENOENT, -8, "no such file")                                          \
    X(HT_ESQL, -9, "SQL error")                                               \
    X(HT_EBUSY, -10, "resource busy (the recording process is still alive)")  \
    X(HT_EPARSE, -11, "parse error")                                          \
    X(HT_EEXEC, -12, "could not run program")                                 \
    X(HT_EUNSUPPORTED, -13, "not supported")                                  \
    X(HT_ENOTFOUND, -14, "not found")                                         \
    X(HT_EPERM, -15, "permission denied")

typedef enum ht_err {
#define HT__ERR_ENUM(name, value, text) name = value,
    HT_ERR_LIST(HT__ERR_ENUM)
#undef HT__ERR_ENUM
} ht_err;

/* Static English text for an error code; never NULL. */
const char *ht_strerror(ht_err err);

#endif
