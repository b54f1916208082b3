import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { callNext } from "./call-next.js";

const req = {} as never;

describe("callNext", () => {
  it("passes the next step's promise through untouched", async () => {
    const answer = Promise.resolve("ok");
    expect(callNext(() => answer, req)).toBe(answer);
    await expect(callNext(() => Promise.reject(new Error("late")), req)).rejects.toThrow("late");
  });

  it("turns a step that throws before returning a promise into a rejection, so interceptors see every failure alike", async () => {
    const thrown = new ConnectError("refused", Code.PermissionDenied);
    let result: Promise<unknown> | undefined;
    expect(() => {
      result = callNext(() => {
        throw thrown;
      }, req);
    }).not.toThrow();
    await expect(result).rejects.toBe(thrown);
  });
});
