import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChatMessageSchema, UserSchema, UserStatus } from "../../gen/user/user_pb.js";
import { chatLine, formatTable, parseStatus, userJson, userRow } from "./output.js";

const ann = create(UserSchema, { id: 12n, username: "ann", email: "ann@example.com", fullName: "Ann\nA", status: UserStatus.ACTIVE, roles: ["user", "admin"], createdAt: 1_700_000_000_000n });

describe("output", () => {
  it("prints users as canonical proto JSON, one line each", () => {
    expect(userJson(ann)).toBe(
      '{"id":"12","username":"ann","email":"ann@example.com","fullName":"Ann\\nA","createdAt":"1700000000000","status":"USER_STATUS_ACTIVE","roles":["user","admin"]}',
    );
  });

  it("aligns table columns and never lets a cell break a row", () => {
    const table = formatTable(["ID", "NAME"], [
      ["1", "a"],
      ["100", "b\nc"],
    ]);
    expect(table.split("\n")).toEqual(["ID   NAME", "1    a", "100  b c"]);
    expect(userRow(ann)).toEqual(["12", "ann", "ann@example.com", "Ann\nA", "active", "user,admin", "2023-11-14T22:13:20Z"]);
  });

  it("parses status words and full enum names", () => {
    expect(["active", "SUSPENDED", "user_status_deleted", "unspecified", "gone"].map(parseStatus)).toEqual([
      UserStatus.ACTIVE,
      UserStatus.SUSPENDED,
      UserStatus.DELETED,
      undefined,
      undefined,
    ]);
  });

  it("prints chat messages for a terminal", () => {
    const message = create(ChatMessageSchema, { id: 5n, fromUsername: "ann", toUserId: 0n, content: "hi", timestamp: 1_700_000_000_000n });
    expect(chatLine(message)).toBe("[22:13:20] #5 ann → everyone: hi");
  });
});
