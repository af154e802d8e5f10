/* A refcount API defined as static inline functions in a header. */
#ifndef REFAPI_H
#define REFAPI_H
struct obj {
    long rc;
};
static inline void obj_incref(struct obj *o) { o->rc++; }
static inline void obj_decref(struct obj *o) { o->rc--; }
/* A user macro that calls the API from its body. */
#define KEEP(o) obj_incref(o)
/* A Py_INCREF-style macro, configured by name. */
#define OBJ_INCREF(o) ((o)->rc++)
#endif
