/* vdsm-client.c - call one vdsm verb from the command line (vdsm-facts §10.2, §11).
 *
 * DESIGN: a short-lived, synchronous program.  It reads the API schema
 * (build/api/vdsm-api.json, generated from api/vdsm-api.yml) to offer help
 * and to turn name=value arguments into JSON of the parameter's kind,
 * opens one connection (TLS with the host's own certificate, or plain TCP
 * with --insecure), speaks STOMP as VDSM's Python client does (CONNECT,
 * SUBSCRIBE to a random UUID, SEND to jms.topic.vdsm_requests with that
 * UUID as reply-to) and waits for the MESSAGE whose JSON-RPC id matches.
 * All I/O is blocking on the main thread; one watchdog thread cancels it
 * when --timeout expires, so connect, handshake and the wait for the reply
 * share one deadline.  The result is printed the way Python's
 * json.dumps(indent=4, sort_keys=True) prints it.
 * Exit codes: 0 success, 1 failure (connection, TLS, timeout, JSON-RPC
 * error), 2 usage error.
 */
#include "vdsm-config.h"

#include <errno.h>
#include <gio/gio.h>
#include <json-c/json.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>

#include "stomp-frame.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_object, json_object_put)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(json_tokener, json_tokener_free)

/* json-c's default nesting limit (32) is below what a VM description can
 * reach; this is only a guard against runaway recursion. */
#define VD_CLIENT_JSON_DEPTH 1024

/* Parse one whole JSON document of @len bytes (@text NUL-terminated at
 * @len); trailing white space is allowed, anything else is an error.
 * Returns a new reference, or NULL with *why set to a static message. */
static json_object *
vdClientJsonParse(const char *text, gsize len, const char **why)
{
    g_autoptr(json_tokener) tok = json_tokener_new_ex(VD_CLIENT_JSON_DEPTH);
    json_object *obj;
    gsize end;

    /* len + 1 feeds the NUL too, which ends a bare number or literal */
    obj = json_tokener_parse_ex(tok, text, len + 1);
    if (!obj) {
        *why = json_tokener_error_desc(json_tokener_get_error(tok));
        return NULL;
    }
    for (end = json_tokener_get_parse_end(tok); end < len; end++) {
        if (!g_ascii_isspace(text[end])) {
            json_object_put(obj);
            *why = "trailing data after the JSON value";
            return NULL;
        }
    }
    return obj;
}

#define VD_CLIENT_DEFAULT_HOST "localhost"
#define VD_CLIENT_DEFAULT_PORT 54321
#define VD_CLIENT_DEFAULT_TIMEOUT 60.0
#define VD_CLIENT_DEFAULT_TRUST_STORE "/etc/pki/vdsm"
#define VD_CLIENT_REQUEST_QUEUE "jms.topic.vdsm_requests"
/* Replies can be large (getAllVmStats on a big host); headers never are. */
#define VD_CLIENT_MAX_FRAME (256 * 1024 * 1024)
#define VD_CLIENT_MAX_HEADER (64 * 1024)
#define VD_CLIENT_WRAP 79

enum {
    VD_CLIENT_EXIT_OK = 0,
    VD_CLIENT_EXIT_FAIL = 1,
    VD_CLIENT_EXIT_USAGE = 2,
};

typedef struct {
    char *host;
    guint16 port;
    gboolean use_tls;
    double timeout;
    char *flow_id;
    char *trust_store;
    char *file;
    gboolean help;
    char *ns;
    char *method;
    GPtrArray *args; /* "name=value" strings, not owned */
} VdClientOptions;

static void
vdClientOptionsClear(VdClientOptions *opts)
{
    g_free(opts->host);
    g_free(opts->flow_id);
    g_free(opts->trust_store);
    g_free(opts->file);
    g_free(opts->ns);
    g_free(opts->method);
    g_clear_pointer(&opts->args, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(VdClientOptions, vdClientOptionsClear)

/* ---- text helpers ------------------------------------------------------ */

/* Append @text word-wrapped to VD_CLIENT_WRAP columns, every line indented
 * by @indent spaces. */
static void
vdClientWrap(GString *out, const char *text, guint indent)
{
    g_auto(GStrv) words = g_strsplit_set(text ? text : "", " \t\n", -1);
    guint col = 0;

    for (guint i = 0; words[i]; i++) {
        guint len = g_utf8_strlen(words[i], -1);

        if (!*words[i])
            continue;
        if (col > 0 && col + 1 + len > VD_CLIENT_WRAP) {
            g_string_append_c(out, '\n');
            col = 0;
        }
        if (col == 0) {
            for (guint j = 0; j < indent; j++)
                g_string_append_c(out, ' ');
            col = indent;
        } else {
            g_string_append_c(out, ' ');
            col++;
        }
        g_string_append(out, words[i]);
        col += len;
    }
    if (col > 0)
        g_string_append_c(out, '\n');
}

/* Python's float.__repr__: the shortest digits that read back to the same
 * double, fixed notation for exponents -4..15, else d.ddde+XX. */
static void
vdClientAppendPyFloat(GString *out, double d, gboolean json)
{
    char buf[64];
    char digits[32];
    guint nd = 0;
    int exp10;
    const char *p;

    if (isnan(d)) {
        g_string_append(out, json ? "NaN" : "nan");
        return;
    }
    if (isinf(d)) {
        g_string_append(out, d < 0 ? (json ? "-Infinity" : "-inf") : (json ? "Infinity" : "inf"));
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        g_snprintf(buf, sizeof(buf), "%.*e", prec - 1, d);
        if (g_ascii_strtod(buf, NULL) == d)
            break;
    }
    /* buf is [-]D[.DDD]e[+-]XX */
    p = buf;
    if (*p == '-') {
        g_string_append_c(out, '-');
        p++;
    }
    for (; *p && *p != 'e'; p++) {
        if (g_ascii_isdigit(*p) && nd < sizeof(digits) - 1)
            digits[nd++] = *p;
    }
    digits[nd] = '\0';
    exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';

    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            g_string_append(out, "0.");
            for (int i = 0; i < -exp10 - 1; i++)
                g_string_append_c(out, '0');
            g_string_append(out, digits);
        } else if ((int)nd <= exp10 + 1) {
            g_string_append(out, digits);
            for (int i = nd; i < exp10 + 1; i++)
                g_string_append_c(out, '0');
            g_string_append(out, ".0");
        } else {
            g_string_append_len(out, digits, exp10 + 1);
            g_string_append_c(out, '.');
            g_string_append(out, digits + exp10 + 1);
        }
    } else {
        g_string_append_c(out, digits[0]);
        if (nd > 1) {
            g_string_append_c(out, '.');
            g_string_append(out, digits + 1);
        }
        g_string_append_printf(out, "e%c%02d", exp10 < 0 ? '-' : '+', ABS(exp10));
    }
}

