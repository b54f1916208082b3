/**
 * gRPC server reflection (grpc.reflection.v1 and v1alpha) built on the
 * protobuf-es descriptors, so grpcurl, buf curl, Postman and friends can
 * discover and call this server without local .proto files.
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  toBinary,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type FileRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  ServerReflection as ServerReflectionV1,
  file_grpc_reflection_v1_reflection,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ServerReflectionV1alpha,
  file_grpc_reflection_v1alpha_reflection,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The implementations to mount: router.service(ServerReflectionV1, v1) and router.service(ServerReflectionV1alpha, v1alpha). */
export interface ReflectionServices {
  v1: ServiceImpl<typeof ServerReflectionV1>;
  v1alpha: ServiceImpl<typeof ServerReflectionV1alpha>;
}

/** What a reflection request asks, in the shape both protocol versions share. */
type ReflectionQuestion =
  | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
  | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
  | { case: undefined; value?: undefined };

/** What the server answers, in the shape both protocol versions share. */
type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/** Lookups over a fixed set of files, precomputed once because descriptors never change at run time. */
interface DescriptorIndex {
  readonly services: readonly string[];
  readonly filesByName: ReadonlyMap<string, DescFile>;
  readonly fileBySymbol: ReadonlyMap<string, DescFile>;
  readonly messages: ReadonlyMap<string, DescMessage>;
  /** Extendee type name → extension number → declaring file. */
  readonly extensions: ReadonlyMap<string, ReadonlyMap<number, DescFile>>;
  /** Serialized FileDescriptorProto of each file, keyed by file name. */
  readonly encoded: ReadonlyMap<string, Uint8Array>;
}

/**
 * Create both reflection services over the given files (their imports are
 * followed, and the reflection protos themselves are always included);
 * list_services answers exactly `serviceNames`, each of which must be
 * declared in those files.
 */
export function createReflectionServices(
  files: FileRegistry | Iterable<DescFile>,
  serviceNames: readonly string[],
): ReflectionServices {
  const index = buildIndex(files, serviceNames);
  const answer = (question: ReflectionQuestion): ReflectionAnswer => answerQuestion(index, question);
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield { validHost: request.host, originalRequest: request, messageResponse: answer(request.messageRequest) };
        }
      },
    },
    v1alpha: {
      async *serverReflectionInfo(requests) {
        for await (const request of requests) {
          yield { validHost: request.host, originalRequest: request, messageResponse: answer(request.messageRequest) };
        }
      },
    },
  };
}

/** gRPC's NOT_FOUND, which the reflection protocol carries as a plain int32 in error_response. */
const notFound = (message: string): ReflectionAnswer => ({
  case: "errorResponse",
  value: { errorCode: Code.NotFound, errorMessage: message },
});

/** Answer one reflection request; throws INVALID_ARGUMENT (ending the stream) when no request kind is set, as grpc-go does. */
function answerQuestion(index: DescriptorIndex, question: ReflectionQuestion): ReflectionAnswer {
  switch (question.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename": {
      const file = index.filesByName.get(question.value);
      return file ? fileAnswer(index, file) : notFound(`file not found: ${question.value}`);
    }
    case "fileContainingSymbol": {
      const file = index.fileBySymbol.get(question.value);
      return file ? fileAnswer(index, file) : notFound(`symbol not found: ${question.value}`);
    }
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = question.value;
      const file = index.extensions.get(containingType)?.get(extensionNumber);
      return file
        ? fileAnswer(index, file)
        : notFound(`extension not found: ${containingType} field ${extensionNumber}`);
    }
    case "allExtensionNumbersOfType": {
      if (!index.messages.has(question.value)) return notFound(`message type not found: ${question.value}`);
      const numbers = [...(index.extensions.get(question.value)?.keys() ?? [])].sort((a, b) => a - b);
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: question.value, extensionNumber: numbers },
      };
    }
    case undefined:
      throw new ConnectError("invalid reflection request: no message_request set", Code.InvalidArgument);
  }
}

