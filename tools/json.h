/* json.h -- a tiny streaming JSON writer for the tool's machine-readable output. */
#ifndef TPRIM_TOOLS_JSON_H
#define TPRIM_TOOLS_JSON_H

#include <stdint.h>
#include <stdio.h>

typedef struct json_w {
    FILE *f;
    int depth;
    int first[32]; /* 1 until the first member of the container at each depth */
} json_w;

void json_init(json_w *w, FILE *f);
/* `key` is NULL for members of an array */
void json_obj_begin(json_w *w, const char *key);
void json_obj_end(json_w *w);
void json_arr_begin(json_w *w, const char *key);
void json_arr_end(json_w *w);
void json_str(json_w *w, const char *key, const char *val); /* NULL -> null */
void json_num(json_w *w, const char *key, double val);      /* NaN/inf -> null */
void json_int(json_w *w, const char *key, int64_t val);
void json_bool(json_w *w, const char *key, int val);
void json_null(json_w *w, const char *key);

#endif