/* A JSON string as json.dumps writes it with ensure_ascii=True. */
static void
vdClientAppendJsonString(GString *out, const char *s, gsize len)
{
    const char *end = s + len;

    g_string_append_c(out, '"');
    while (s < end) {
        gunichar c = g_utf8_get_char_validated(s, end - s);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            c = 0xfffd; /* json-c let an invalid byte through; show it as U+FFFD */
            s++;
        } else {
            s = g_utf8_next_char(s);
        }
        switch (c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        case '\b': g_string_append(out, "\\b"); break;
        case '\f': g_string_append(out, "\\f"); break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                g_string_append_c(out, (char)c);
            } else if (c < 0x10000) {
                g_string_append_printf(out, "\\u%04x", c);
            } else {
                c -= 0x10000;
                g_string_append_printf(out, "\\u%04x\\u%04x", 0xd800 + (c >> 10),
                                       0xdc00 + (c & 0x3ff));
            }
        }
    }
    g_string_append_c(out, '"');
}

static void
vdClientIndent(GString *out, int level)
{
    for (int i = 0; i < level * 4; i++)
        g_string_append_c(out, ' ');
}

static int
vdClientCompareKeys(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* json.dumps(obj, indent=4, sort_keys=True): code-point key order equals
 * strcmp order on UTF-8. */
static void
vdClientAppendJson(GString *out, json_object *obj, int level)
{
    switch (json_object_get_type(obj)) {
    case json_type_null:
        g_string_append(out, "null");
        break;
    case json_type_boolean:
        g_string_append(out, json_object_get_boolean(obj) ? "true" : "false");
        break;
    case json_type_int:
        /* json-c prints int64 and large uint64 exactly */
        g_string_append(out, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
        break;
    case json_type_double:
        vdClientAppendPyFloat(out, json_object_get_double(obj), TRUE);
        break;
    case json_type_string:
        vdClientAppendJsonString(out, json_object_get_string(obj),
                                 json_object_get_string_len(obj));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(obj);

        if (n == 0) {
            g_string_append(out, "[]");
            break;
        }
        g_string_append(out, "[\n");
        for (size_t i = 0; i < n; i++) {
            vdClientIndent(out, level + 1);
            vdClientAppendJson(out, json_object_array_get_idx(obj, i), level + 1);
            g_string_append(out, i + 1 < n ? ",\n" : "\n");
        }
        vdClientIndent(out, level);
        g_string_append_c(out, ']');
        break;
    }
    case json_type_object: {
        g_autoptr(GPtrArray) keys = g_ptr_array_new();

        json_object_object_foreach(obj, key, val) {
            (void)val;
            g_ptr_array_add(keys, key);
        }
        if (keys->len == 0) {
            g_string_append(out, "{}");
            break;
        }
        g_ptr_array_sort(keys, vdClientCompareKeys);
        g_string_append(out, "{\n");
        for (guint i = 0; i < keys->len; i++) {
            const char *name = keys->pdata[i];

            vdClientIndent(out, level + 1);
            vdClientAppendJsonString(out, name, strlen(name));
            g_string_append(out, ": ");
            vdClientAppendJson(out, json_object_object_get(obj, name), level + 1);
            g_string_append(out, i + 1 < keys->len ? ",\n" : "\n");
        }
        vdClientIndent(out, level);
        g_string_append_c(out, '}');
        break;
    }
    }
}

/* Python's repr() of a str, for error messages that mimic VDSM's. */
static void
vdClientAppendPyString(GString *out, const char *s)
{
    char quote = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';

    g_string_append_c(out, quote);
    for (const char *p = s; *p;) {
        gunichar c = g_utf8_get_char_validated(p, -1);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            g_string_append_printf(out, "\\x%02x", (guchar)*p);
            p++;
            continue;
        }
        p = g_utf8_next_char(p);
        if (c == '\\' || c == (gunichar)quote) {
            g_string_append_c(out, '\\');
            g_string_append_c(out, (char)c);
        } else if (c == '\n') {
            g_string_append(out, "\\n");
        } else if (c == '\r') {
            g_string_append(out, "\\r");
        } else if (c == '\t') {
            g_string_append(out, "\\t");
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !g_unichar_isprint(c))) {
            if (c <= 0xff)
                g_string_append_printf(out, "\\x%02x", c);
            else if (c <= 0xffff)
                g_string_append_printf(out, "\\u%04x", c);
            else
                g_string_append_printf(out, "\\U%08x", c);
        } else {
            g_string_append_unichar(out, c);
        }
    }
    g_string_append_c(out, quote);
}

/* Python's repr() of the value json.loads would have built. */
static void
vdClientAppendPyRepr(GString *out, json_object *obj)
{
    switch (json_object_get_type(obj)) {
    case json_type_null:
        g_string_append(out, "None");
        break;
    case json_type_boolean:
        g_string_append(out, json_object_get_boolean(obj) ? "True" : "False");
        break;
    case json_type_int:
        g_string_append(out, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
        break;
    case json_type_double:
        vdClientAppendPyFloat(out, json_object_get_double(obj), FALSE);
        break;
    case json_type_string:
        vdClientAppendPyString(out, json_object_get_string(obj));
        break;
    case json_type_array:
        g_string_append_c(out, '[');
        for (size_t i = 0; i < json_object_array_length(obj); i++) {
            if (i > 0)
                g_string_append(out, ", ");
            vdClientAppendPyRepr(out, json_object_array_get_idx(obj, i));
        }
        g_string_append_c(out, ']');
        break;
    case json_type_object: {
        gboolean first = TRUE;

        g_string_append_c(out, '{');
        json_object_object_foreach(obj, key, val) {
            if (!first)
                g_string_append(out, ", ");
            first = FALSE;
            vdClientAppendPyString(out, key);
            g_string_append(out, ": ");
            vdClientAppendPyRepr(out, val);
        }
        g_string_append_c(out, '}');
        break;
    }
    }
}

/* ---- the schema -------------------------------------------------------- */

typedef struct {
    json_object *root;  /* owned */
    json_object *verbs; /* borrowed from root: "Namespace.method" -> verb */
    char *path;
} VdClientSchema;

static void
vdClientSchemaFree(VdClientSchema *schema)
{
    if (!schema)
        return;
    json_object_put(schema->root);
    g_free(schema->path);
    g_free(schema);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdClientSchema, vdClientSchemaFree)

static VdClientSchema *
vdClientSchemaLoad(GError **error)
{
    const char *env = g_getenv("VDSM_API_SCHEMA");
    const char *candidates[] = { VDSM_DATADIR "/vdsm-api.json", VDSM_BUILD_SCHEMA };
    g_autoptr(VdClientSchema) schema = g_new0(VdClientSchema, 1);
    g_autofree char *text = NULL;
    gsize len = 0;
    const char *why = "no \"verbs\" object";

    if (env && *env) {
        schema->path = g_strdup(env);
    } else {
        for (guint i = 0; i < G_N_ELEMENTS(candidates); i++) {
            if (g_file_test(candidates[i], G_FILE_TEST_IS_REGULAR)) {
                schema->path = g_strdup(candidates[i]);
                break;
            }
        }
        if (!schema->path) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                        "cannot find the API schema (tried %s and %s; set VDSM_API_SCHEMA)",
                        candidates[0], candidates[1]);
            return NULL;
        }
    }
    if (!g_file_get_contents(schema->path, &text, &len, error)) {
        g_prefix_error(error, "cannot read the API schema: ");
        return NULL;
    }
    schema->root = vdClientJsonParse(text, len, &why);
    if (!schema->root || !json_object_object_get_ex(schema->root, "verbs", &schema->verbs) ||
        !json_object_is_type(schema->verbs, json_type_object)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is not an API schema (%s)",
                    schema->path, why);
        return NULL;
    }
    return g_steal_pointer(&schema);
}

