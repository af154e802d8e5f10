/*
 * SARIF 2.1.0 output: one SARIF run per heaptrail run; results for leaks
 * (per allocation site and kind), cycles, refcount errors and bad frees.
 * Each result's location is the allocation (or error) site; relatedLocations
 * hold the site that dropped the last reference and the stores that made
 * the cycle's edges. Rule ids are documented in docs/report-json.md.
 */
#include <jansson.h>
#include <string.h>

#include "report_int.h"

static const struct rule {
    const char *id, *name, *text, *level;
} rules[] = {
    {"HT1001", "DefinitelyLost", "A heap block is no longer referenced by any"
     " recorded pointer: it leaked.", "error"},
    {"HT1002", "IndirectlyLost", "A heap block is referenced only by leaked"
     " blocks.", "warning"},
    {"HT1003", "LostInCycle", "Heap blocks that reference each other in a"
     " cycle are no longer reachable: reference counting alone never frees"
     " them.", "error"},
    {"HT2001", "InvalidFree", "free() or realloc() of an address that was"
     " never allocated.", "error"},
    {"HT2002", "DoubleFree", "A block was freed twice.", "error"},
    {"HT2003", "ReallocFreed", "realloc() of a block already freed.", "error"},
    {"HT2004", "StoreIntoFreed", "A pointer was stored into a freed block.",
     "error"},
    {"HT2005", "MissedFree", "An address was allocated again while live: a"
     " free was not recorded.", "note"},
    {"HT3001", "RefcountBelowZero", "A reference count went below zero.",
     "error"},
    {"HT3002", "FreedWithRefs", "A block was freed while its reference count"
     " was above zero.", "error"},
    {"HT3003", "RefcountNotZero", "A block live and unreachable at exit whose"
     " reference count never reached zero.", "error"},
    {"HT9999", "OtherError", "Another error found by the replay.", "warning"},
};
enum { R_DEF, R_IND, R_CYC, R_NRULES = sizeof rules / sizeof rules[0] };

static int rule_of_error(const char *kind)
{
    static const char *const kinds[] = {"invalid_free", "double_free",
        "realloc_freed", "store_into_freed", "missed_free",
        "refcount_below_zero", "freed_with_refs", "refcount_not_zero"};
    for (int i = 0; i < (int)(sizeof kinds / sizeof kinds[0]); i++)
        if (kind && !strcmp(kind, kinds[i]))
            return 3 + i;
    return R_NRULES - 1;
}

static json_t *driver(void)
{
    json_t *rs = json_array();
    for (int i = 0; i < R_NRULES; i++)
        json_array_append_new(rs, json_pack(
            "{s:s,s:s,s:{s:s},s:{s:s},s:{s:s}}", "id", rules[i].id, "name",
            rules[i].name, "shortDescription", "text", rules[i].text,
            "defaultConfiguration", "level", rules[i].level, "help", "text",
            "heaptrail docs/report-json.md, section \"SARIF rules\""));
    return json_pack("{s:{s:s,s:s,s:o}}", "driver", "name", "heaptrail",
                     "version", "0.1.0", "rules", rs);
}

/* RFC 3986 URI of a path: absolute paths become file:// URIs; every byte
 * outside the unreserved set and '/' is percent-encoded (spaces, '#', '%',
 * non-ASCII...). Truncated to fit n. */
static void path_uri(const char *path, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = (size_t)snprintf(out, n, "%s", path[0] == '/' ? "file://" : "");
    for (const unsigned char *c = (const unsigned char *)path; *c && k + 4 < n; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
            (*c >= '0' && *c <= '9') || strchr("-._~/", *c)) {
            out[k++] = (char)*c;
        } else {
            out[k++] = '%';
            out[k++] = hex[*c >> 4];
            out[k++] = hex[*c & 15];
        }
    }
    out[k] = 0;
}

/* A SARIF location for loc with an optional message and id (-1: none). */
static json_t *location(const struct ht_report_loc *l, const char *msg, int id)
{
    json_t *o = json_object();
    if (id >= 0)
        json_object_set_new(o, "id", json_integer(id));
    if (l->file) {
        char uri[12400];
        path_uri(l->file, uri, sizeof uri);
        json_t *region = json_object();
        if (l->line > 0)
            json_object_set_new(region, "startLine", json_integer(l->line));
        if (l->col > 0)
            json_object_set_new(region, "startColumn", json_integer(l->col));
        json_object_set_new(o, "physicalLocation", json_pack("{s:{s:s},s:o}",
                            "artifactLocation", "uri", uri, "region", region));
    }
    char name[64];
    snprintf(name, sizeof name, "0x%llx", (unsigned long long)l->key);
    json_object_set_new(o, "logicalLocations", json_pack("[{s:s,s:s}]",
                        "name", l->func ? l->func : name, "kind",
                        l->func ? "function" : "address"));
    if (msg)
        json_object_set_new(o, "message", json_pack("{s:s}", "text", msg));
    return o;
}

