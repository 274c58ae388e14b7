/* json.c -- see json.h. Output is indented, one member per line. */
#include "json.h"

#include <math.h>

void json_init(json_w *w, FILE *f)
{
    w->f = f;
    w->depth = 0;
    w->first[0] = 1;
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void member(json_w *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth]) fputc(',', w->f);
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++) fputs("  ", w->f);
    }
    w->first[w->depth] = 0;
    if (key) {
        put_string(w->f, key);
        fputs(": ", w->f);
    }
}

static void open_(json_w *w, const char *key, char c)
{
    member(w, key);
    fputc(c, w->f);
    if (w->depth < 31) w->depth++;
    w->first[w->depth] = 1;
}

static void close_(json_w *w, char c)
{
    int empty = w->first[w->depth];
    if (w->depth > 0) w->depth--;
    if (!empty) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++) fputs("  ", w->f);
    }
    fputc(c, w->f);
    if (w->depth == 0) fputc('\n', w->f);
}

void json_obj_begin(json_w *w, const char *key) { open_(w, key, '{'); }
void json_obj_end(json_w *w) { close_(w, '}'); }
void json_arr_begin(json_w *w, const char *key) { open_(w, key, '['); }
void json_arr_end(json_w *w) { close_(w, ']'); }

void json_str(json_w *w, const char *key, const char *val)
{
    member(w, key);
    if (val) put_string(w->f, val);
    else fputs("null", w->f);
}

void json_num(json_w *w, const char *key, double val)
{
    member(w, key);
    if (isfinite(val)) fprintf(w->f, "%.6g", val);
    else fputs("null", w->f);
}

void json_int(json_w *w, const char *key, int64_t val)
{
    member(w, key);
    fprintf(w->f, "%lld", (long long)val);
}

void json_bool(json_w *w, const char *key, int val)
{
    member(w, key);
    fputs(val ? "true" : "false", w->f);
}

void json_null(json_w *w, const char *key)
{
    member(w, key);
    fputs("null", w->f);
}