static const char *
vdClientJsonStr(json_object *obj, const char *key)
{
    json_object *val = NULL;

    if (!json_object_object_get_ex(obj, key, &val) || !json_object_is_type(val, json_type_string))
        return NULL;
    return json_object_get_string(val);
}

static gboolean
vdClientJsonBool(json_object *obj, const char *key, gboolean def)
{
    json_object *val = NULL;

    if (!json_object_object_get_ex(obj, key, &val))
        return def;
    return json_object_get_boolean(val);
}

static json_object *
vdClientVerbParams(json_object *verb)
{
    json_object *params = NULL;

    if (!json_object_object_get_ex(verb, "params", &params) ||
        !json_object_is_type(params, json_type_array))
        return NULL;
    return params;
}

/* Sorted, de-duplicated namespace names. */
static GPtrArray *
vdClientSchemaNamespaces(VdClientSchema *schema)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    json_object_object_foreach(schema->verbs, name, verb) {
        const char *dot = strchr(name, '.');
        char *ns;

        (void)verb;
        if (!dot)
            continue;
        ns = g_strndup(name, dot - name);
        if (g_hash_table_contains(seen, ns)) {
            g_free(ns);
            continue;
        }
        g_hash_table_add(seen, ns);
        g_ptr_array_add(out, ns);
    }
    g_ptr_array_sort(out, vdClientCompareKeys);
    return g_steal_pointer(&out);
}

/* Sorted method names (without the namespace) of @ns. */
static GPtrArray *
vdClientSchemaMethods(VdClientSchema *schema, const char *ns)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    gsize nslen = strlen(ns);

    json_object_object_foreach(schema->verbs, name, verb) {
        (void)verb;
        if (strncmp(name, ns, nslen) == 0 && name[nslen] == '.')
            g_ptr_array_add(out, g_strdup(name + nslen + 1));
    }
    g_ptr_array_sort(out, vdClientCompareKeys);
    return g_steal_pointer(&out);
}

static json_object *
vdClientSchemaVerb(VdClientSchema *schema, const char *ns, const char *method)
{
    g_autofree char *name = g_strdup_printf("%s.%s", ns, method);
    json_object *verb = NULL;

    if (!json_object_object_get_ex(schema->verbs, name, &verb))
        return NULL;
    return verb;
}

static json_object *
vdClientVerbParam(json_object *verb, const char *name)
{
    json_object *params = vdClientVerbParams(verb);

    for (size_t i = 0; params && i < json_object_array_length(params); i++) {
        json_object *p = json_object_array_get_idx(params, i);
        const char *pname = vdClientJsonStr(p, "name");

        if (pname && g_str_equal(pname, name))
            return p;
    }
    return NULL;
}

/* "UUID", "[UUID]", ... as the schema spells the type. */
static void
vdClientAppendType(GString *out, json_object *type)
{
    if (json_object_is_type(type, json_type_array)) {
        g_string_append_c(out, '[');
        for (size_t i = 0; i < json_object_array_length(type); i++)
            vdClientAppendType(out, json_object_array_get_idx(type, i));
        g_string_append_c(out, ']');
    } else if (json_object_is_type(type, json_type_string)) {
        g_string_append(out, json_object_get_string(type));
    } else {
        g_string_append(out, json_object_to_json_string_ext(type, JSON_C_TO_STRING_PLAIN));
    }
}

/* ---- help -------------------------------------------------------------- */

static const char vdClientUsage[] =
    "usage: vdsm-client [-h] [-a HOST] [-p PORT] [--insecure] [--timeout SEC]\n"
    "                   [--flow-id ID] [--trust-store DIR] [-f FILE|-]\n"
    "                   Namespace method [name=value ...]\n";

static void
vdClientPrintGlobalHelp(FILE *fp, VdClientSchema *schema, const GError *schema_error)
{
    g_autoptr(GString) out = g_string_new(vdClientUsage);

    g_string_append(out,
        "\nInvoke a vdsm verb from the command line and print its result as JSON.\n"
        "\noptions:\n"
        "  -h, --help            show help: for the tool, a namespace or a method\n"
        "  -a, --host HOST       host to connect to (default: " VD_CLIENT_DEFAULT_HOST ")\n"
        "  -p, --port PORT       port to connect to (default: 54321)\n"
        "  --insecure            plain TCP, no TLS (alias: --unsecure)\n"
        "  --timeout SEC         seconds to wait for the reply (default: 60)\n"
        "  --flow-id ID          flow id sent as ovirtCorrelationId, shown in the log\n"
        "  --trust-store DIR     directory with keys/vdsmkey.pem, certs/vdsmcert.pem and\n"
        "                        certs/cacert.pem (default: $VDSM_TRUST_STORE, else\n"
        "                        " VD_CLIENT_DEFAULT_TRUST_STORE ")\n"
        "  -f, --file FILE       read the parameters as a JSON object from FILE ('-' is\n"
        "                        stdin) instead of name=value arguments\n"
        "\nname=value arguments are converted by the parameter's type in the schema:\n"
        "int/uint to integers, float to numbers, boolean from true/false/yes/no/1/0,\n"
        "object/list/any parsed as JSON when they parse (else sent as a string).\n"
        "\nenvironment: VDSM_API_SCHEMA (schema JSON), VDSM_TRUST_STORE\n");
    if (schema) {
        g_autoptr(GPtrArray) nss = vdClientSchemaNamespaces(schema);

        g_string_append(out, "\nnamespaces and their methods (vdsm-client NAMESPACE --help "
                             "describes them):\n");
        for (guint i = 0; i < nss->len; i++) {
            g_autoptr(GPtrArray) methods = vdClientSchemaMethods(schema, nss->pdata[i]);
            g_autofree char *list = NULL;

            g_ptr_array_add(methods, NULL);
            list = g_strjoinv(" ", (char **)methods->pdata);
            g_string_append_printf(out, "  %s\n", (const char *)nss->pdata[i]);
            vdClientWrap(out, list, 6);
        }
    } else if (schema_error) {
        g_string_append_printf(out, "\nnamespaces: unavailable: %s\n", schema_error->message);
    }
    fputs(out->str, fp);
}

