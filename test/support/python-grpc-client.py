"""An independent gRPC client (grpcio, the C-core implementation) for the tests.

It knows no generated code: the Node test hands it serialized request bytes
(hex) and gets back response bytes, status codes and trailing metadata as JSON.
"""
import json
import sys

import grpc


def identity(b):
    return b


def main():
    address, token, plan = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    metadata = [("authorization", "Bearer " + token)] if token else []
    results = []
    with grpc.insecure_channel(address) as channel:
        for step in plan:
            kind, path = step["kind"], step["path"]
            requests = [bytes.fromhex(h) for h in step["requests"]]
            try:
                if kind == "unary":
                    call = channel.unary_unary(path, request_serializer=identity, response_deserializer=identity)
                    response, info = call.with_call(requests[0], metadata=metadata, timeout=10)
                    results.append({"code": 0, "responses": [response.hex()], "trailers": trailers(info)})
                elif kind == "server_stream":
                    call = channel.unary_stream(path, request_serializer=identity, response_deserializer=identity)
                    stream = call(requests[0], metadata=metadata, timeout=10)
                    responses = [r.hex() for r in stream]
                    results.append({"code": 0, "responses": responses, "trailers": trailers(stream)})
                elif kind == "bidi":
                    call = channel.stream_stream(path, request_serializer=identity, response_deserializer=identity)
                    stream = call(iter(requests), metadata=metadata, timeout=10)
                    responses = [r.hex() for r in stream]
                    results.append({"code": 0, "responses": responses, "trailers": trailers(stream)})
                else:
                    raise ValueError(kind)
            except grpc.RpcError as error:
                results.append({"code": error.code().value[0], "message": error.details(), "responses": [], "trailers": trailers(error)})
    print(json.dumps(results))


def trailers(call):
    out = {}
    for key, value in call.trailing_metadata() or ():
        out[key] = value.hex() if isinstance(value, bytes) else value
    return out


if __name__ == "__main__":
    main()
