/* stomp-frame.c - STOMP 1.2 frame codec: parser and serializer (vdsm-facts §1.2).
 *
 * DESIGN: a pure codec.  No I/O, no globals; a parser belongs to one
 * connection and is used from one thread at a time (the main loop).
 *
 * The parser keeps one byte buffer.  Command and header lines are parsed and
 * consumed from its front as soon as each line is complete, so only the
 * current partial line, or the current body, stays buffered.  Every scan
 * remembers how far it got (@scanned), so a large body arriving in tiny
 * pieces is scanned once: feeding n bytes costs O(n) in total.  Input is
 * appended in slices of VD_STOMP_FEED_SLICE and the consumed prefix is
 * dropped after each slice, so one huge Feed holding many small frames does
 * not grow the buffer beyond one frame plus one slice.
 *
 * Limits (every resource a client controls is bounded):
 *  - max_header: command line + header lines + the blank line, in bytes;
 *  - max_frame: the whole frame (header block + body + NUL), in bytes.
 * Both are checked against the smallest size the bytes already seen imply:
 * a content-length that cannot fit fails before any body byte arrives, and
 * a body without content-length fails once it outgrows the frame limit.
 * Heart-beat EOLs between frames are not part of any frame.  A limit of 0
 * means "no limit" (for tools and tests; the server always sets both).
 */
#include "stomp-frame.h"

#include <string.h>

#include "vd-error.h"

/* How much input is appended to the buffer before parsing it. */
#define VD_STOMP_FEED_SLICE (64 * 1024)

/* An emptied buffer larger than this is released rather than kept. */
#define VD_STOMP_KEEP_BUFFER (256 * 1024)

#define VD_STOMP_CONTENT_LENGTH "content-length"

typedef enum {
    VD_STOMP_STATE_COMMAND, /* skipping heart-beats, reading the command line */
    VD_STOMP_STATE_HEADERS, /* reading header lines up to the blank line */
    VD_STOMP_STATE_BODY,    /* reading the body and its NUL */
} VdStompState;

struct _VdStompParser {
    gsize max_frame;
    gsize max_header;

    GByteArray *buf; /* unconsumed input is buf->data[start .. buf->len) */
    gsize start;
    gsize scanned; /* bytes after @start already scanned for the current terminator */

    VdStompState state;
    VdStompFrame *frame; /* the frame being built (HEADERS and BODY states) */
    gsize header_len;    /* bytes of command and header lines consumed for @frame */
    gboolean has_length; /* @frame carries a content-length */
    gsize content_length;

    GQueue ready; /* complete VdStompFrame *, oldest first */
    guint heartbeats;
    gboolean failed;
};

/* ---- frames ---------------------------------------------------------- */

static void
vdStompHeaderClear(gpointer data)
{
    VdStompHeader *header = data;

    g_free(header->key);
    g_free(header->value);
}

VdStompFrame *
vdStompFrameNew(const char *command)
{
    VdStompFrame *frame = g_new0(VdStompFrame, 1);

    frame->command = g_strdup(command);
    frame->headers = g_array_new(FALSE, FALSE, sizeof(VdStompHeader));
    g_array_set_clear_func(frame->headers, vdStompHeaderClear);
    frame->body = g_malloc0(1);
    frame->body_len = 0;
    return frame;
}

void
vdStompFrameFree(VdStompFrame *frame)
{
    if (!frame)
        return;
    g_free(frame->command);
    g_array_unref(frame->headers);
    g_free(frame->body);
    g_free(frame);
}

const char *
vdStompFrameGetHeader(const VdStompFrame *frame, const char *key)
{
    g_return_val_if_fail(frame && key, NULL);

    for (guint i = 0; i < frame->headers->len; i++) {
        const VdStompHeader *header = &g_array_index(frame->headers, VdStompHeader, i);

        if (strcmp(header->key, key) == 0)
            return header->value;
    }
    return NULL;
}

/* Append a header, taking ownership of @key and @value. */
static void
vdStompFrameTakeHeader(VdStompFrame *frame, char *key, char *value)
{
    VdStompHeader header = {key, value};

    g_array_append_val(frame->headers, header);
}