static void
vdClientPrintNamespaceHelp(FILE *fp, VdClientSchema *schema, const char *ns)
{
    g_autoptr(GPtrArray) methods = vdClientSchemaMethods(schema, ns);
    g_autoptr(GString) out = g_string_new(NULL);

    g_string_append_printf(out,
                           "usage: vdsm-client [options] %s method [name=value ...]\n"
                           "\nmethods of %s (vdsm-client %s METHOD -h describes one):\n",
                           ns, ns, ns);
    for (guint i = 0; i < methods->len; i++) {
        json_object *verb = vdClientSchemaVerb(schema, ns, methods->pdata[i]);

        g_string_append_printf(out, "\n  %s\n", (const char *)methods->pdata[i]);
        vdClientWrap(out, vdClientJsonStr(verb, "description"), 6);
    }
    fputs(out->str, fp);
}

/* "one of: A, B, C" for a parameter whose type is an enum of the schema. */
static void
vdClientAppendEnumValues(GString *out, VdClientSchema *schema, json_object *type)
{
    json_object *types = NULL, *t = NULL, *values = NULL;
    g_autoptr(GString) list = g_string_new("one of:");
    const char *kind;

    if (!json_object_is_type(type, json_type_string) ||
        !json_object_object_get_ex(schema->root, "types", &types) ||
        !json_object_object_get_ex(types, json_object_get_string(type), &t))
        return;
    kind = vdClientJsonStr(t, "type");
    if (!kind || !g_str_equal(kind, "enum") || !json_object_object_get_ex(t, "values", &values) ||
        !json_object_is_type(values, json_type_object))
        return;
    json_object_object_foreach(values, name, desc) {
        (void)desc;
        g_string_append_printf(list, " %s", name);
    }
    vdClientWrap(out, list->str, 6);
}

static void
vdClientPrintVerbHelp(FILE *fp, VdClientSchema *schema, const char *ns, const char *method,
                      json_object *verb)
{
    json_object *params = vdClientVerbParams(verb);
    json_object *ret = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    gsize n = params ? json_object_array_length(params) : 0;

    g_string_append_printf(out, "usage: vdsm-client [options] %s %s", ns, method);
    for (gsize i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(params, i);
        gboolean required = vdClientJsonBool(p, "required", TRUE);

        g_string_append_printf(out, required ? " %s=VALUE" : " [%s=VALUE]",
                               vdClientJsonStr(p, "name"));
    }
    g_string_append(out, "\n\n");
    vdClientWrap(out, vdClientJsonStr(verb, "description"), 0);
    g_string_append(out, n ? "\nparameters:\n" : "\nparameters: none\n");
    for (gsize i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx(params, i);
        json_object *type = NULL, *def = NULL;
        const char *kind = vdClientJsonStr(p, "kind");
        const char *desc = vdClientJsonStr(p, "description");

        g_string_append_printf(out, "\n  %s (", vdClientJsonStr(p, "name"));
        if (json_object_object_get_ex(p, "type", &type))
            vdClientAppendType(out, type);
        if (kind && type && json_object_is_type(type, json_type_string) &&
            !g_str_equal(kind, json_object_get_string(type)))
            g_string_append_printf(out, ": %s", kind);
        if (vdClientJsonBool(p, "required", TRUE)) {
            g_string_append(out, ", required)\n");
        } else if (json_object_object_get_ex(p, "default", &def)) {
            g_string_append_printf(out, ", optional, default %s)\n",
                                   json_object_to_json_string_ext(def, JSON_C_TO_STRING_PLAIN));
        } else {
            g_string_append(out, ", optional)\n");
        }
        if (desc && *desc)
            vdClientWrap(out, desc, 6);
        if (type)
            vdClientAppendEnumValues(out, schema, type);
    }
    if (json_object_object_get_ex(verb, "return", &ret) &&
        json_object_is_type(ret, json_type_object)) {
        json_object *type = NULL;

        g_string_append(out, "\nreturns: ");
        if (json_object_object_get_ex(ret, "type", &type))
            vdClientAppendType(out, type);
        g_string_append_c(out, '\n');
        if (vdClientJsonStr(ret, "description"))
            vdClientWrap(out, vdClientJsonStr(ret, "description"), 6);
    }
    fputs(out->str, fp);
}

/* ---- command line ------------------------------------------------------ */

static int G_GNUC_PRINTF(1, 2)
vdClientUsageError(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fputs(vdClientUsage, stderr);
    fprintf(stderr, "vdsm-client: error: %s\n", msg);
    return VD_CLIENT_EXIT_USAGE;
}

/* Take the value of an option: "--opt=V", "-oV" or the next argument. */
static gboolean
vdClientOptionValue(int argc, char **argv, int *i, const char *arg, gsize optlen,
                    const char **value)
{
    if (arg[optlen] == '=' && arg[1] == '-') {
        *value = arg + optlen + 1;
        return TRUE;
    }
    if (arg[optlen] != '\0' && arg[1] != '-') {
        *value = arg + optlen;
        return TRUE;
    }
    if (arg[optlen] != '\0')
        return FALSE;
    if (*i + 1 >= argc)
        return FALSE;
    *value = argv[++*i];
    return TRUE;
}

/* Does @arg name option @s (-x) or @l (--long), with or without a glued value? */
static gsize
vdClientOptionMatch(const char *arg, const char *s, const char *l, gboolean takes_value)
{
    gsize len;

    if (s && g_str_has_prefix(arg, s) && (arg[2] == '\0' || takes_value))
        return 2;
    if (l) {
        len = strlen(l);
        if (strncmp(arg, l, len) == 0 && (arg[len] == '\0' || (takes_value && arg[len] == '=')))
            return len;
    }
    return 0;
}

/* Options may come anywhere (a name=value argument never starts with '-');
 * the first two other arguments are the namespace and the method.
 * Returns -1 to go on, or an exit code. */
