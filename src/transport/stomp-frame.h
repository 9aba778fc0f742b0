/* stomp-frame.h - STOMP 1.2 frames as VDSM speaks them (vdsm-facts §1.2).
 *
 * A pure codec: no I/O, no global state, no threads.  The parser is
 * incremental: feed it whatever bytes arrived (a frame may be split at any
 * byte, several frames may arrive at once) and pop complete frames.
 *
 * Wire rules implemented here:
 *  - COMMAND line, "key:value" header lines, blank line, body, NUL.
 *  - A trailing '\r' on the command and header lines is accepted.
 *  - Blank lines between frames (heart-beats, a bare "\n" or "\r\n") are
 *    skipped; each one counts as a heart-beat (vdStompParserTakeHeartbeats).
 *  - Header keys and values are unescaped (\\ \r \n \c); an unknown escape
 *    or a raw ':' inside a value is an error.  The first occurrence of a
 *    repeated header wins (vdStompFrameGetHeader returns it).
 *  - With content-length the body is exactly that many bytes and the next
 *    byte must be NUL; without it the body runs to the first NUL.
 *  - Limits: a header block (command + headers) longer than max_header or a
 *    frame longer than max_frame is an error, found as soon as the bytes
 *    seen prove it (a huge content-length fails at once, before the body
 *    arrives).
 * The serializer escapes header keys and values and always writes
 * content-length when the body is non-empty.
 */
#pragma once

#include <glib.h>

typedef struct {
    char *key;
    char *value;
} VdStompHeader;

typedef struct {
    char *command;
    GArray *headers; /* of VdStompHeader, in wire order; owns the strings */
    char *body;      /* NUL-terminated for convenience; may contain NULs when content-length was used */
    gsize body_len;
} VdStompFrame;

VdStompFrame *vdStompFrameNew(const char *command);
void vdStompFrameFree(VdStompFrame *frame);

/* First header with that key, or NULL. */
const char *vdStompFrameGetHeader(const VdStompFrame *frame, const char *key);
/* Append a header (copies key and value; no de-duplication). */
void vdStompFrameAddHeader(VdStompFrame *frame, const char *key, const char *value);
/* Replace the body with a copy of @len bytes of @data. */
void vdStompFrameSetBody(VdStompFrame *frame, const char *data, gsize len);

/* Encode the frame: escaped headers, content-length when body_len > 0,
 * terminating NUL.  Never fails. */
GBytes *vdStompFrameSerialize(const VdStompFrame *frame);

/* Append the encoding to @out (for building a frame without a VdStompFrame:
 * @headers is a NULL-terminated key, value, key, value... list). */
void vdStompEncode(GByteArray *out, const char *command, const char *const *headers,
                   const char *body, gsize body_len);

typedef struct _VdStompParser VdStompParser;

VdStompParser *vdStompParserNew(gsize max_frame, gsize max_header);
void vdStompParserFree(VdStompParser *parser);

/* Consume @len bytes.  Complete frames are queued for vdStompParserPop.
 * Returns 0, or -1 with @error set (VD_ERROR, VD_ERR_PARSE) on malformed
 * input or a limit exceeded; after an error the parser must not be fed
 * again. */
int vdStompParserFeed(VdStompParser *parser, const char *data, gsize len, GError **error);

/* The next complete frame (caller owns it), or NULL. */
VdStompFrame *vdStompParserPop(VdStompParser *parser);

/* How many heart-beat EOLs were skipped since the last call (and reset). */
guint vdStompParserTakeHeartbeats(VdStompParser *parser);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdStompFrame, vdStompFrameFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdStompParser, vdStompParserFree)