static json_t *result(int rule, const char *msg, json_t *loc, int suppressed)
{
    json_t *o = json_pack("{s:s,s:i,s:s,s:{s:s},s:[o]}", "ruleId",
                          rules[rule].id, "ruleIndex", rule, "level",
                          rules[rule].level, "message", "text", msg,
                          "locations", loc);
    if (suppressed)
        json_object_set_new(o, "suppressions", json_pack("[{s:s,s:s}]",
                            "kind", "external", "justification",
                            "heaptrail --suppressions"));
    return o;
}

static void leak_results(const struct ht_report *r, json_t *res)
{
    char msg[2048];
    for (size_t i = 0; i < r->nleaks; i++) {
        const struct ht_report_leak *l = &r->leaks[i];
        if (l->kind == HT_LEAK_CYCLE)
            continue; /* one result per cycle instead */
        snprintf(msg, sizeof msg, "%llu bytes in %llu blocks %s, allocated"
                 " here.", (unsigned long long)l->bytes,
                 (unsigned long long)l->blocks, ht_report_kind_words(l->kind));
        json_t *o = result(l->kind == HT_LEAK_DEFINITE ? R_DEF : R_IND, msg,
                           location(&l->alloc, NULL, -1), l->suppressed);
        if (l->has_lost_at) {
            snprintf(msg, sizeof msg, "last reference dropped here (%s, event"
                     " %llu)", l->lost_by ? l->lost_by : "?",
                     (unsigned long long)l->lost_seq);
            json_object_set_new(o, "relatedLocations",
                                json_pack("[o]", location(&l->lost_at, msg, 1)));
        }
        json_array_append_new(res, o);
    }
}

static void cycle_results(const struct ht_report *r, json_t *res)
{
    char msg[2048];
    for (size_t i = 0; i < r->ncycles; i++) {
        const struct ht_report_cycle *c = &r->cycles[i];
        if (!c->nmembers)
            continue;
        snprintf(msg, sizeof msg, "%llu bytes in a cycle of %zu blocks,"
                 " unreachable; block A allocated here.",
                 (unsigned long long)c->bytes, c->nmembers);
        json_t *o = result(R_CYC, msg, location(&c->members[0].alloc, NULL, -1),
                           c->suppressed);
        json_t *rel = json_array();
        int id = 1;
        for (size_t m = 1; m < c->nmembers; m++) {
            snprintf(msg, sizeof msg, "cycle member %c allocated here",
                     c->members[m].label);
            json_array_append_new(rel, location(&c->members[m].alloc, msg, id++));
        }
        for (size_t k = 0; k < c->nedges; k++) {
            const struct ht_report_edge *e = &c->edges[k];
            if (!e->store.file)
                continue;
            snprintf(msg, sizeof msg, "edge %c+%llu -> %c stored here",
                     c->members[e->from].label,
                     (unsigned long long)e->offset, c->members[e->to].label);
            json_array_append_new(rel, location(&e->store, msg, id++));
        }
        if (json_array_size(rel))
            json_object_set_new(o, "relatedLocations", rel);
        else
            json_decref(rel);
        json_array_append_new(res, o);
    }
}

static void error_results(const struct ht_report *r, json_t *res)
{
    char msg[1024];
    for (size_t i = 0; i < r->nerrors; i++) {
        const struct ht_report_error *x = &r->errors[i];
        snprintf(msg, sizeof msg, "%s (%llu times, first at event %llu).",
                 x->kind ? x->kind : "?", (unsigned long long)x->count,
                 (unsigned long long)x->first_seq);
        json_array_append_new(res, result(rule_of_error(x->kind), msg,
                              location(&x->at, NULL, -1), x->suppressed));
    }
}

ht_err ht_report_sarif(const struct ht_report *runs, size_t n, FILE *out)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *res = json_array();
        leak_results(&runs[i], res);
        cycle_results(&runs[i], res);
        error_results(&runs[i], res);
        char rid[64];
        snprintf(rid, sizeof rid, "heaptrail/run/%lld",
                 (long long)runs[i].run_id);
        json_array_append_new(arr, json_pack("{s:o,s:{s:s},s:o}", "tool",
                              driver(), "automationDetails", "id", rid,
                              "results", res));
    }
    json_t *doc = json_pack("{s:s,s:s,s:o}", "$schema",
                            "https://json.schemastore.org/sarif-2.1.0.json",
                            "version", "2.1.0", "runs", arr);
    int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    fputc('\n', out);
    return rc || ferror(out) ? HT_EIO : HT_OK;
}
