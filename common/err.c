/* Error and event-kind names (include/heaptrail/err.h, event.h). */
#include "heaptrail/err.h"
#include "heaptrail/event.h"

const char *ht_strerror(ht_err err)
{
    switch (err) {
#define HT__ERR_CASE(name, value, text)                                       \
    case name:                                                                \
        return text;
        HT_ERR_LIST(HT__ERR_CASE)
#undef HT__ERR_CASE
    }
    return "unknown error";
}

const char *ht_event_kind_name(unsigned kind)
{
    switch (kind) {
#define HT__EV_CASE(name, value, text)                                        \
    case value:                                                               \
        return text;
        HT_EVENT_KIND_LIST(HT__EV_CASE)
#undef HT__EV_CASE
    }
    return "unknown";
}
