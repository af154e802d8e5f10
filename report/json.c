/*
 * The JSON report (schema in docs/report-json.md, "schema_version": 1),
 * built with jansson so every string is escaped by the library.
 * Addresses and pcs are hex strings ("0x..."): JSON numbers lose 64-bit
 * precision in most readers.
 */
#include <jansson.h>
#include <string.h>

#include "report_int.h"

static json_t *hex(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "0x%llx", (unsigned long long)v);
    return json_string(buf);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* {"file","line","col","function"[,"type","field"]} or {"key": "0x.."} */
static json_t *ht__json_loc(const struct ht_report_loc *l)
{
    json_t *o = json_object();
    if (!l->file) {
        json_object_set_new(o, "unresolved", hex(l->key));
        return o;
    }
    json_object_set_new(o, "file", json_string(l->file));
    json_object_set_new(o, "line", json_integer(l->line));
    json_object_set_new(o, "col", json_integer(l->col));
    json_object_set_new(o, "function", str_or_null(l->func));
    if (l->type)
        json_object_set_new(o, "type", json_string(l->type));
    if (l->field)
        json_object_set_new(o, "field", json_string(l->field));
    return o;
}

static json_t *u(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *run_obj(const struct ht_report *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_integer(r->run_id));
    json_object_set_new(o, "program", str_or_null(r->program));
    json_object_set_new(o, "argv", str_or_null(r->argv));
    json_object_set_new(o, "pid", r->pid >= 0 ? json_integer(r->pid) : json_null());
    json_object_set_new(o, "status", str_or_null(r->status));
    json_object_set_new(o, "exit_status", r->exit_status >= 0
                        ? json_integer(r->exit_status) : json_null());
    json_object_set_new(o, "signal", r->signal >= 0 ? json_integer(r->signal)
                                                    : json_null());
    json_object_set_new(o, "complete", json_boolean(r->complete));
    json_object_set_new(o, "replayed", json_boolean(r->has_stats));
    return o;
}

static json_t *stats_obj(const struct ht_report *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "events", u(r->events));
    json_object_set_new(o, "allocs", u(r->allocs));
    json_object_set_new(o, "reallocs", u(r->reallocs));
    json_object_set_new(o, "frees", u(r->frees));
    json_object_set_new(o, "bytes_allocated", u(r->bytes_allocated));
    json_object_set_new(o, "invalid_frees", u(r->invalid_frees));
    json_object_set_new(o, "peak", json_pack("{s:o,s:o,s:o}", "bytes",
                        u(r->peak_bytes), "blocks", u(r->peak_blocks), "seq",
                        u(r->peak_seq)));
    json_object_set_new(o, "live_at_exit", json_pack("{s:o,s:o}", "blocks",
                        u(r->live_blocks), "bytes", u(r->live_bytes)));
    return o;
}

static json_t *summary_obj(const struct ht_report *r)
{
    json_t *o = json_object();
    for (int k = 0; k < HT_LEAK_KINDS; k++)
        json_object_set_new(o, ht_report_kind_name((enum ht_report_leak_kind)k),
                            json_pack("{s:o,s:o}", "blocks",
                                      u(r->leak_blocks[k]), "bytes",
                                      u(r->leak_bytes[k])));
    json_object_set_new(o, "suppressed", json_pack("{s:o,s:o}", "blocks",
                        u(r->suppressed_blocks), "bytes",
                        u(r->suppressed_bytes)));
    return o;
}

static json_t *leaks_arr(const struct ht_report *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->nleaks; i++) {
        const struct ht_report_leak *l = &r->leaks[i];
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(ht_report_kind_name(l->kind)));
        json_object_set_new(o, "blocks", u(l->blocks));
        json_object_set_new(o, "bytes", u(l->bytes));
        json_object_set_new(o, "alloc_site", ht__json_loc(&l->alloc));
        json_object_set_new(o, "first_alloc_seq", u(l->first_alloc_seq));
        json_object_set_new(o, "lost_by", str_or_null(l->lost_by));
        json_object_set_new(o, "lost_seq", l->lost_seq ? u(l->lost_seq)
                                                       : json_null());
        json_object_set_new(o, "lost_at", l->has_lost_at
                            ? ht__json_loc(&l->lost_at) : json_null());
        json_object_set_new(o, "suppressed", json_boolean(l->suppressed));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *cycle_obj(const struct ht_report_cycle *c)
{
    json_t *o = json_object(), *ms = json_array(), *es = json_array();
    json_object_set_new(o, "cycle_id", json_integer(c->id));
    json_object_set_new(o, "bytes", u(c->bytes));
    json_object_set_new(o, "suppressed", json_boolean(c->suppressed));
    for (size_t i = 0; i < c->nmembers; i++) {
        const struct ht_report_member *m = &c->members[i];
        char lab[2] = {m->label, 0};
        json_array_append_new(ms, json_pack("{s:s,s:o,s:o,s:o,s:o}", "label",
                              lab, "addr", hex(m->addr), "size", u(m->size),
                              "alloc_seq", u(m->alloc_seq), "alloc_site",
                              ht__json_loc(&m->alloc)));
    }
    for (size_t i = 0; i < c->nedges; i++) {
        const struct ht_report_edge *e = &c->edges[i];
        char f[2] = {c->members[e->from].label, 0};
        char t[2] = {c->members[e->to].label, 0};
        json_t *x = json_pack("{s:s,s:s,s:o,s:o,s:o}", "from", f, "to", t,
                              "offset", u(e->offset), "store_seq",
                              u(e->store_seq), "store_site",
                              e->store.key || e->store.file
                              ? ht__json_loc(&e->store) : json_null());
        if (e->inferred_seq) /* the STORE behind a snapshot edge */
            json_object_set_new(x, "store_site_seq", u(e->inferred_seq));
        json_array_append_new(es, x);
    }
    json_object_set_new(o, "members", ms);
    json_object_set_new(o, "edges", es);
    return o;
}

