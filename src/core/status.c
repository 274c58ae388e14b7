/* status.c -- status names, dtype names, version. */
#include "internal.h"

unsigned tprim_version_number(void) { return TPRIM_VERSION_NUMBER; }
const char *tprim_version_string(void) { return TPRIM_VERSION_STRING; }

const char *tprim_status_str(tprim_status s)
{
    switch (s) {
#define TP_X_NAME_(name, value, desc) \
    case name: return #name;
        TPRIM_STATUS_LIST(TP_X_NAME_)
#undef TP_X_NAME_
    default: return "TPRIM_UNKNOWN_STATUS";
    }
}

const char *tprim_status_desc(tprim_status s)
{
    switch (s) {
#define TP_X_DESC_(name, value, desc) \
    case name: return desc;
        TPRIM_STATUS_LIST(TP_X_DESC_)
#undef TP_X_DESC_
    default: return "unknown status code";
    }
}

size_t tprim_dtype_size(tprim_dtype dt)
{
    switch (dt) {
    case TPRIM_F32: return 4;
    case TPRIM_BF16: return 2;
    case TPRIM_F16: return 2;
    case TPRIM_F64: return 8;
    case TPRIM_I32: return 4;
    case TPRIM_I64: return 8;
    default: return 0;
    }
}

const char *tprim_dtype_name(tprim_dtype dt)
{
    switch (dt) {
    case TPRIM_F32: return "f32";
    case TPRIM_BF16: return "bf16";
    case TPRIM_F16: return "f16";
    case TPRIM_F64: return "f64";
    case TPRIM_I32: return "i32";
    case TPRIM_I64: return "i64";
    default: return "?";
    }
}

const char *tprim_op_name(tprim_op op)
{
    switch (op) {
    case TPRIM_OP_ATTENTION: return "attention";
    case TPRIM_OP_LINEAR: return "linear";
    default: return NULL;
    }
}
