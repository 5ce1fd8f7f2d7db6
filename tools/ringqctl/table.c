/*
 * table.c - aligned text tables and formatters (see table.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

size_t
ctl_utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

int
ctl_table_init(struct ctl_table *t, int ncols, const char *const *headers, const char *align)
{
    memset(t, 0, sizeof(*t));
    if (ncols < 1 || ncols > CTL_MAX_COLS || strlen(align) != (size_t)ncols)
        return -1;
    t->ncols = ncols;
    t->align = align;
    return ctl_table_add(t, headers);
}

int
ctl_table_add(struct ctl_table *t, const char *const *cells)
{
    size_t base;

    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        char **n = realloc(t->cells, ncap * (size_t)t->ncols * sizeof(*n));
        if (n == NULL)
            return -1;
        t->cells = n;
        t->cap = ncap;
    }
    base = t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        const char *v = cells[i] != NULL ? cells[i] : "-";
        size_t w;

        if ((t->cells[base + (size_t)i] = strdup(v)) == NULL) {
            while (i-- > 0)
                free(t->cells[base + (size_t)i]);
            return -1;
        }
        w = ctl_utf8_len(v);
        if (w > t->width[i])
            t->width[i] = w;
    }
    t->nrows++;
    return 0;
}

void
ctl_table_print(const struct ctl_table *t, FILE *f, size_t max_width)
{
    for (size_t r = 0; r < t->nrows; r++) {
        size_t used = 0;

        for (int i = 0; i < t->ncols; i++) {
            const char *v = t->cells[r * (size_t)t->ncols + (size_t)i];
            size_t w = ctl_utf8_len(v), pad = t->width[i] - w;
            int last = i == t->ncols - 1;

            if (i > 0) {
                fputs("  ", f);
                used += 2;
            }
            if (t->align[i] == 'r')
                for (; pad > 0; pad--, used++)
                    fputc(' ', f);
            /* Cut at max_width, counting characters (not bytes). */
            for (const char *p = v; *p != '\0'; p++) {
                if (((unsigned char)*p & 0xc0) != 0x80) {
                    if (max_width > 0 && used >= max_width)
                        break;
                    used++;
                }
                fputc(*p, f);
            }
            if (t->align[i] != 'r' && !last)
                for (; pad > 0; pad--, used++)
                    fputc(' ', f);
        }
        fputc('\n', f);
    }
}

void
ctl_table_free(struct ctl_table *t)
{
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

const char *
ctl_fmt_duration(char *buf, size_t size, const json_t *seconds)
{
    double v;
    long s;

    if (!json_is_number(seconds))
        return "-";
    v = json_number_value(seconds);
    if (!(v >= 0) || v > 1e12)
        return "-";
    s = (long)floor(v);
    if (s < 60)
        snprintf(buf, size, "%lds", s);
    else if (s < 3600)
        snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
    return buf;
}

const char *
ctl_fmt_percent(char *buf, size_t size, const json_t *v)
{
    if (!json_is_number(v))
        return "-";
    snprintf(buf, size, "%.1f", json_number_value(v));
    return buf;
}

const char *
ctl_fmt_scalar(char *buf, size_t size, const json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%.1f", json_real_value(v));
    else if (json_is_true(v))
        return "yes";
    else if (json_is_false(v))
        return "no";
    else
        return "-";
    return buf;
}