static int
vdClientParseArgs(int argc, char **argv, VdClientOptions *opts)
{
    gboolean only_positional = FALSE;
    const char *env_store = g_getenv("VDSM_TRUST_STORE");

    opts->host = g_strdup(VD_CLIENT_DEFAULT_HOST);
    opts->port = VD_CLIENT_DEFAULT_PORT;
    opts->use_tls = TRUE;
    opts->timeout = VD_CLIENT_DEFAULT_TIMEOUT;
    opts->args = g_ptr_array_new();

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        gsize n;

        if (only_positional || arg[0] != '-' || g_str_equal(arg, "-")) {
            if (!opts->ns)
                opts->ns = g_strdup(arg);
            else if (!opts->method)
                opts->method = g_strdup(arg);
            else
                g_ptr_array_add(opts->args, (gpointer)arg);
            continue;
        }
        if (g_str_equal(arg, "--")) {
            only_positional = TRUE;
        } else if (vdClientOptionMatch(arg, "-h", "--help", FALSE)) {
            opts->help = TRUE;
        } else if (vdClientOptionMatch(arg, NULL, "--insecure", FALSE) ||
                   vdClientOptionMatch(arg, NULL, "--unsecure", FALSE)) {
            opts->use_tls = FALSE;
        } else if ((n = vdClientOptionMatch(arg, "-a", "--host", TRUE))) {
            if (!vdClientOptionValue(argc, argv, &i, arg, n, &value) || !*value)
                return vdClientUsageError("%s needs a host name", arg);
            g_free(opts->host);
            opts->host = g_strdup(value);
        } else if ((n = vdClientOptionMatch(arg, "-p", "--port", TRUE))) {
            guint64 port = 0;

            if (!vdClientOptionValue(argc, argv, &i, arg, n, &value))
                return vdClientUsageError("%s needs a port number", arg);
            if (!g_ascii_string_to_unsigned(value, 10, 1, 65535, &port, NULL))
                return vdClientUsageError("invalid port '%s' (1-65535)", value);
            opts->port = port;
        } else if ((n = vdClientOptionMatch(arg, NULL, "--timeout", TRUE))) {
            char *end = NULL;

            if (!vdClientOptionValue(argc, argv, &i, arg, n, &value))
                return vdClientUsageError("--timeout needs a number of seconds");
            opts->timeout = g_ascii_strtod(value, &end);
            if (!*value || *end || !(opts->timeout > 0) || opts->timeout > 86400 * 365)
                return vdClientUsageError("invalid timeout '%s' (seconds > 0)", value);
        } else if ((n = vdClientOptionMatch(arg, NULL, "--flow-id", TRUE))) {
            if (!vdClientOptionValue(argc, argv, &i, arg, n, &value))
                return vdClientUsageError("--flow-id needs a value");
            g_free(opts->flow_id);
            opts->flow_id = g_strdup(value);
        } else if ((n = vdClientOptionMatch(arg, NULL, "--trust-store", TRUE))) {
            if (!vdClientOptionValue(argc, argv, &i, arg, n, &value) || !*value)
                return vdClientUsageError("--trust-store needs a directory");
            g_free(opts->trust_store);
            opts->trust_store = g_strdup(value);
        } else if ((n = vdClientOptionMatch(arg, "-f", "--file", TRUE))) {
            if (!vdClientOptionValue(argc, argv, &i, arg, n, &value) || !*value)
                return vdClientUsageError("%s needs a file name or '-'", arg);
            g_free(opts->file);
            opts->file = g_strdup(value);
        } else {
            return vdClientUsageError("unknown option '%s'", arg);
        }
    }
    if (!opts->trust_store)
        opts->trust_store = g_strdup(env_store && *env_store ? env_store
                                                             : VD_CLIENT_DEFAULT_TRUST_STORE);
    return -1;
}

/* Convert a name=value string to JSON by the parameter's schema kind. */
static json_object *
vdClientConvertArg(json_object *param, const char *name, const char *value, GError **error)
{
    const char *kind = vdClientJsonStr(param, "kind");

    if (!kind)
        kind = "string";
    if (g_str_equal(kind, "int") || g_str_equal(kind, "uint")) {
        gint64 i64 = 0;
        guint64 u64 = 0;

        if (g_str_equal(kind, "uint") &&
            g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT64, &u64, NULL)) {
            return u64 <= G_MAXINT64 ? json_object_new_int64((gint64)u64)
                                     : json_object_new_uint64(u64);
        }
        if (g_str_equal(kind, "int") &&
            g_ascii_string_to_signed(value, 10, G_MININT64, G_MAXINT64, &i64, NULL))
            return json_object_new_int64(i64);
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "parameter %s: '%s' is not %s integer", name, value,
                    g_str_equal(kind, "uint") ? "a non-negative" : "an");
        return NULL;
    }
    if (g_str_equal(kind, "float")) {
        char *end = NULL;
        double d = g_ascii_strtod(value, &end);

        if (*value && !g_ascii_isspace(*value) && *end == '\0' && isfinite(d))
            return json_object_new_double(d);
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "parameter %s: '%s' is not a number", name, value);
        return NULL;
    }
    if (g_str_equal(kind, "boolean")) {
        static const char *const yes[] = { "true", "yes", "1", NULL };
        static const char *const no[] = { "false", "no", "0", NULL };

        for (guint i = 0; yes[i]; i++) {
            if (g_ascii_strcasecmp(value, yes[i]) == 0)
                return json_object_new_boolean(TRUE);
            if (g_ascii_strcasecmp(value, no[i]) == 0)
                return json_object_new_boolean(FALSE);
        }
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "parameter %s: '%s' is not a boolean (true/false/yes/no/1/0)", name, value);
        return NULL;
    }
    if (g_str_equal(kind, "object") || g_str_equal(kind, "list") || g_str_equal(kind, "any")) {
        const char *why = NULL;
        json_object *parsed = vdClientJsonParse(value, strlen(value), &why);

        /* VDSM would send the text as is: keep that when it is not JSON */
        if (parsed)
            return parsed;
    }
    return json_object_new_string(value);
}

static json_object *
vdClientBuildParams(json_object *verb, const char *verb_name, GPtrArray *args, GError **error)
{
    g_autoptr(json_object) params = json_object_new_object();

    for (guint i = 0; i < args->len; i++) {
        const char *arg = args->pdata[i];
        const char *eq = strchr(arg, '=');
        g_autofree char *name = NULL;
        json_object *param;
        json_object *value;

        if (!eq || eq == arg) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "argument '%s' is not name=value", arg);
            return NULL;
        }
        name = g_strndup(arg, eq - arg);
        param = vdClientVerbParam(verb, name);
        if (!param) {
            json_object *all = vdClientVerbParams(verb);
            g_autoptr(GString) known = g_string_new(NULL);

            for (size_t j = 0; all && j < json_object_array_length(all); j++)
                g_string_append_printf(known, "%s%s", j ? ", " : "",
                                       vdClientJsonStr(json_object_array_get_idx(all, j),
                                                       "name"));
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                        "%s has no parameter '%s' (parameters: %s)", verb_name, name,
                        known->len ? known->str : "none");
            return NULL;
        }
        if (json_object_object_get_ex(params, name, NULL)) {
            g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "parameter '%s' given twice", name);
            return NULL;
        }
        value = vdClientConvertArg(param, name, eq + 1, error);
        if (!value)
            return NULL;
        json_object_object_add(params, name, value);
    }
    return g_steal_pointer(&params);
}