static json_t *errors_arr(const struct ht_report *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->nerrors; i++) {
        const struct ht_report_error *x = &r->errors[i];
        json_array_append_new(a, json_pack("{s:s,s:o,s:o,s:o,s:o,s:b}",
                              "kind", x->kind ? x->kind : "?", "count",
                              u(x->count), "first_seq", u(x->first_seq),
                              "first_addr", hex(x->first_addr), "site",
                              ht__json_loc(&x->at), "suppressed",
                              x->suppressed));
    }
    return a;
}

static json_t *frag_obj(const struct ht_report_frag *f)
{
    if (!f->present)
        return json_null();
    return json_pack("{s:s?,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:f,s:f}", "kind",
                     f->kind, "seq", u(f->seq), "arenas", u(f->arenas),
                     "pools_used", u(f->pools_used), "unused_pools",
                     u(f->unused_pools), "blocks_in_use", u(f->blocks_in_use),
                     "bytes_in_use", u(f->bytes_in_use), "live_bytes",
                     u(f->live_bytes), "utilisation", f->utilisation,
                     "bytes_total", f->bytes_total);
}

static json_t *heap_obj(const struct ht_report *r)
{
    json_t *o = json_object(), *gens = json_array(), *ch = json_array(),
           *rs = json_array();
    json_object_set_new(o, "fragmentation_exit", frag_obj(&r->frag_exit));
    json_object_set_new(o, "fragmentation_peak", frag_obj(&r->frag_peak));
    for (int g = 0; g < 3 && r->has_gc; g++)
        json_array_append_new(gens, json_pack("{s:i,s:o,s:o}", "generation",
                              g, "collections", u(r->gens[g].collections),
                              "collected", u(r->gens[g].collected)));
    json_object_set_new(o, "gc", r->has_gc ? json_pack("{s:o,s:o,s:o,s:o}",
                        "collections", u(r->gc_collections), "collected",
                        u(r->gc_collected), "uncollectable",
                        u(r->gc_uncollectable), "generations", gens)
                        : json_null());
    if (!r->has_gc)
        json_decref(gens);
    for (size_t i = 0; i < r->nchurn; i++) {
        const struct ht_report_churn *c = &r->churn[i];
        json_array_append_new(ch, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}",
                              "site", ht__json_loc(&c->at), "size", u(c->size),
                              "allocs", u(c->allocs), "frees", u(c->frees),
                              "max_live", u(c->max_live), "short_lived",
                              u(c->short_lived)));
    }
    json_object_set_new(o, "churn", ch);
    for (size_t i = 0; i < r->nrefsites; i++)
        json_array_append_new(rs, json_pack("{s:o,s:o,s:o}", "site",
                              ht__json_loc(&r->refsites[i].at), "increfs",
                              u(r->refsites[i].increfs), "decrefs",
                              u(r->refsites[i].decrefs)));
    json_object_set_new(o, "unbalanced_refcount_sites", rs);
    json_t *ps = json_array(), *pn = json_array();
    for (size_t i = 0; i < r->npeak_sites; i++)
        json_array_append_new(ps, json_pack("{s:o,s:o,s:o}", "site",
                              ht__json_loc(&r->peak_sites[i].at), "blocks",
                              u(r->peak_sites[i].blocks), "bytes",
                              u(r->peak_sites[i].bytes)));
    for (size_t i = 0; i < r->npinning; i++)
        json_array_append_new(pn, json_pack("{s:o,s:o,s:o,s:o}", "site",
                              ht__json_loc(&r->pinning[i].at), "blocks",
                              u(r->pinning[i].blocks), "pools",
                              u(r->pinning[i].pools), "arenas",
                              u(r->pinning[i].arenas)));
    json_object_set_new(o, "peak_sites", ps);
    json_object_set_new(o, "pinning", pn);
    return o;
}

ht_err ht_report_json(const struct ht_report *runs, size_t n, FILE *out)
{
    json_t *doc = json_object(), *arr = json_array();
    json_object_set_new(doc, "schema_version", json_integer(1));
    json_object_set_new(doc, "tool", json_string("heaptrail"));
    for (size_t i = 0; i < n; i++) {
        const struct ht_report *r = &runs[i];
        json_t *o = run_obj(r);
        json_object_set_new(o, "stats", r->has_stats ? stats_obj(r)
                                                     : json_null());
        json_object_set_new(o, "leak_summary", summary_obj(r));
        json_object_set_new(o, "leaks", leaks_arr(r));
        json_t *cy = json_array();
        for (size_t k = 0; k < r->ncycles; k++)
            json_array_append_new(cy, cycle_obj(&r->cycles[k]));
        json_object_set_new(o, "cycles", cy);
        json_object_set_new(o, "errors", errors_arr(r));
        json_object_set_new(o, "heap", heap_obj(r));
        json_array_append_new(arr, o);
    }
    json_object_set_new(doc, "runs", arr);
    int rc = json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    fputc('\n', out);
    return rc || ferror(out) ? HT_EIO : HT_OK;
}