void
vdStompFrameAddHeader(VdStompFrame *frame, const char *key, const char *value)
{
    g_return_if_fail(frame && key && value);

    vdStompFrameTakeHeader(frame, g_strdup(key), g_strdup(value));
}

void
vdStompFrameSetBody(VdStompFrame *frame, const char *data, gsize len)
{
    char *body;

    g_return_if_fail(frame && (data || len == 0));

    body = g_malloc(len + 1);
    if (len > 0)
        memcpy(body, data, len);
    body[len] = '\0';
    g_free(frame->body);
    frame->body = body;
    frame->body_len = len;
}

/* ---- serializer ------------------------------------------------------ */

static void
vdStompAppendEscaped(GByteArray *out, const char *s)
{
    const char *run = s;

    for (; *s; s++) {
        const char *esc;

        switch (*s) {
        case '\\':
            esc = "\\\\";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\n':
            esc = "\\n";
            break;
        case ':':
            esc = "\\c";
            break;
        default:
            continue;
        }
        g_byte_array_append(out, (const guint8 *)run, s - run);
        g_byte_array_append(out, (const guint8 *)esc, 2);
        run = s + 1;
    }
    g_byte_array_append(out, (const guint8 *)run, s - run);
}

/* One "key:value\n" line.  The caller's content-length is never written:
 * the serializer writes its own, computed from the body. */
static void
vdStompAppendHeader(GByteArray *out, const char *key, const char *value)
{
    if (strcmp(key, VD_STOMP_CONTENT_LENGTH) == 0)
        return;
    vdStompAppendEscaped(out, key);
    g_byte_array_append(out, (const guint8 *)":", 1);
    vdStompAppendEscaped(out, value);
    g_byte_array_append(out, (const guint8 *)"\n", 1);
}

static void
vdStompAppendCommand(GByteArray *out, const char *command)
{
    g_byte_array_append(out, (const guint8 *)command, strlen(command));
    g_byte_array_append(out, (const guint8 *)"\n", 1);
}

static void
vdStompAppendBody(GByteArray *out, const char *body, gsize body_len)
{
    if (body_len > 0) {
        char line[64];
        int n = g_snprintf(line, sizeof(line), VD_STOMP_CONTENT_LENGTH ":%" G_GSIZE_FORMAT "\n",
                           body_len);

        g_byte_array_append(out, (const guint8 *)line, n);
    }
    g_byte_array_append(out, (const guint8 *)"\n", 1);
    if (body_len > 0)
        g_byte_array_append(out, (const guint8 *)body, body_len);
    g_byte_array_append(out, (const guint8 *)"", 1);
}

