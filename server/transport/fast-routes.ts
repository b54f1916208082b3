import {
  create,
  isMessage,
  type DescMessage,
  type DescMethod,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type DescService,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createServiceImplSpec,
  type ConnectRouter,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { LightHeaders } from "./light-headers.js";

/** The interceptor chain of a unary method, ending in its implementation. */
export type UnaryNext = (req: UnaryRequest) => Promise<UnaryResponse>;
export type StreamNext = (req: StreamRequest) => Promise<StreamResponse>;

export type Route =
  | { kind: "unary"; method: DescMethodUnary; service: DescService; next: UnaryNext }
  | { kind: "server_streaming"; method: DescMethodServerStreaming; service: DescService; next: StreamNext };

/** The context of a call travels to the innermost handler through this field of the request object. */
export const kContext = Symbol("fast-path-context");



export interface FastRoutesOptions {
  /** Registers the services, exactly as given to the Connect router. */
  register: (router: ConnectRouter) => void;
  /** The router's interceptors, outermost first. */
  interceptors: Interceptor[];
}

/**
 * The routes the fast paths serve: every unary and server-streaming method
 * registered on the Connect router, each with the router's interceptors
 * already chained around its implementation, so a call runs exactly the code
 * the router would run.
 * Records the registrations and chains the interceptors once per method.
 */
export function createFastRoutes(options: FastRoutesOptions): Map<string, Route> {
  const routes = new Map<string, Route>();

  const contextOf = (req: UnaryRequest | StreamRequest): HandlerContext => {
    const context = (req as unknown as Record<symbol, HandlerContext | undefined>)[kContext];
    if (context === undefined) throw new ConnectError("fast path lost its call context", Code.Internal);
    // Interceptors usually pass the request on as it is; only a replaced one needs a merged context.
    return req.header === context.requestHeader && req.contextValues === context.values
      ? context
      : Object.assign(Object.create(context) as HandlerContext, { requestHeader: req.header, values: req.contextValues });
  };
  const chain = <T>(inner: T): T => {
    let next = inner;
    for (const interceptor of [...options.interceptors].reverse()) next = interceptor(next as never) as T;
    return next;
  };

  const addSpec = (spec: MethodImplSpec) => {
    const method = spec.method;
    const path = `/${method.parent.typeName}/${method.name}`;
    if (spec.kind === "unary") {
      const impl = spec.impl;
      const output = method.output as DescMessage;
      const inner: UnaryNext = async (req) => {
        const context = contextOf(req);
        const result = await impl(req.message, context);
        return {
          stream: false,
          service: method.parent,
          method,
          header: context.responseHeader,
          trailer: context.responseTrailer,
          message: isMessage(result, output) ? result : create(output, result as never),
        } as UnaryResponse;
      };
      routes.set(path, { kind: "unary", method: method as DescMethodUnary, service: method.parent, next: chain(inner) });
    } else if (spec.kind === "server_streaming") {
      const impl = spec.impl;
      const output = method.output as DescMessage;
      const inner: StreamNext = async (req) => {
        const context = contextOf(req);
        let input: unknown;
        for await (const m of req.message) input = m;
        const results = impl(input as never, context);
        return {
          stream: true,
          service: method.parent,
          method,
          header: context.responseHeader,
          trailer: context.responseTrailer,
          message: (async function* () {
            for await (const result of results) yield isMessage(result, output) ? result : create(output, result as never);
          })(),
        } as StreamResponse;
      };
      routes.set(path, { kind: "server_streaming", method: method as DescMethodServerStreaming, service: method.parent, next: chain(inner) });
    }
  };

  const recorder = {
    handlers: [],
    service(service: DescService, impl: object) {
      const spec = createServiceImplSpec(service, impl as never);
      for (const methodSpec of Object.values(spec.methods)) addSpec(methodSpec as MethodImplSpec);
      return recorder;
    },
    rpc(method: DescMethod, impl: unknown) {
      addSpec({ kind: method.methodKind, method, impl } as MethodImplSpec);
      return recorder;
    },
  };
  options.register(recorder as unknown as ConnectRouter);

  return routes;
}

/**
 * The cancellation signal of one call, made only when something asks for it:
 * most unary calls finish without anyone looking, and an AbortController per
 * call showed up in profiles.
 */
export class LazySignal {
  private controller: AbortController | undefined;
  private reason: unknown;
  aborted = false;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.controller?.abort(reason);
  }

  get abortReason(): unknown {
    return this.reason;
  }
}

/** Calls in flight, so shutdown can abort them without a listener per call. */
export class CallTracker {
  private readonly calls = new Set<LazySignal>();

