// A client written the way the seed's client.js is meant to work: @grpc/grpc-js
// with @grpc/proto-loader (keepCase, longs and enums as strings, defaults), a
// bearer token in metadata, promises for unary calls and the client stream,
// callbacks for the bidi chat. It is an independent gRPC implementation that
// knows nothing of Connect, used to prove existing gRPC clients keep working.
"use strict";
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const loaderOptions = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

/** Loads package `user` from a proto file, as the seed does. */
function loadUserPackage(protoPath) {
  return grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, loaderOptions)).user;
}

class SeedStyleClient {
  constructor(protoPath, address) {
    const pkg = loadUserPackage(protoPath);
    this.stub = new pkg.UserService(address, grpc.credentials.createInsecure());
    this.token = undefined;
  }

  setAuthToken(token) {
    this.token = token;
  }

  metadata() {
    const md = new grpc.Metadata();
    if (this.token) md.add("authorization", `Bearer ${this.token}`);
    return md;
  }

  unary(method, request) {
    return new Promise((resolve, reject) => {
      this.stub[method](request, this.metadata(), (error, response) => (error ? reject(error) : resolve(response)));
    });
  }

  getUser(userId, fields = []) {
    return this.unary("getUser", { user_id: userId, fields });
  }

  createUser(data) {
    return this.unary("createUser", data);
  }

  updateUser(userId, updates) {
    return this.unary("updateUser", { user_id: userId, ...updates });
  }

  deleteUser(userId, softDelete = true) {
    return this.unary("deleteUser", { user_id: userId, soft_delete: softDelete });
  }

  listUsers(filters = {}) {
    return new Promise((resolve, reject) => {
      const users = [];
      const call = this.stub.listUsers(filters, this.metadata());
      call.on("data", (u) => users.push(u));
      call.on("end", () => resolve(users));
      call.on("error", reject);
    });
  }

  batchCreateUsers(items) {
    return new Promise((resolve, reject) => {
      const call = this.stub.batchCreateUsers(this.metadata(), (error, response) => (error ? reject(error) : resolve(response)));
      for (const item of items) call.write(item);
      call.end();
    });
  }

  createChatSession() {
    const call = this.stub.userChat(this.metadata());
    return {
      sendMessage: (m) => call.write(m),
      onMessage: (cb) => call.on("data", cb),
      onError: (cb) => call.on("error", cb),
      onEnd: (cb) => call.on("end", cb),
      end: () => call.end(),
    };
  }

  close() {
    this.stub.close();
  }
}

/** Logs in through AuthService with grpc-js too; the seed has no login RPC, so this is the one addition a seed client needs. */
function grpcLogin(authProtoPath, includeDir, address, username, password) {
  const def = protoLoader.loadSync(authProtoPath, { ...loaderOptions, includeDirs: [includeDir] });
  const pkg = grpc.loadPackageDefinition(def).user;
  const stub = new pkg.AuthService(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    stub.login({ username, password }, (error, response) => {
      stub.close();
      return error ? reject(error) : resolve(response);
    });
  });
}

module.exports = { SeedStyleClient, grpcLogin };