static json_object *
vdClientReadParamsFile(const char *file, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    const char *why = NULL;
    json_object *obj;

    if (g_str_equal(file, "-")) {
        g_autoptr(GString) buf = g_string_new(NULL);
        char chunk[4096];
        size_t n;

        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
            g_string_append_len(buf, chunk, n);
        if (ferror(stdin)) {
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
                        "cannot read stdin: %s", g_strerror(errno));
            return NULL;
        }
        len = buf->len;
        text = g_string_free(g_steal_pointer(&buf), FALSE);
    } else if (!g_file_get_contents(file, &text, &len, error)) {
        return NULL;
    }
    obj = vdClientJsonParse(text, len, &why);
    if (!obj) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: invalid JSON: %s",
                    g_str_equal(file, "-") ? "stdin" : file, why);
        return NULL;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s: the parameters must be a JSON object", g_str_equal(file, "-") ? "stdin" : file);
        return NULL;
    }
    return obj;
}

/* ---- deadline ---------------------------------------------------------- */

/* One thread sleeps until the deadline and cancels all pending I/O. */
typedef struct {
    GMutex lock;
    GCond cond;
    gint64 deadline; /* monotonic, µs */
    gboolean done;
    gboolean fired;
    GCancellable *cancellable;
    GThread *thread;
} VdClientWatchdog;

static gpointer
vdClientWatchdogRun(gpointer data)
{
    VdClientWatchdog *wd = data;

    g_mutex_lock(&wd->lock);
    while (!wd->done) {
        if (!g_cond_wait_until(&wd->cond, &wd->lock, wd->deadline)) {
            if (!wd->done) {
                wd->fired = TRUE;
                g_cancellable_cancel(wd->cancellable);
            }
            break;
        }
    }
    g_mutex_unlock(&wd->lock);
    return NULL;
}

static void
vdClientWatchdogStart(VdClientWatchdog *wd, double seconds)
{
    g_mutex_init(&wd->lock);
    g_cond_init(&wd->cond);
    wd->deadline = g_get_monotonic_time() + (gint64)(seconds * G_TIME_SPAN_SECOND);
    wd->cancellable = g_cancellable_new();
    wd->thread = g_thread_new("vdsm-client-timeout", vdClientWatchdogRun, wd);
}

static gboolean
vdClientWatchdogStop(VdClientWatchdog *wd)
{
    gboolean fired;

    g_mutex_lock(&wd->lock);
    wd->done = TRUE;
    g_cond_signal(&wd->cond);
    g_mutex_unlock(&wd->lock);
    g_thread_join(wd->thread);
    fired = wd->fired;
    g_clear_object(&wd->cancellable);
    g_mutex_clear(&wd->lock);
    g_cond_clear(&wd->cond);
    return fired;
}

static gboolean
vdClientWatchdogFired(VdClientWatchdog *wd)
{
    gboolean fired;

    g_mutex_lock(&wd->lock);
    fired = wd->fired;
    g_mutex_unlock(&wd->lock);
    return fired;
}

/* ---- connection -------------------------------------------------------- */

typedef struct {
    GTlsCertificateFlags rejected; /* what made us refuse the server's cert */
} VdClientTlsState;

/* Called only when validation found problems.  Like VDSM's client we do
 * not check the host name (hosts are addressed by IP or any alias), but
 * the chain must lead to our CA. */
static gboolean
vdClientAcceptCertificate(GTlsConnection *conn, GTlsCertificate *peer_cert,
                          GTlsCertificateFlags errors, gpointer data)
{
    VdClientTlsState *state = data;
    GTlsCertificateFlags others = errors & ~G_TLS_CERTIFICATE_BAD_IDENTITY;

    state->rejected = others;
    return others == 0;
}

static char *
vdClientCertFlagsText(GTlsCertificateFlags flags)
{
    static const struct {
        GTlsCertificateFlags flag;
        const char *text;
    } names[] = {
        { G_TLS_CERTIFICATE_UNKNOWN_CA, "not signed by the trusted CA" },
        { G_TLS_CERTIFICATE_NOT_ACTIVATED, "not yet valid" },
        { G_TLS_CERTIFICATE_EXPIRED, "expired" },
        { G_TLS_CERTIFICATE_REVOKED, "revoked" },
        { G_TLS_CERTIFICATE_INSECURE, "insecure algorithm" },
        { G_TLS_CERTIFICATE_GENERIC_ERROR, "invalid" },
    };
    g_autoptr(GString) out = g_string_new(NULL);

    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        if (flags & names[i].flag)
            g_string_append_printf(out, "%s%s", out->len ? ", " : "", names[i].text);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Connect and, with TLS, handshake.  Returns the stream to talk on. */
static GIOStream *
vdClientConnect(const VdClientOptions *opts, GCancellable *cancellable, GError **error)
{
    g_autoptr(GSocketClient) client = g_socket_client_new();
    g_autoptr(GSocketConnectable) addr = g_network_address_new(opts->host, opts->port);
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GIOStream) tls = NULL;
    g_autoptr(GTlsCertificate) cert = NULL;
    g_autoptr(GTlsDatabase) db = NULL;
    g_autofree char *key_path = NULL;
    g_autofree char *cert_path = NULL;
    g_autofree char *ca_path = NULL;
    VdClientTlsState state = { 0 };

    if (opts->use_tls) {
        /* load the files first: a missing key is a clearer error than a refused handshake */
        key_path = g_build_filename(opts->trust_store, "keys", "vdsmkey.pem", NULL);
        cert_path = g_build_filename(opts->trust_store, "certs", "vdsmcert.pem", NULL);
        ca_path = g_build_filename(opts->trust_store, "certs", "cacert.pem", NULL);
        cert = g_tls_certificate_new_from_files(cert_path, key_path, error);
        if (!cert) {
            g_prefix_error(error, "cannot load client certificate %s / key %s: ", cert_path,
                           key_path);
            return NULL;
        }
        db = g_tls_file_database_new(ca_path, error);
        if (!db) {
            g_prefix_error(error, "cannot load CA certificate %s: ", ca_path);
            return NULL;
        }
    }

    /* a direct connection as VDSM's client makes: no proxy from the environment */
    g_socket_client_set_enable_proxy(client, FALSE);
    g_socket_client_set_timeout(client, (guint)ceil(opts->timeout));
    conn = g_socket_client_connect(client, addr, cancellable, error);
    if (!conn)
        return NULL;
    /* each request is one write followed by a wait: never let Nagle hold it */
    g_socket_set_option(g_socket_connection_get_socket(conn), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    if (!opts->use_tls)
        return G_IO_STREAM(g_steal_pointer(&conn));

    /* no server identity: no SNI and no host name check, as VDSM's client */
    tls = g_tls_client_connection_new(G_IO_STREAM(conn), NULL, error);
    if (!tls)
        return NULL;
    g_tls_connection_set_certificate(G_TLS_CONNECTION(tls), cert);
    g_tls_connection_set_database(G_TLS_CONNECTION(tls), db);
    g_signal_connect(tls, "accept-certificate", G_CALLBACK(vdClientAcceptCertificate), &state);
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(tls), cancellable, error)) {
        if (state.rejected) {
            g_autofree char *why = vdClientCertFlagsText(state.rejected);

            g_clear_error(error);
            g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
                        "server certificate rejected (%s; CA file %s)", why, ca_path);
        } else if (!g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_autofree char *msg = g_strdup_printf(
                "TLS handshake: %s (if the server runs with ssl = false, use --insecure)",
                (*error)->message);

            g_clear_error(error);
            g_set_error_literal(error, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, msg);
        }
        g_signal_handlers_disconnect_by_data(tls, &state);
        return NULL;
    }
    g_signal_handlers_disconnect_by_data(tls, &state);
    return G_IO_STREAM(g_steal_pointer(&tls));
}

