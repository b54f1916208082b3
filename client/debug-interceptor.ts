import { toJson, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { codeName } from "./error-explainer.js";
import { redactHeaders, redactJson } from "./redact.js";

/** Where debug lines go; stderr in the CLI, anything in tests. */
export type DebugSink = (line: string) => void;

/** The default sink: stderr, so debug output never mixes with a command's results on stdout. */
export const stderrSink: DebugSink = (line) => process.stderr.write(`${line}\n`);

function messageJson(schema: DescMessage, message: unknown): string {
  try {
    return JSON.stringify(redactJson(toJson(schema, message as MessageShape<DescMessage>)));
  } catch {
    return "(not serializable)";
  }
}

/**
 * Logs every attempt of every call — method and URL, request and response
 * headers, each message, the outcome and the time taken — with credentials
 * (authorization header, password and token fields) replaced, so the output
 * can be pasted into a bug report.
 */
export function createDebugInterceptor(sink: DebugSink = stderrSink, now: () => number = () => performance.now()): Interceptor {
  let counter = 0;
  return (next) => async (req) => {
    const id = ++counter;
    const started = now();
    const elapsed = () => `${Math.round(now() - started)} ms`;
    const say = (text: string) => sink(`[users-debug] #${id} ${text}`);
    const procedure = `${req.service.typeName}/${req.method.name}`;
    say(`→ ${procedure} ${req.url} (${req.method.methodKind}) headers=${JSON.stringify(redactHeaders(req.header))}`);
    const failed = (reason: unknown): never => {
      const error = ConnectError.from(reason);
      say(`✗ ${codeName(error.code)} ${JSON.stringify(error.rawMessage)} after ${elapsed()} metadata=${JSON.stringify(redactHeaders(error.metadata))}`);
      throw reason;
    };
    let request = req;
    if (req.stream) {
      const input = req.message;
      request = {
        ...req,
        message: (async function* () {
          for await (const message of input) {
            say(`→ message ${messageJson(req.method.input, message)}`);
            yield message;
          }
          say(`→ end of request stream`);
        })(),
      };
    } else {
      say(`→ message ${messageJson(req.method.input, req.message)}`);
    }
    let res;
    try {
      res = await next(request);
    } catch (reason) {
      return failed(reason);
    }
    say(`← headers ${JSON.stringify(redactHeaders(res.header))} after ${elapsed()}`);
    if (!res.stream) {
      say(`← message ${messageJson(req.method.output, res.message)}`);
      say(`✓ OK in ${elapsed()} trailers=${JSON.stringify(redactHeaders(res.trailer))}`);
      return res;
    }
    const output = res.message;
    const trailer = res.trailer;
    return {
      ...res,
      message: (async function* () {
        try {
          for await (const message of output) {
            say(`← message ${messageJson(req.method.output, message)}`);
            yield message;
          }
        } catch (reason) {
          failed(reason);
        }
        say(`✓ OK in ${elapsed()} trailers=${JSON.stringify(redactHeaders(trailer))}`);
      })(),
    } as typeof res;
  };
}