  constructor(private readonly shutdownSignal?: AbortSignal) {
    shutdownSignal?.addEventListener("abort", () => {
      for (const call of this.calls) call.abort(shutdownSignal.reason);
    });
  }

  /** Starts tracking a call; one that starts after shutdown is aborted at once. */
  add(call: LazySignal): void {
    if (this.shutdownSignal?.aborted === true) call.abort(this.shutdownSignal.reason);
    else this.calls.add(call);
  }

  delete(call: LazySignal): void {
    this.calls.delete(call);
  }
}

/** The objects one call hands to the interceptor chain and the handler. */
export interface CallInit {
  route: Route;
  signal: LazySignal;
  requestHeader: LightHeaders;
  values: ContextValues;
  deadlineAt: number | undefined;
  protocolName: string;
  /** Host and path of the request URL, which is only built if someone reads it. */
  authority: string;
  path: string;
  message: unknown;
}

/**
 * A call's HandlerContext, with its lazily made parts as prototype getters
 * rather than per-call closures (an object literal with getters cost over a
 * kilobyte per call in allocation profiles).
 */
class CallContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod = "POST";
  readonly requestHeader: Headers;
  readonly responseHeader: Headers;
  readonly responseTrailer: Headers;
  readonly protocolName: string;
  readonly values: ContextValues;

  constructor(
    init: CallInit,
    responseHeader: LightHeaders,
    responseTrailer: LightHeaders,
  ) {
    this.method = init.route.method;
    this.service = init.route.service;
    this.requestHeader = init.requestHeader.asHeaders();
    this.responseHeader = responseHeader.asHeaders();
    this.responseTrailer = responseTrailer.asHeaders();
    this.protocolName = init.protocolName;
    this.values = init.values;
    this.call = init.signal;
    this.deadlineAt = init.deadlineAt;
    this.authority = init.authority;
    this.path = init.path;
  }

  private readonly call: LazySignal;
  private readonly deadlineAt: number | undefined;
  private readonly authority: string;
  private readonly path: string;

  get signal(): AbortSignal {
    return this.call.signal;
  }

  // Connect declares this as a function property; a method on the prototype serves the same calls.
  timeoutMs(): number | undefined {
    return this.deadlineAt === undefined ? undefined : this.deadlineAt - Date.now();
  }

  get url(): string {
    return `http://${this.authority}${this.path}`;
  }
}

/** A unary call's request, sharing its lazily made parts with the context. Interceptors pass unary requests on as they are. */
class UnaryCallRequest {
  readonly stream = false;
  readonly requestMethod = "POST";
  readonly service: DescService;
  readonly method: DescMethod;
  readonly header: Headers;
  readonly contextValues: ContextValues;
  readonly [kContext]: CallContext;

  constructor(
    context: CallContext,
    readonly message: unknown,
  ) {
    this.service = context.service;
    this.method = context.method;
    this.header = context.requestHeader;
    this.contextValues = context.values;
    this[kContext] = context;
  }

  get url(): string {
    return this[kContext].url;
  }

  get signal(): AbortSignal {
    return this[kContext].signal;
  }
}

/** Builds a call's context and request, as Connect's handlers would. */
export function startCall(init: CallInit): { request: UnaryRequest | StreamRequest; responseHeader: LightHeaders; responseTrailer: LightHeaders } {
  const responseHeader = new LightHeaders();
  const responseTrailer = new LightHeaders();
  const context = new CallContext(init, responseHeader, responseTrailer);
  if (init.route.kind === "unary") {
    return { request: new UnaryCallRequest(context, init.message) as unknown as UnaryRequest, responseHeader, responseTrailer };
  }
  // Stream interceptors copy the request with a spread, which keeps own properties only: these getters must be own.
  const request = {
    stream: true,
    service: context.service,
    method: context.method,
    requestMethod: "POST",
    get url() {
      return context.url;
    },
    get signal() {
      return context.signal;
    },
    header: context.requestHeader,
    contextValues: init.values,
    message: singleMessage(init.message),
    [kContext]: context,
  };
  return { request: request as unknown as StreamRequest, responseHeader, responseTrailer };
}

/** Anything thrown past the interceptors (which already map domain errors) becomes INTERNAL, as Connect does. */
export function asConnectError(error: unknown): ConnectError {
  return error instanceof ConnectError ? error : new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** The request stream of a server-streaming call: its one message. */
async function* singleMessage<T>(message: T): AsyncGenerator<T> {
  yield message;
}

export function copyInto(source: Headers, target: Record<string, string>): Record<string, string> {
  if (source instanceof LightHeaders) return source.toObject(target);
  source.forEach((value, key) => {
    target[key] = value;
  });
  return target;
}