typedef enum {
    VD_CLIENT_CALL_OK,
    VD_CLIENT_CALL_CONNECT_FAILED,
    VD_CLIENT_CALL_FAILED,
    VD_CLIENT_CALL_TIMEOUT,
} VdClientCallStatus;

/* Is @msg (an object or a batch array) the reply to @id?  Returns the
 * reply object (borrowed from @msg) or NULL. */
static json_object *
vdClientMatchReply(json_object *msg, const char *id)
{
    if (json_object_is_type(msg, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(msg); i++) {
            json_object *r = vdClientMatchReply(json_object_array_get_idx(msg, i), id);

            if (r)
                return r;
        }
        return NULL;
    }
    if (json_object_is_type(msg, json_type_object)) {
        const char *rid = vdClientJsonStr(msg, "id");

        if (rid && g_str_equal(rid, id))
            return msg;
    }
    return NULL;
}

/* Send one request and wait for its reply; *reply gets the JSON-RPC
 * response object. */
static VdClientCallStatus
vdClientCall(const VdClientOptions *opts, const char *verb_name, json_object *params,
             json_object **reply, GError **error)
{
    VdClientWatchdog wd = { 0 };
    VdClientCallStatus status = VD_CLIENT_CALL_FAILED;
    g_autoptr(GIOStream) stream = NULL;
    g_autoptr(VdStompParser) parser = vdStompParserNew(VD_CLIENT_MAX_FRAME, VD_CLIENT_MAX_HEADER);
    g_autoptr(GByteArray) wire = g_byte_array_new();
    g_autoptr(json_object) batch = json_object_new_array();
    json_object *request = json_object_new_object();
    g_autofree char *sub_dest = g_uuid_string_random();
    g_autofree char *sub_id = g_uuid_string_random();
    g_autofree char *req_id = g_uuid_string_random();
    g_autofree char *buf = g_malloc(65536);
    const char *body;
    gboolean connected = FALSE;

    json_object_object_add(request, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(request, "method", json_object_new_string(verb_name));
    json_object_object_add(request, "params", json_object_get(params));
    json_object_object_add(request, "id", json_object_new_string(req_id));
    /* VDSM's client sends a one-element batch (vdsm-facts §11) */
    json_object_array_add(batch, request);
    body = json_object_to_json_string_ext(batch, JSON_C_TO_STRING_PLAIN);

    {
        const char *connect_hdrs[] = { "accept-version", "1.2", "heart-beat", "0,24000",
                                       "host", opts->host, NULL };
        const char *sub_hdrs[] = { "destination", sub_dest, "id", sub_id, "ack", "auto", NULL };
        const char *send_hdrs[] = { "destination", VD_CLIENT_REQUEST_QUEUE,
                                    "content-type", "application/json",
                                    "reply-to", sub_dest,
                                    opts->flow_id ? "ovirtCorrelationId" : NULL, opts->flow_id,
                                    NULL };

        /* like VDSM's client, do not wait for CONNECTED: all three frames go
         * out in one write and the server handles them in order */
        vdStompEncode(wire, "CONNECT", connect_hdrs, NULL, 0);
        vdStompEncode(wire, "SUBSCRIBE", sub_hdrs, NULL, 0);
        vdStompEncode(wire, "SEND", send_hdrs, body, strlen(body));
    }

    vdClientWatchdogStart(&wd, opts->timeout);
    stream = vdClientConnect(opts, wd.cancellable, error);
    if (!stream) {
        status = VD_CLIENT_CALL_CONNECT_FAILED;
        goto done;
    }
    if (!g_output_stream_write_all(g_io_stream_get_output_stream(stream), wire->data, wire->len,
                                   NULL, wd.cancellable, error)) {
        g_prefix_error(error, "cannot send the request: ");
        goto done;
    }

    for (;;) {
        gssize n = g_input_stream_read(g_io_stream_get_input_stream(stream), buf, 65536,
                                       wd.cancellable, error);
        VdStompFrame *raw;

        if (n < 0) {
            g_prefix_error(error, "cannot read the reply: ");
            goto done;
        }
        if (n == 0) {
            g_set_error(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                        "the server closed the connection before replying%s",
                        connected ? "" : " (no CONNECTED frame was received)");
            goto done;
        }
        if (vdStompParserFeed(parser, buf, n, error) < 0) {
            g_prefix_error(error, "bad STOMP data from the server: ");
            goto done;
        }
        while ((raw = vdStompParserPop(parser))) {
            g_autoptr(VdStompFrame) frame = raw;
            g_autoptr(json_object) msg = NULL;
            json_object *match;

            if (g_str_equal(frame->command, "CONNECTED")) {
                connected = TRUE;
            } else if (g_str_equal(frame->command, "ERROR")) {
                const char *m = vdStompFrameGetHeader(frame, "message");

                g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "STOMP ERROR from server: %s%s%.*s",
                            m ? m : "", m && frame->body_len ? ": " : "",
                            (int)MIN(frame->body_len, 1024), frame->body ? frame->body : "");
                goto done;
            } else if (g_str_equal(frame->command, "MESSAGE") && frame->body_len > 0) {
                const char *why = NULL;

                msg = vdClientJsonParse(frame->body, frame->body_len, &why);
                match = msg ? vdClientMatchReply(msg, req_id) : NULL;
                if (match) {
                    *reply = json_object_get(match);
                    status = VD_CLIENT_CALL_OK;
                    goto done;
                }
            }
            /* RECEIPT, events and replies to others are not ours */
        }
    }

done:
    if (status == VD_CLIENT_CALL_FAILED && !connected && !opts->use_tls && *error &&
        !vdClientWatchdogFired(&wd)) {
        g_autofree char *msg = g_strdup_printf(
            "%s (no STOMP answer: if the server uses TLS, drop --insecure)", (*error)->message);

        g_clear_error(error);
        g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
    }
    if (status != VD_CLIENT_CALL_OK && vdClientWatchdogFired(&wd)) {
        g_clear_error(error);
        g_set_error(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
        status = status == VD_CLIENT_CALL_CONNECT_FAILED ? VD_CLIENT_CALL_CONNECT_FAILED
                                                         : VD_CLIENT_CALL_TIMEOUT;
    }
    /* VDSM's client just drops the connection; the close does not need the deadline */
    if (stream)
        g_io_stream_close(stream, NULL, NULL);
    vdClientWatchdogStop(&wd);
    return status;
}

/* ---- main -------------------------------------------------------------- */

static char *
vdClientTimeoutText(double t)
{
    GString *out = g_string_new(NULL);

    if (t == floor(t) && t < 1e15)
        g_string_append_printf(out, "%.0f", t);
    else
        vdClientAppendPyFloat(out, t, FALSE);
    return g_string_free(out, FALSE);
}

int
main(int argc, char **argv)
{
    g_auto(VdClientOptions) opts = { 0 };
    g_autoptr(VdClientSchema) schema = NULL;
    g_autoptr(GError) schema_error = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(json_object) params = NULL;
    g_autoptr(json_object) reply = NULL;
    g_autoptr(GString) args_repr = g_string_new(NULL);
    g_autofree char *verb_name = NULL;
    g_autofree char *timeout_text = NULL;
    json_object *verb;
    json_object *result = NULL;
    json_object *rpc_error = NULL;
    int rc;

    rc = vdClientParseArgs(argc, argv, &opts);
    if (rc >= 0)
        return rc;

    schema = vdClientSchemaLoad(&schema_error);
    if (!opts.ns) {
        if (opts.help) {
            vdClientPrintGlobalHelp(stdout, schema, schema_error);
            return VD_CLIENT_EXIT_OK;
        }
        vdClientPrintGlobalHelp(stderr, schema, schema_error);
        fprintf(stderr, "vdsm-client: error: missing Namespace and method\n");
        return VD_CLIENT_EXIT_USAGE;
    }
    if (!schema) {
        fprintf(stderr, "vdsm-client: %s\n", schema_error->message);
        return VD_CLIENT_EXIT_FAIL;
    }

    {
        g_autoptr(GPtrArray) methods = vdClientSchemaMethods(schema, opts.ns);

        if (methods->len == 0) {
            g_autoptr(GPtrArray) nss = vdClientSchemaNamespaces(schema);

            g_autofree char *list = NULL;

            g_ptr_array_add(nss, NULL);
            list = g_strjoinv(", ", (char **)nss->pdata);
            return vdClientUsageError("unknown namespace '%s' (choose from: %s)", opts.ns, list);
        }
        if (!opts.method) {
            if (opts.help) {
                vdClientPrintNamespaceHelp(stdout, schema, opts.ns);
                return VD_CLIENT_EXIT_OK;
            }
            vdClientPrintNamespaceHelp(stderr, schema, opts.ns);
            fprintf(stderr, "vdsm-client: error: missing method of %s\n", opts.ns);
            return VD_CLIENT_EXIT_USAGE;
        }
        verb = vdClientSchemaVerb(schema, opts.ns, opts.method);
        if (!verb) {
            g_autofree char *list = NULL;

            g_ptr_array_add(methods, NULL);
            list = g_strjoinv(", ", (char **)methods->pdata);
            return vdClientUsageError("unknown method '%s' of %s (choose from: %s)", opts.method,
                                      opts.ns, list);
        }
    }
    if (opts.help) {
        vdClientPrintVerbHelp(stdout, schema, opts.ns, opts.method, verb);
        return VD_CLIENT_EXIT_OK;
    }

    verb_name = g_strdup_printf("%s.%s", opts.ns, opts.method);
    if (opts.file && opts.args->len > 0)
        return vdClientUsageError("-f and name=value arguments are mutually exclusive");
    if (opts.file)
        params = vdClientReadParamsFile(opts.file, &error);
    else
        params = vdClientBuildParams(verb, verb_name, opts.args, &error);
    if (!params)
        return vdClientUsageError("%s", error->message);

    vdClientAppendPyRepr(args_repr, params);
    timeout_text = vdClientTimeoutText(opts.timeout);
    switch (vdClientCall(&opts, verb_name, params, &reply, &error)) {
    case VD_CLIENT_CALL_OK:
        break;
    case VD_CLIENT_CALL_CONNECT_FAILED:
        fprintf(stderr,
                "vdsm-client: Connection to %s:%u with use_tls=%s, timeout=%s failed: %s\n",
                opts.host, opts.port, opts.use_tls ? "True" : "False", timeout_text,
                error->message);
        return VD_CLIENT_EXIT_FAIL;
    case VD_CLIENT_CALL_TIMEOUT:
        fprintf(stderr, "vdsm-client: Request %s with args %s timed out after %s seconds\n",
                verb_name, args_repr->str, timeout_text);
        return VD_CLIENT_EXIT_FAIL;
    case VD_CLIENT_CALL_FAILED:
        fprintf(stderr, "vdsm-client: Request %s to %s:%u failed: %s\n", verb_name, opts.host,
                opts.port, error->message);
        return VD_CLIENT_EXIT_FAIL;
    }

    if (json_object_object_get_ex(reply, "error", &rpc_error) &&
        !json_object_is_type(rpc_error, json_type_null)) {
        json_object *code = NULL;
        const char *message = vdClientJsonStr(rpc_error, "message");

        json_object_object_get_ex(rpc_error, "code", &code);
        fprintf(stderr, "vdsm-client: Command %s with args %s failed:\n(code=%s, message=%s)\n",
                verb_name, args_repr->str,
                code ? json_object_to_json_string_ext(code, JSON_C_TO_STRING_PLAIN) : "None",
                message ? message : "None");
        return VD_CLIENT_EXIT_FAIL;
    }
    if (!json_object_object_get_ex(reply, "result", &result)) {
        fprintf(stderr, "vdsm-client: Request %s: the reply has neither result nor error: %s\n",
                verb_name, json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN));
        return VD_CLIENT_EXIT_FAIL;
    }
    {
        g_autoptr(GString) out = g_string_new(NULL);

        vdClientAppendJson(out, result, 0);
        g_string_append_c(out, '\n');
        fputs(out->str, stdout);
    }
    if (fflush(stdout) != 0)
        return VD_CLIENT_EXIT_FAIL;
    return VD_CLIENT_EXIT_OK;
}
