// The RESP codec: request parsing and reply encoding. Pure: no sockets, no timers, no clock.
export { RespParser, ProtocolError, splitInlineArgs, INLINE_BYTES_MAX, type ParserLimits } from './parser.js';
export { ReplyWriter, ReplyError, ReplyMap, NIL_ARRAY, encodeReply, errorReply, type Reply, type ProtocolVersion } from './reply.js';