void
vdStompEncode(GByteArray *out, const char *command, const char *const *headers, const char *body,
              gsize body_len)
{
    g_return_if_fail(out && command && (body || body_len == 0));

    vdStompAppendCommand(out, command);
    /* A key without a value ends the list like the terminating NULL does. */
    for (gsize i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        vdStompAppendHeader(out, headers[i], headers[i + 1]);
    vdStompAppendBody(out, body, body_len);
}

GBytes *
vdStompFrameSerialize(const VdStompFrame *frame)
{
    GByteArray *out;

    g_return_val_if_fail(frame && frame->command, NULL);

    out = g_byte_array_sized_new(64 + frame->body_len);
    vdStompAppendCommand(out, frame->command);
    for (guint i = 0; i < frame->headers->len; i++) {
        const VdStompHeader *header = &g_array_index(frame->headers, VdStompHeader, i);

        vdStompAppendHeader(out, header->key, header->value);
    }
    vdStompAppendBody(out, frame->body, frame->body_len);
    return g_byte_array_free_to_bytes(out);
}

/* ---- parser ---------------------------------------------------------- */

VdStompParser *
vdStompParserNew(gsize max_frame, gsize max_header)
{
    VdStompParser *parser = g_new0(VdStompParser, 1);

    parser->max_frame = max_frame ? max_frame : G_MAXSIZE;
    parser->max_header = max_header ? max_header : G_MAXSIZE;
    parser->buf = g_byte_array_new();
    parser->state = VD_STOMP_STATE_COMMAND;
    g_queue_init(&parser->ready);
    return parser;
}

void
vdStompParserFree(VdStompParser *parser)
{
    if (!parser)
        return;
    g_byte_array_unref(parser->buf);
    vdStompFrameFree(parser->frame);
    g_queue_clear_full(&parser->ready, (GDestroyNotify)vdStompFrameFree);
    g_free(parser);
}

static void vdStompParseError(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void
vdStompParseError(GError **error, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, VD_ERROR, VD_ERR_PARSE, msg);
}

/* Fail when a header block of at least @size bytes breaks a limit. */
static int
vdStompCheckHeaderSize(VdStompParser *parser, gsize size, GError **error)
{
    if (size > parser->max_header) {
        vdStompParseError(error, "frame header too large: more than %" G_GSIZE_FORMAT " bytes",
                          parser->max_header);
        return -1;
    }
    if (size > parser->max_frame) {
        vdStompParseError(error, "frame too large: more than %" G_GSIZE_FORMAT " bytes",
                          parser->max_frame);
        return -1;
    }
    return 0;
}

/* Unescape a header key or value (\\ \r \n \c); NULL on an unknown escape. */
static char *
vdStompUnescape(const char *s, gsize len, GError **error)
{
    g_autoptr(GString) out = g_string_sized_new(len);
    const char *end = s + len;

    while (s < end) {
        const char *bs = memchr(s, '\\', end - s);

        if (!bs) {
            g_string_append_len(out, s, end - s);
            break;
        }
        g_string_append_len(out, s, bs - s);
        if (bs + 1 == end) {
            vdStompParseError(error, "invalid header escape: '\\' at end of line");
            return NULL;
        }
        switch (bs[1]) {
        case '\\':
            g_string_append_c(out, '\\');
            break;
        case 'r':
            g_string_append_c(out, '\r');
            break;
        case 'n':
            g_string_append_c(out, '\n');
            break;
        case 'c':
            g_string_append_c(out, ':');
            break;
        default:
            if (g_ascii_isprint(bs[1]))
                vdStompParseError(error, "invalid header escape '\\%c'", bs[1]);
            else
                vdStompParseError(error, "invalid header escape '\\' followed by byte 0x%02x",
                                  (guint8)bs[1]);
            return NULL;
        }
        s = bs + 2;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Parse one header line (without its EOL) into @frame. */
static int
vdStompParseHeader(VdStompFrame *frame, const char *line, gsize len, GError **error)
{
    const char *colon;
    const char *value;
    gsize value_len;
    g_autofree char *key = NULL;
    g_autofree char *val = NULL;

    if (memchr(line, '\0', len)) {
        vdStompParseError(error, "NUL byte in header line");
        return -1;
    }
    if (memchr(line, '\r', len)) {
        vdStompParseError(error, "raw CR in header line");
        return -1;
    }
    if (!g_utf8_validate(line, len, NULL)) {
        vdStompParseError(error, "header line is not valid UTF-8");
        return -1;
    }
    colon = memchr(line, ':', len);
    if (!colon) {
        vdStompParseError(error, "header line without ':'");
        return -1;
    }
    if (colon == line) {
        vdStompParseError(error, "empty header name");
        return -1;
    }
    value = colon + 1;
    value_len = line + len - value;
    /* VDSM splits on ':' and rejects a second one: values must use \c. */
    if (memchr(value, ':', value_len)) {
        vdStompParseError(error, "raw ':' in header value");
        return -1;
    }
    if (!(key = vdStompUnescape(line, colon - line, error)))
        return -1;
    if (!(val = vdStompUnescape(value, value_len, error)))
        return -1;
    vdStompFrameTakeHeader(frame, g_steal_pointer(&key), g_steal_pointer(&val));
    return 0;
}

/* Decimal digits only (no sign, no blanks); saturates at G_MAXSIZE. */
static int
vdStompParseLength(const char *s, gsize *out)
{
    gsize n = 0;

    if (!*s)
        return -1;
    for (; *s; s++) {
        guint digit;

        if (!g_ascii_isdigit(*s))
            return -1;
        digit = *s - '0';
        if (n > (G_MAXSIZE - digit) / 10)
            n = G_MAXSIZE;
        else
            n = n * 10 + digit;
    }
    *out = n;
    return 0;
}

/* The state functions return 1 after progress, 0 when they need more
 * input, -1 on error. */

static int
vdStompParseCommand(VdStompParser *parser, GError **error)
{
    const char *line = (const char *)parser->buf->data + parser->start;
    gsize avail = parser->buf->len - parser->start;
    gsize i;
    gsize len;

    for (i = parser->scanned; i < avail; i++) {
        char c = line[i];

        if (c == '\n')
            break;
        if (c >= 'A' && c <= 'Z')
            continue;
        if (c == '\r') {
            if (i + 1 == avail)
                break; /* is it the end of the line?  Look again with more input. */
            if (line[i + 1] == '\n')
                continue;
        }
        if (g_ascii_isgraph(c))
            vdStompParseError(error, "invalid command: unexpected character '%c'", c);
        else
            vdStompParseError(error, "invalid command: unexpected byte 0x%02x", (guint8)c);
        return -1;
    }
    parser->scanned = i;

    if (i == avail || line[i] != '\n') {
        /* A partial command line: it will need at least one more byte. */
        if (i > 0 && vdStompCheckHeaderSize(parser, avail + 1, error) < 0)
            return -1;
        return 0;
    }

    len = i;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    parser->start += i + 1;
    parser->scanned = 0;
    if (len == 0) {
        parser->heartbeats++;
        return 1;
    }
    if (vdStompCheckHeaderSize(parser, i + 1, error) < 0)
        return -1;

    parser->frame = vdStompFrameNew(NULL);
    parser->frame->command = g_strndup(line, len);
    parser->header_len = i + 1;
    parser->state = VD_STOMP_STATE_HEADERS;
    return 1;
}

static int
vdStompHeadersDone(VdStompParser *parser, GError **error)
{
    const char *value = vdStompFrameGetHeader(parser->frame, VD_STOMP_CONTENT_LENGTH);

    parser->has_length = FALSE;
    parser->content_length = 0;
    if (value) {
        gsize length;

        if (vdStompParseLength(value, &length) < 0) {
            vdStompParseError(error, "invalid content-length: not a non-negative decimal number");
            return -1;
        }
        /* header_len <= max_frame was checked; the body and its NUL must fit. */
        if (length >= parser->max_frame - parser->header_len) {
            vdStompParseError(
                error,
                "frame too large: content-length %.40s exceeds the limit of %" G_GSIZE_FORMAT
                " bytes",
                value, parser->max_frame);
            return -1;
        }
        parser->has_length = TRUE;
        parser->content_length = length;
    }
    parser->state = VD_STOMP_STATE_BODY;
    return 1;
}

static int
vdStompParseHeaderLine(VdStompParser *parser, GError **error)
{
    const char *line = (const char *)parser->buf->data + parser->start;
    gsize avail = parser->buf->len - parser->start;
    const char *nl = memchr(line + parser->scanned, '\n', avail - parser->scanned);
    gsize len;

    if (!nl) {
        /* A NUL can never be part of a header line: fail now rather than wait
         * for a newline that a client that forgot the blank line never sends. */
        if (memchr(line + parser->scanned, '\0', avail - parser->scanned)) {
            vdStompParseError(error, "NUL byte in header line");
            return -1;
        }
        parser->scanned = avail;
        if (vdStompCheckHeaderSize(parser, parser->header_len + avail + 1, error) < 0)
            return -1;
        return 0;
    }

    len = nl - line;
    if (vdStompCheckHeaderSize(parser, parser->header_len + len + 1, error) < 0)
        return -1;
    parser->header_len += len + 1;
    parser->start += len + 1;
    parser->scanned = 0;
    if (len > 0 && line[len - 1] == '\r')
        len--;

    if (len == 0)
        return vdStompHeadersDone(parser, error);
    if (vdStompParseHeader(parser->frame, line, len, error) < 0)
        return -1;
    return 1;
}

static int
vdStompParseBody(VdStompParser *parser, GError **error)
{
    const char *data = (const char *)parser->buf->data + parser->start;
    gsize avail = parser->buf->len - parser->start;
    gsize room = parser->max_frame - parser->header_len; /* body + NUL must fit */
    gsize body_len;

    if (parser->has_length) {
        body_len = parser->content_length;
        if (avail <= body_len)
            return 0;
        if (data[body_len] != '\0') {
            vdStompParseError(error,
                              "missing NUL after body: byte 0x%02x follows %" G_GSIZE_FORMAT
                              " bytes of content-length",
                              (guint8)data[body_len], body_len);
            return -1;
        }
    } else {
        const char *nul = memchr(data + parser->scanned, '\0', avail - parser->scanned);

        if (!nul) {
            parser->scanned = avail;
            if (avail >= room) {
                vdStompParseError(error,
                                  "frame too large: body without content-length exceeds the "
                                  "limit of %" G_GSIZE_FORMAT " bytes",
                                  parser->max_frame);
                return -1;
            }
            return 0;
        }
        body_len = nul - data;
        if (body_len >= room) {
            vdStompParseError(error,
                              "frame too large: body without content-length exceeds the limit "
                              "of %" G_GSIZE_FORMAT " bytes",
                              parser->max_frame);
            return -1;
        }
    }

    vdStompFrameSetBody(parser->frame, data, body_len);
    g_queue_push_tail(&parser->ready, g_steal_pointer(&parser->frame));
    parser->start += body_len + 1;
    parser->scanned = 0;
    parser->header_len = 0;
    parser->has_length = FALSE;
    parser->content_length = 0;
    parser->state = VD_STOMP_STATE_COMMAND;
    return 1;
}

static int
vdStompParserRun(VdStompParser *parser, GError **error)
{
    for (;;) {
        int rc = -1;

        switch (parser->state) {
        case VD_STOMP_STATE_COMMAND:
            rc = vdStompParseCommand(parser, error);
            break;
        case VD_STOMP_STATE_HEADERS:
            rc = vdStompParseHeaderLine(parser, error);
            break;
        case VD_STOMP_STATE_BODY:
            rc = vdStompParseBody(parser, error);
            break;
        }
        if (rc <= 0)
            return rc;
    }
}

/* Drop the consumed prefix; @scanned is relative to @start so it stays valid. */
static void
vdStompParserCompact(VdStompParser *parser)
{
    if (parser->start == 0)
        return;
    if (parser->start == parser->buf->len) {
        if (parser->buf->len > VD_STOMP_KEEP_BUFFER) {
            g_byte_array_unref(parser->buf);
            parser->buf = g_byte_array_new();
        } else {
            g_byte_array_set_size(parser->buf, 0);
        }
    } else {
        g_byte_array_remove_range(parser->buf, 0, parser->start);
    }
    parser->start = 0;
}

int
vdStompParserFeed(VdStompParser *parser, const char *data, gsize len, GError **error)
{
    g_return_val_if_fail(parser && (data || len == 0), -1);

    if (parser->failed) {
        vdStompParseError(error, "STOMP parser fed again after an error");
        return -1;
    }
    while (len > 0) {
        gsize n = MIN(len, VD_STOMP_FEED_SLICE);

        g_byte_array_append(parser->buf, (const guint8 *)data, n);
        data += n;
        len -= n;
        if (vdStompParserRun(parser, error) < 0) {
            parser->failed = TRUE;
            return -1;
        }
        vdStompParserCompact(parser);
    }
    return 0;
}

VdStompFrame *
vdStompParserPop(VdStompParser *parser)
{
    g_return_val_if_fail(parser, NULL);

    return g_queue_pop_head(&parser->ready);
}

guint
vdStompParserTakeHeartbeats(VdStompParser *parser)
{
    guint n;

    g_return_val_if_fail(parser, 0);

    n = parser->heartbeats;
    parser->heartbeats = 0;
    return n;
}