/** The requested file first, then all its transitive imports, which clients like grpcurl need to link it. */
function fileAnswer(index: DescriptorIndex, file: DescFile): ReflectionAnswer {
  const fileDescriptorProto: Uint8Array[] = [];
  for (const f of withDependencies([file])) {
    const bytes = index.encoded.get(f.proto.name);
    if (bytes) fileDescriptorProto.push(bytes);
  }
  return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
}

/** The given files and everything they import, each once, depth-first in declaration order. */
function withDependencies(roots: Iterable<DescFile>): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.proto.name)) return;
    seen.set(file.proto.name, file);
    file.dependencies.forEach(visit);
  };
  for (const root of roots) visit(root);
  return [...seen.values()];
}

/** Index every symbol a reflection client may ask for; fails fast on a service name that no file declares. */
function buildIndex(input: FileRegistry | Iterable<DescFile>, serviceNames: readonly string[]): DescriptorIndex {
  const given = isFileRegistry(input) ? input.files : input;
  const files = withDependencies([
    ...given,
    file_grpc_reflection_v1_reflection,
    file_grpc_reflection_v1alpha_reflection,
  ]);
  const filesByName = new Map<string, DescFile>();
  const fileBySymbol = new Map<string, DescFile>();
  const messages = new Map<string, DescMessage>();
  const extensions = new Map<string, Map<number, DescFile>>();
  const encoded = new Map<string, Uint8Array>();
  const declaredServices = new Set<string>();

  for (const file of files) {
    filesByName.set(file.proto.name, file);
    // GenFile descriptors are embedded without json_name, dependency and
    // source info; protobuf-es restores the first two when it loads them, so
    // file.proto is complete apart from comments.
    encoded.set(file.proto.name, toBinary(FileDescriptorProtoSchema, file.proto));
    const add = (name: string): void => {
      fileBySymbol.set(name, file);
    };
    for (const service of file.services) {
      declaredServices.add(service.typeName);
      add(service.typeName);
      for (const method of service.methods) add(`${service.typeName}.${method.name}`);
    }
    const scope = file.proto.package;
    const addEnum = (e: DescEnum): void => {
      add(e.typeName);
      // Enum values are scoped beside their enum, not inside it (C++ scoping rules).
      const parentScope = e.parent?.typeName ?? scope;
      for (const value of e.values) add(parentScope === "" ? value.name : `${parentScope}.${value.name}`);
    };
    const addExtension = (ext: DescExtension): void => {
      add(ext.typeName);
      let byNumber = extensions.get(ext.extendee.typeName);
      if (byNumber === undefined) {
        byNumber = new Map();
        extensions.set(ext.extendee.typeName, byNumber);
      }
      byNumber.set(ext.number, file);
    };
    const addMessage = (message: DescMessage): void => {
      add(message.typeName);
      messages.set(message.typeName, message);
      for (const field of message.fields) add(`${message.typeName}.${field.name}`);
      // From the proto, so that synthetic oneofs of proto3 optional fields resolve too, as in protoc.
      for (const oneof of message.proto.oneofDecl) add(`${message.typeName}.${oneof.name}`);
      message.nestedMessages.forEach(addMessage);
      // protobuf-es hides synthesized map entry messages, but protoc and grpc-go resolve them as symbols.
      for (const nested of message.proto.nestedType) {
        if (nested.options?.mapEntry !== true) continue;
        const entry = `${message.typeName}.${nested.name}`;
        add(entry);
        for (const field of nested.field) add(`${entry}.${field.name}`);
      }
      message.nestedEnums.forEach(addEnum);
      message.nestedExtensions.forEach(addExtension);
    };
    file.messages.forEach(addMessage);
    file.enums.forEach(addEnum);
    file.extensions.forEach(addExtension);
  }

  const unknown = serviceNames.filter((name) => !declaredServices.has(name));
  if (unknown.length > 0) {
    throw new Error(`reflection: no descriptor for service(s) ${unknown.join(", ")}; pass the files that declare them`);
  }
  return { services: [...new Set(serviceNames)], filesByName, fileBySymbol, messages, extensions, encoded };
}

function isFileRegistry(input: FileRegistry | Iterable<DescFile>): input is FileRegistry {
  return "kind" in input && input.kind === "registry";
}
